/* Every vector kernel for one element type: kernels.c includes this once per type, with T
 * (float or double), INTEGER (a signed integer of its size), LARGEST (its largest finite
 * value) and NAME(x) (x with the type's suffix) defined. The vectors are 64 bytes (VL lanes);
 * VU is the same vector at T's alignment, for loads and stores at any element.
 *
 * The direct convolutions come twice: with 64-byte vectors and tiles for AVX-512's 32
 * registers (conv_forward_f32, ...), and with 32-byte vectors and tiles for AVX2's 16
 * (conv_forward_narrow_f32, ...), which CPUs without AVX-512 run (cpu_features.h says which). */
#define V NAME(vector)
#define VU NAME(unaligned_vector)
#define VL ((int)(64 / sizeof(T)))
typedef T V __attribute__((vector_size(64)));
typedef T VU __attribute__((vector_size(64), aligned(sizeof(T))));
static const T NAME(largest) = LARGEST;
static const T NAME(not_a_number) = NAN;

/* MR rows x NV vectors per tile, about 24 accumulators */
#define FOR_TILE_SHAPE(NV_, CALL)            \
    switch (NV_) {                            \
    case 4: CALL(6, 4); break;                \
    case 3: CALL(8, 3); break;                \
    case 2: CALL(12, 2); break;               \
    default: CALL(12, 1); break;              \
    }
#define KERNEL(x) NAME(x)
#define KERNEL_TARGET CLONES
#include "conv_kernels.h"
#undef FOR_TILE_SHAPE
#undef KERNEL
#undef KERNEL_TARGET

#include "sparse_conv_kernels.h"
#include "pool_kernels.h"           /* before the row kernels, which pool with its scan */
#include "row_conv_kernels.h"
#include "avg_pool_kernels.h"
#include "pad_kernels.h"
#include "clamp_kernels.h"
#include "gelu_kernels.h"
#include "optimizer_kernels.h"
#include "depthwise_kernels.h"

#undef V
#undef VU
#undef VL

/* The narrow version: 32-byte vectors, MR*NV = 12 accumulators (and the weight vectors and
 * one broadcast beside them) in AVX2's 16 registers. */
#define V NAME(narrow_vector)
#define VU NAME(narrow_unaligned_vector)
#define VL ((int)(32 / sizeof(T)))
typedef T V __attribute__((vector_size(32)));
typedef T VU __attribute__((vector_size(32), aligned(sizeof(T))));
#define FOR_TILE_SHAPE(NV_, CALL)            \
    switch (NV_) {                            \
    case 4: CALL(3, 4); break;                \
    case 3: CALL(4, 3); break;                \
    case 2: CALL(6, 2); break;                \
    default: CALL(12, 1); break;              \
    }
#define KERNEL(x) NAME(x##_narrow)
#define KERNEL_TARGET NARROW_TARGET
#include "conv_kernels.h"
#undef FOR_TILE_SHAPE
#undef KERNEL
#undef KERNEL_TARGET
#undef V
#undef VU
#undef VL
