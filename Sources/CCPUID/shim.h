// The x86 `cpuid` and `xgetbv` instructions for Swift, which has no inline assembly: header-only, using
// the compiler's own <cpuid.h>. Used once at start-up to pick the JSON parser (see CPUFeatures.swift).
#ifndef AUDITHOUND_CPUID_SHIM_H
#define AUDITHOUND_CPUID_SHIM_H
#if defined(__x86_64__)
#include <cpuid.h>

// Registers eax, ebx, ecx, edx of `cpuid` leaf `leaf`, sub-leaf `sub` into `regs`; 0 when the CPU has
// no such leaf.
static inline int audithound_cpuid(unsigned int leaf, unsigned int sub, unsigned int regs[4]) {
    return __get_cpuid_count(leaf, sub, &regs[0], &regs[1], &regs[2], &regs[3]);
}

// The low 32 bits of extended control register `index` (`xgetbv`); only valid when cpuid reports OSXSAVE.
static inline unsigned int audithound_xgetbv(unsigned int index) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(index));
    return eax;
}
#endif
#endif
