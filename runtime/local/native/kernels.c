/* Native kernels of the local runtime, in float and double: direct convolutions that read the
 * im2col patch matrix straight from the padded images instead of copying it out (conv_kernels.h
 * vectorised over filters, in an AVX-512 and an AVX2 version; row_conv_kernels.h over output
 * pixels); max pooling and its gradient, in vectors of windows where they tile the planes and
 * window by window elsewhere, instead of one numpy pass per window offset (pool_kernels.h,
 * pool_lanes.h); zero-padded copies of image planes for the convolutions (pad_kernels.h); and
 * the passes of the column sums (column_sums.h).
 *
 * Called through ctypes (native.py), which releases the GIL for the call, so chunks of one
 * batch run on the kernel worker threads at once. The vector code uses GCC's vector extensions,
 * compiled for three x86-64 levels (AVX-512, AVX2+FMA, baseline SSE2) and picked by the CPU
 * at load time; other platforms build the portable version. numpy's kernels (conv.py,
 * pooling.py, aggregates.py) remain the reference: the tests run both and compare them.
 */
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define NARROW_TARGET __attribute__((target("avx2,fma")))
#else
#define CLONES
#define NARROW_TARGET
#endif
#define ALWAYS_INLINE __attribute__((always_inline))

/* Patch rows per pass of the filter gradient: their dout rows (48 KB of float at Fp = 64)
 * stay in the L1/L2 cache while every kernel-offset row of the gradient reads them. */
#define FILTER_ROWS_PER_PASS 192

/* One chunk's geometry, laid out as the int64 array native.py passes. */
struct geometry {
    long n, Hp, Wp, C, kh, kw, sh, sw, Ho, Wo, Fp, F;    /* F filters, Fp: padded to vectors */
    long relu;     /* forward kernels: store max(v, 0) (numpy's bits: NaN stays, -0 gives +0) */
};

/* A pooling call's geometry: planes = images * channels. */
struct pool_geometry {
    long planes, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo;
};

/* A pad_planes call's geometry: Wp is the padded row stride, W + 2 pw or more. */
struct pad_geometry {
    long planes, H, W, ph, pw, Hp, Wp;
};

/* Offset of patch row p = (image, y, x) in the padded channel-major chunk. */
static inline long patch_start(const struct geometry *g, long p)
{
    const long x = p % g->Wo, y = (p / g->Wo) % g->Ho, image = p / (g->Wo * g->Ho);
    return image * g->C * g->Hp * g->Wp + y * g->sh * g->Wp + x * g->sw;
}

/* Offset of patch column k = (c, i, j) from its row's start. */
static inline long patch_offset(const struct geometry *g, long k)
{
    const long j = k % g->kw, i = (k / g->kw) % g->kh, c = k / (g->kw * g->kh);
    return (c * g->Hp + i) * g->Wp + j;
}

#include "tiles.h"
#include "cpu_features.h"

#define T float
#define INTEGER int32_t
#define LARGEST FLT_MAX
#define NAME(x) x##_f32
#include "typed_kernels.h"
#undef T
#undef INTEGER
#undef LARGEST
#undef NAME

#define T double
#define INTEGER int64_t
#define LARGEST DBL_MAX
#define NAME(x) x##_f64
#include "typed_kernels.h"
#undef T
#undef INTEGER
#undef LARGEST
#undef NAME

#include "column_sums.h"

/* Importable as a module too, so that native.py finds the library with the import system. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Native kernels, called through ctypes.", -1, NULL};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
