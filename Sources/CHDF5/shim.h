#pragma once
#include <hdf5.h>

// HDF5's type and flag constants are macros over globals or calls; Swift cannot import them.
static inline hid_t tl_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t tl_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t tl_H5T_C_S1(void) { return H5T_C_S1; }
static inline unsigned tl_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned tl_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hid_t tl_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline size_t tl_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t tl_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t tl_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t tl_H5E_DEFAULT(void) { return H5E_DEFAULT; }
