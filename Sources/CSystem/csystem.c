#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include "csystem.h"

int tl_affinity_count(void) {
    // The kernel refuses (EINVAL) a mask smaller than its own CPU limit: grow until it fits.
    for (int n = 1024; n <= (1 << 20); n *= 2) {
        cpu_set_t *set = CPU_ALLOC(n);
        if (set == NULL) return -1;
        size_t size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            int count = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return count;
        }
        CPU_FREE(set);
        if (errno != EINVAL) return -1;
    }
    return -1;
}
