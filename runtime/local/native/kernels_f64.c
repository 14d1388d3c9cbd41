/* The double-precision kernels: typed_kernels.h for T = double (kernels.c has the float ones;
 * a translation unit of its own, so that the two compile at once). */
#include "common.h"
#include "tiles.h"

#define T double
#define INTEGER int64_t
#define LARGEST DBL_MAX
#define NAME(x) x##_f64
#include "typed_kernels.h"
#undef T
#undef INTEGER
#undef LARGEST
#undef NAME
