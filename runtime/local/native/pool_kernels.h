/* max_pool and max_pool_backward for one element type, included once per type by typed_kernels.h
 * (T, NAME(x)).
 *
 * Planes are the H x W channels of the images, one after another (DML's N x C*H*W rows).
 * A window's maximum propagates NaN (as numpy's maximum); padding cells hold -max(T). Its
 * gradient goes to its first maximum in row-major order, as SystemDS does: padding cells take
 * nothing, so a window whose first maximum is padding drops its gradient, and a window holding
 * NaN matches no cell. Windows that overlap add their gradients to the cells they pick.
 * The backward pass can fold in a relu's gradient: given the relu's input (signs), each cell's
 * gradient is multiplied by (sign > 0), as numpy multiplies by the comparison.
 *
 * Every scan keeps the first maximum with a strict comparison (a select, not a branch: maxima
 * of real data are unpredictable). Windows that tile the plane (stride = pool size, no padding)
 * are scanned without positions, the 2 x 2 ones (the usual pool) in vectors of windows
 * (pool_lanes.h); the others scan window by window, with bounds checks only for windows that
 * reach into the padding.
 */
struct NAME(window) {
    long first;        /* the first maximum's cell in the plane; -1: a padding cell */
    T best;
    int nan;
};

static inline ALWAYS_INLINE struct NAME(window) NAME(scan_inside)(
    const T *plane, long W, long top, long left, long kh, long kw)
{
    struct NAME(window) w = {top * W + left, plane[top * W + left], 0};
    for (long i = 0; i < kh; i++) {
        for (long j = 0; j < kw; j++) {
            const long at = (top + i) * W + left + j;
            const T v = plane[at];
            w.nan |= v != v;
            w.first = v > w.best ? at : w.first;
            w.best = v > w.best ? v : w.best;
        }
    }
    return w;
}

static inline ALWAYS_INLINE struct NAME(window) NAME(scan)(const T *plane, const struct pool_geometry *g,
                                                           long top, long left)
{
    const long H = g->H, W = g->W;
    if (top >= 0 && left >= 0 && top + g->kh <= H && left + g->kw <= W)
        return NAME(scan_inside)(plane, W, top, left, g->kh, g->kw);
    const T padding = -NAME(largest);
    struct NAME(window) w = {-1, padding, 0};
    int started = 0;
    for (long i = top; i < top + g->kh; i++) {
        for (long j = left; j < left + g->kw; j++) {
            const int inside = i >= 0 && i < H && j >= 0 && j < W;
            const long at = inside ? i * W + j : -1;
            const T v = inside ? plane[at] : padding;
            w.nan |= v != v;
            if (!started || v > w.best) {
                w.first = at;
                w.best = v;
                started = 1;
            }
        }
    }
    return w;
}

/* The maximum of a window that lies inside the plane (cell: its top-left cell), and whether
 * it holds NaN: the scan without the position. */
static inline ALWAYS_INLINE T NAME(tile_max)(const T *cell, long W, long kh, long kw, int *nan)
{
    T best = cell[0];
    int found_nan = 0;
    for (long i = 0; i < kh; i++) {
        for (long j = 0; j < kw; j++) {
            const T v = cell[i * W + j];
            found_nan |= v != v;
            best = v > best ? v : best;
        }
    }
    *nan = found_nan;
    return best;
}

#define LANES 8
#define LANED(x) NAME(x##_by8)
#include "pool_lanes.h"
#undef LANES
#undef LANED
#define LANES 4
#define LANED(x) NAME(x##_by4)
#include "pool_lanes.h"
#undef LANES
#undef LANED
#define LANES 2
#define LANED(x) NAME(x##_by2)
#include "pool_lanes.h"
#undef LANES
#undef LANED

static inline ALWAYS_INLINE int NAME(tiled)(const struct pool_geometry *g)
{
    return g->sh == g->kh && g->sw == g->kw && g->ph == 0 && g->pw == 0;
}

/* Windows per vector for tiled 2 x 2 windows: vectors of 32 bytes where the CPU has AVX2
 * (wide), else of 16 (GCC's code for wider vectors than the CPU's is slower than scalar code,
 * and so is its AVX-512 code for 8 doubles), or half that for rows of fewer windows; 0 where
 * the windows are not 2 x 2 or a row holds too few for a vector of 16 bytes. */
static inline ALWAYS_INLINE int NAME(lanes)(const struct pool_geometry *g, int wide)
{
    int lanes = (wide ? 32 : 16) / (int)sizeof(T);
    if (lanes > g->Wo && lanes * sizeof(T) > 16)
        lanes /= 2;
    return g->kh == 2 && g->kw == 2 && lanes <= g->Wo ? lanes : 0;
}

static inline ALWAYS_INLINE void NAME(tiled_forward)(const T *xk, T *ok, const struct pool_geometry *g,
                                                     int lanes)
{
    switch (lanes) {
    case 8: NAME(forward_by8)(xk, ok, g); return;
    case 4: NAME(forward_by4)(xk, ok, g); return;
    case 2: NAME(forward_by2)(xk, ok, g); return;
    }
    for (long yo = 0; yo < g->Ho; yo++) {
        for (long xo = 0; xo < g->Wo; xo++) {
            int nan;
            const T best = NAME(tile_max)(xk + yo * g->kh * g->W + xo * g->kw, g->W, g->kh,
                                          g->kw, &nan);
            ok[yo * g->Wo + xo] = nan ? NAME(not_a_number) : best;
        }
    }
}

CLONES int NAME(max_pool)(const T *x, T *out, const struct pool_geometry *g)
{
    const long plane = g->H * g->W, windows = g->Ho * g->Wo;
    const int tiled = NAME(tiled)(g), lanes = NAME(lanes)(g, narrow_vector_registers());
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * plane;
        T *ok = out + k * windows;
        if (tiled) {
            NAME(tiled_forward)(xk, ok, g, lanes);
            continue;
        }
        for (long yo = 0; yo < g->Ho; yo++) {
            for (long xo = 0; xo < g->Wo; xo++) {
                const struct NAME(window) w =
                    NAME(scan)(xk, g, yo * g->sh - g->ph, xo * g->sw - g->pw);
                ok[yo * g->Wo + xo] = w.nan ? NAME(not_a_number) : w.best;
            }
        }
    }
    return 0;
}

/* The gradient of tiled windows, written once per cell: after the window's maximum, its cells
 * in row-major order take the gradient while none has (taken starts set for a window holding
 * NaN, which places nothing); times (sign > 0) with relu. The 2 x 2 windows go in vectors
 * (relu: a constant in each inlined copy, so that their loops hold no test of it). */
static inline ALWAYS_INLINE void NAME(tiled_backward)(const T *xk, const T *dk, const T *sk, T *gk,
                                                      const struct pool_geometry *g, int lanes,
                                                      int relu)
{
    const long W = g->W, kh = g->kh, kw = g->kw;
    switch (lanes) {
    case 8: NAME(backward_by8)(xk, dk, sk, gk, g, relu); return;
    case 4: NAME(backward_by4)(xk, dk, sk, gk, g, relu); return;
    case 2: NAME(backward_by2)(xk, dk, sk, gk, g, relu); return;
    }
    for (long yo = 0; yo < g->Ho; yo++) {
        for (long xo = 0; xo < g->Wo; xo++) {
            const long left = yo * kh * W + xo * kw;
            int taken;
            const T best = NAME(tile_max)(xk + left, W, kh, kw, &taken);
            const T gradient = dk[yo * g->Wo + xo];
            for (long i = 0; i < kh; i++) {
                for (long j = 0; j < kw; j++) {
                    const long at = left + i * W + j;
                    const int hit = !taken && xk[at] == best;
                    taken |= hit;
                    gk[at] = hit ? gradient : 0;
                    if (relu)
                        gk[at] *= (T)(sk[at] > 0);
                }
            }
        }
    }
}

/* Zero the cells past the last tiled window (H or W not a multiple of the pool). */
static inline ALWAYS_INLINE void NAME(clear_uncovered)(T *gk, const struct pool_geometry *g)
{
    const long W = g->W, rows = g->Ho * g->kh;
    for (long r = 0; r < rows; r++)
        for (long c = g->Wo * g->kw; c < W; c++)
            gk[r * W + c] = 0;
    for (long c = rows * W; c < g->H * W; c++)
        gk[c] = 0;
}

/* Any other geometry: the plane is cleared, then each window adds its gradient to the cell
 * it picks. */
static inline ALWAYS_INLINE void NAME(scanned_backward)(const T *xk, const T *dk, const T *sk, T *gk,
                                          const struct pool_geometry *g)
{
    const long plane = g->H * g->W;
    for (long c = 0; c < plane; c++)
        gk[c] = 0;
    for (long yo = 0; yo < g->Ho; yo++) {
        for (long xo = 0; xo < g->Wo; xo++) {
            const struct NAME(window) w =
                NAME(scan)(xk, g, yo * g->sh - g->ph, xo * g->sw - g->pw);
            if (!w.nan && w.first >= 0)
                gk[w.first] += dk[yo * g->Wo + xo];
        }
    }
    if (sk)
        for (long c = 0; c < plane; c++)
            gk[c] *= (T)(sk[c] > 0);
}

/* dx = the gradient of max_pool(x) given dout, times (signs > 0) unless signs is NULL. */
CLONES int NAME(max_pool_backward)(const T *x, const T *dout, const T *signs, T *dx,
                                   const struct pool_geometry *g)
{
    const long plane = g->H * g->W, windows = g->Ho * g->Wo;
    const int tiled = NAME(tiled)(g), lanes = NAME(lanes)(g, narrow_vector_registers());
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * plane, *dk = dout + k * windows;
        const T *sk = signs ? signs + k * plane : NULL;
        T *gk = dx + k * plane;
        if (!tiled)
            NAME(scanned_backward)(xk, dk, sk, gk, g);
        else if (sk)
            NAME(tiled_backward)(xk, dk, sk, gk, g, lanes, 1);
        else
            NAME(tiled_backward)(xk, dk, NULL, gk, g, lanes, 0);
        if (tiled)
            NAME(clear_uncovered)(gk, g);
    }
    return 0;
}
