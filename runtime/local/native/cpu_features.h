/* Which version of the vector kernels this CPU runs, for native.py's choice of convolution
 * (and the pool kernels' choice of vector width).
 *
 * The convolutions come in two versions (typed_kernels.h): register tiles of up to 24
 * accumulators of 64 bytes for AVX-512's 32 registers, and of 12 accumulators of 32 bytes for
 * AVX2's 16 (the wide tiles spill there). CPUs with neither, and the portable build, have no
 * fast version: there im2col + BLAS runs the convolutions. */
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

int narrow_vector_registers(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#endif
