/* Which version of the vector kernels this CPU runs, for native.py's choice of convolution.
 *
 * The convolutions' register tiles (tiles.h: up to 12 x 4 accumulators of 64 bytes) fit the
 * 32 registers of AVX-512. With AVX2's 16 registers of 32 bytes, or in the portable build, the
 * same tiles spill to memory on every step, and im2col + BLAS is several times faster. */
#ifndef KERASDML_CPU_FEATURES_H
#define KERASDML_CPU_FEATURES_H

int wide_vector_registers(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v4");
#else
    return 0;
#endif
}

#endif
