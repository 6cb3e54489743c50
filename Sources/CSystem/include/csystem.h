#pragma once

/// CPUs in the calling thread's affinity mask (sched_getaffinity + CPU_COUNT_S, which are
/// glibc macros Swift cannot import), or -1 when it cannot be read.
int tl_affinity_count(void);
