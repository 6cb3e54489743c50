#include "chdf5.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define TL_STR(s) #s
#define TL_XSTR(s) TL_STR(s)

static struct {
#define TL_HDF5_POINTER(ret, name, params, args) ret(*name) params;
    TL_HDF5_FUNCTIONS(TL_HDF5_POINTER)
#undef TL_HDF5_POINTER
    hid_t native_float, c_s1, ieee_f32le;
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[640];

/* The unversioned name first: libhdf5-dev's link, the very library the headers describe. Then the
   runtime packages' names of the 1.10, 1.12 and 1.14 series, serial build first (Debian and Ubuntu
   name it apart). Whatever opens must be the series the headers are, or it is passed over. */
static const char *const names[] = {
    "libhdf5_serial.so",     "libhdf5_serial.so.103", "libhdf5_serial.so.200", "libhdf5_serial.so.310",
    "libhdf5.so",            "libhdf5.so.103",        "libhdf5.so.200",        "libhdf5.so.310",
};

/* Resolves every symbol from `handle`: 0, or -1 with the missing one in `failure`. */
static int resolve(void *handle, const char *name) {
#define TL_HDF5_RESOLVE(ret, fn, params, args)                                                              \
    if (!(*(void **)&api.fn = dlsym(handle, TL_XSTR(fn)))) {                                                \
        snprintf(failure, sizeof failure, "%s has no symbol %s", name, TL_XSTR(fn));                       \
        return -1;                                                                                         \
    }
    TL_HDF5_FUNCTIONS(TL_HDF5_RESOLVE)
#undef TL_HDF5_RESOLVE
    herr_t (*open)(void) = 0;
    *(void **)&open = dlsym(handle, "H5open");
    const hid_t *native_float = dlsym(handle, "H5T_NATIVE_FLOAT_g");
    const hid_t *c_s1 = dlsym(handle, "H5T_C_S1_g");
    const hid_t *ieee_f32le = dlsym(handle, "H5T_IEEE_F32LE_g");
    if (!open || !native_float || !c_s1 || !ieee_f32le) {
        snprintf(failure, sizeof failure, "%s lacks H5open or the H5T type globals", name);
        return -1;
    }
    if (open() < 0) {
        snprintf(failure, sizeof failure, "H5open failed in %s", name);
        return -1;
    }
    api.native_float = *native_float;
    api.c_s1 = *c_s1;
    api.ieee_f32le = *ieee_f32le;
    return 0;
}

static void load(void) {
    char first[320] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            if (!first[0]) snprintf(first, sizeof first, "%s", dlerror());
            continue;
        }
        herr_t (*version)(unsigned *, unsigned *, unsigned *) = 0;
        *(void **)&version = dlsym(handle, "H5get_libversion");
        unsigned major = 0, minor = 0, release = 0;
        if (!version || version(&major, &minor, &release) < 0 || major != H5_VERS_MAJOR || minor != H5_VERS_MINOR) {
            if (!first[0])
                snprintf(first, sizeof first, "%s is HDF5 %u.%u, tlearn was built with %d.%d", names[i], major,
                         minor, H5_VERS_MAJOR, H5_VERS_MINOR);
            dlclose(handle);
            continue;
        }
        if (resolve(handle, names[i]) == 0) failure[0] = 0;
        return;
    }
    snprintf(failure, sizeof failure, "cannot load libhdf5 %d.%d (%s): install its runtime package (Debian: libhdf5-dev)",
             H5_VERS_MAJOR, H5_VERS_MINOR, first);
}

int tl_hdf5_open(char *message, size_t size) {
    pthread_once(&once, load);
    if (!failure[0]) return 0;
    snprintf(message, size, "%s", failure);
    return -1;
}

#define TL_HDF5_DEFINE(ret, name, params, args) \
    ret tl_##name params { return api.name args; }
TL_HDF5_FUNCTIONS(TL_HDF5_DEFINE)
#undef TL_HDF5_DEFINE

hid_t tl_H5T_NATIVE_FLOAT(void) { return api.native_float; }
hid_t tl_H5T_C_S1(void) { return api.c_s1; }
hid_t tl_H5T_IEEE_F32LE(void) { return api.ieee_f32le; }
