/* Native kernels of the local runtime, in float and double: direct convolutions that read the
 * im2col patch matrix straight from the padded images instead of copying it out (conv_kernels.h
 * vectorised over filters, in an AVX-512 and an AVX2 version; row_conv_kernels.h over output
 * pixels); max pooling and its gradient, in vectors of windows where they tile the planes and
 * window by window elsewhere, instead of one numpy pass per window offset (pool_kernels.h,
 * pool_lanes.h); zero-padded copies of image planes for the convolutions (pad_kernels.h); and
 * the passes of the column sums (column_sums.h). This file holds the float kernels, the
 * column sums and the module; kernels_f64.c the double kernels (common.h: what both share).
 *
 * Called through ctypes (native.py), which releases the GIL for the call, so chunks of one
 * batch run on the kernel worker threads at once. The vector code uses GCC's vector extensions,
 * compiled for three x86-64 levels (AVX-512, AVX2+FMA, baseline SSE2) and picked by the CPU
 * at load time; other platforms build the portable version. numpy's kernels (conv.py,
 * pooling.py, aggregates.py) remain the reference: the tests run both and compare them.
 */
#include "common.h"
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

#include "column_sums.h"

/* Importable as a module too, so that native.py finds the library with the import system. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Native kernels, called through ctypes.", -1, NULL};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
