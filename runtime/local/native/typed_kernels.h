/* Every vector kernel for one element type: kernels.c includes this once per type, with T
 * (float or double), LARGEST (its largest finite value) and NAME(x) (x with the type's suffix)
 * defined. The vectors are 64 bytes (VL lanes); VU is the same vector at T's alignment, for
 * loads and stores at any element. */
#define V NAME(vector)
#define VU NAME(unaligned_vector)
#define VL ((int)(64 / sizeof(T)))
typedef T V __attribute__((vector_size(64)));
typedef T VU __attribute__((vector_size(64), aligned(sizeof(T))));
static const T NAME(largest) = LARGEST;
static const T NAME(not_a_number) = NAN;

#include "conv_kernels.h"
#include "row_conv_kernels.h"
#include "pool_kernels.h"
#include "depthwise_kernels.h"

#undef V
#undef VU
#undef VL
