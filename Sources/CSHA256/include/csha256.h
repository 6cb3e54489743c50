#ifndef CSHA256_H
#define CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// The 64 round constants of FIPS 180-4 section 4.2.2, shared with the portable Swift rounds.
const uint32_t *csha256_round_constants(void);

/// 1 when this CPU has the SHA extensions (x86 SHA-NI with SSE4.1), else 0.
int csha256_hardware_available(void);

/// Runs `blocks` 64-byte blocks of SHA-256 compression on `state` (a, b, ..., h) with the SHA
/// instructions. Call only when csha256_hardware_available() is 1.
void csha256_compress_hardware(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
