#pragma once
#include <stddef.h>

/* libhdf5's declarations and types. Debian and Ubuntu keep the serial build's headers apart. */
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif

/* libhdf5 is opened with dlopen on first use, not linked: it brings about thirty libraries (curl, TLS,
   Kerberos, LDAP) whose loading and symbol binding cost every tlearn process milliseconds at start, and
   most commands never read an .h5 file. The H5 functions tlearn calls are these `tl_` wrappers;
   calling libhdf5's own names instead fails at link time. */

/* Opens libhdf5 (once; safe from any thread): 0, or -1 with a one-line reason in `message`. Call it
   before any other function here. */
int tl_hdf5_open(char *message, size_t size);

/* Every libhdf5 function tlearn calls: return type, name, parameters, arguments. A name may be a macro
   of libhdf5's API versioning (H5Lvisit is H5Lvisit2 from 1.12 on): the wrapper keeps the plain name
   and resolves the versioned symbol. */
#define TL_HDF5_FUNCTIONS(X) \
    X(herr_t, H5Eset_auto2, (hid_t estack_id, H5E_auto2_t func, void *client_data), (estack_id, func, client_data)) \
    X(hid_t, H5Fopen, (const char *filename, unsigned flags, hid_t fapl_id), (filename, flags, fapl_id)) \
    X(herr_t, H5Fclose, (hid_t file_id), (file_id)) \
    X(hid_t, H5Fcreate, (const char *filename, unsigned flags, hid_t fcpl_id, hid_t fapl_id), (filename, flags, fcpl_id, fapl_id)) \
    X(herr_t, H5Ewalk2, (hid_t err_stack, H5E_direction_t direction, H5E_walk2_t func, void *client_data), (err_stack, direction, func, client_data)) \
    X(herr_t, H5Eclear2, (hid_t err_stack), (err_stack)) \
    X(htri_t, H5Lexists, (hid_t loc_id, const char *name, hid_t lapl_id), (loc_id, name, lapl_id)) \
    X(hid_t, H5Gopen2, (hid_t loc_id, const char *name, hid_t gapl_id), (loc_id, name, gapl_id)) \
    X(herr_t, H5Gclose, (hid_t group_id), (group_id)) \
    X(hid_t, H5Gcreate2, (hid_t loc_id, const char *name, hid_t lcpl_id, hid_t gcpl_id, hid_t gapl_id), (loc_id, name, lcpl_id, gcpl_id, gapl_id)) \
    X(herr_t, H5Lvisit, (hid_t grp_id, H5_index_t idx_type, H5_iter_order_t order, H5L_iterate_t op, void *op_data), (grp_id, idx_type, order, op, op_data)) \
    X(hid_t, H5Oopen, (hid_t loc_id, const char *name, hid_t lapl_id), (loc_id, name, lapl_id)) \
    X(herr_t, H5Oclose, (hid_t object_id), (object_id)) \
    X(H5I_type_t, H5Iget_type, (hid_t id), (id)) \
    X(htri_t, H5Aexists_by_name, (hid_t obj_id, const char *obj_name, const char *attr_name, hid_t lapl_id), (obj_id, obj_name, attr_name, lapl_id)) \
    X(hid_t, H5Aopen_by_name, (hid_t loc_id, const char *obj_name, const char *attr_name, hid_t aapl_id, hid_t lapl_id), (loc_id, obj_name, attr_name, aapl_id, lapl_id)) \
    X(herr_t, H5Aclose, (hid_t attr_id), (attr_id)) \
    X(hid_t, H5Aget_type, (hid_t attr_id), (attr_id)) \
    X(herr_t, H5Tclose, (hid_t type_id), (type_id)) \
    X(H5T_class_t, H5Tget_class, (hid_t type_id), (type_id)) \
    X(hid_t, H5Aget_space, (hid_t attr_id), (attr_id)) \
    X(herr_t, H5Sclose, (hid_t space_id), (space_id)) \
    X(hssize_t, H5Sget_simple_extent_npoints, (hid_t space_id), (space_id)) \
    X(htri_t, H5Tis_variable_str, (hid_t type_id), (type_id)) \
    X(hid_t, H5Tcopy, (hid_t type_id), (type_id)) \
    X(herr_t, H5Tset_size, (hid_t type_id, size_t size), (type_id, size)) \
    X(herr_t, H5Tset_cset, (hid_t type_id, H5T_cset_t cset), (type_id, cset)) \
    X(H5T_cset_t, H5Tget_cset, (hid_t type_id), (type_id)) \
    X(herr_t, H5Aread, (hid_t attr_id, hid_t type_id, void *buf), (attr_id, type_id, buf)) \
    X(herr_t, H5Dvlen_reclaim, (hid_t type_id, hid_t space_id, hid_t dxpl_id, void *buf), (type_id, space_id, dxpl_id, buf)) \
    X(size_t, H5Tget_size, (hid_t type_id), (type_id)) \
    X(H5T_str_t, H5Tget_strpad, (hid_t type_id), (type_id)) \
    X(hid_t, H5Dopen2, (hid_t loc_id, const char *name, hid_t dapl_id), (loc_id, name, dapl_id)) \
    X(herr_t, H5Dclose, (hid_t dset_id), (dset_id)) \
    X(hid_t, H5Dget_space, (hid_t dset_id), (dset_id)) \
    X(int, H5Sget_simple_extent_ndims, (hid_t space_id), (space_id)) \
    X(int, H5Sget_simple_extent_dims, (hid_t space_id, hsize_t dims[], hsize_t maxdims[]), (space_id, dims, maxdims)) \
    X(hid_t, H5Dget_type, (hid_t dset_id), (dset_id)) \
    X(herr_t, H5Dread, (hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id, hid_t dxpl_id, void *buf), (dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id, buf)) \
    X(hid_t, H5Screate_simple, (int rank, const hsize_t dims[], const hsize_t maxdims[]), (rank, dims, maxdims)) \
    X(hid_t, H5Dcreate2, (hid_t loc_id, const char *name, hid_t type_id, hid_t space_id, hid_t lcpl_id, hid_t dcpl_id, hid_t dapl_id), (loc_id, name, type_id, space_id, lcpl_id, dcpl_id, dapl_id)) \
    X(herr_t, H5Dwrite, (hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id, hid_t dxpl_id, const void *buf), (dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id, buf)) \
    X(herr_t, H5Tset_strpad, (hid_t type_id, H5T_str_t strpad), (type_id, strpad)) \
    X(hid_t, H5Screate, (H5S_class_t type), (type)) \
    X(hid_t, H5Acreate_by_name, (hid_t loc_id, const char *obj_name, const char *attr_name, hid_t type_id, hid_t space_id, hid_t acpl_id, hid_t aapl_id, hid_t lapl_id), (loc_id, obj_name, attr_name, type_id, space_id, acpl_id, aapl_id, lapl_id)) \
    X(herr_t, H5Awrite, (hid_t attr_id, hid_t type_id, const void *buf), (attr_id, type_id, buf))

#define TL_HDF5_DECLARE(ret, name, params, args) ret tl_##name params;
TL_HDF5_FUNCTIONS(TL_HDF5_DECLARE)
#undef TL_HDF5_DECLARE

/* HDF5's constants are macros Swift cannot import. The type ids are library globals, read after H5open.
   The file-access flags are written out: their macros call H5check_version and H5open (H5Fpublic.h),
   which would link libhdf5. */
hid_t tl_H5T_NATIVE_FLOAT(void);
hid_t tl_H5T_C_S1(void);
hid_t tl_H5T_IEEE_F32LE(void);
static inline unsigned tl_H5F_ACC_RDONLY(void) { return 0x0000u; }
static inline unsigned tl_H5F_ACC_EXCL(void) { return 0x0004u; }
static inline size_t tl_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t tl_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t tl_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t tl_H5E_DEFAULT(void) { return H5E_DEFAULT; }
