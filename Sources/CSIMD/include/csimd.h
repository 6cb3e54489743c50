#ifndef CSIMD_H
#define CSIMD_H

// x86 vector operations Swift cannot spell: its SIMD min/max either stay generic calls or, written
// as compare + select, keep NaN semantics that rule out vmaxps/vminps. Swift imports the
// ext_vector_type below as SIMD8<Float>; being static inline, each call compiles into the caller.
#include <immintrin.h>

typedef float csimd_float8 __attribute__((ext_vector_type(8)));

/// min(max(v, lo), hi) with vmaxps + vminps (a NaN in v comes out as lo).
static inline __attribute__((always_inline)) csimd_float8 csimd_clamp8(csimd_float8 v, csimd_float8 lo, csimd_float8 hi) {
    return (csimd_float8)_mm256_min_ps(_mm256_max_ps((__m256)v, (__m256)lo), (__m256)hi);
}

#endif
