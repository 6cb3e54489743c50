// Everything is static inline in include/csimd.h; SwiftPM wants one source file per C target.
#include "csimd.h"
