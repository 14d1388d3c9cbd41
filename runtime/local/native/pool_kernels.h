/* max_pool and max_pool_backward for one element type, included once per type by typed_kernels.h
 * (T, NAME(x)).
 *
 * Planes are the H x W channels of the images, one after another (DML's N x C*H*W rows).
 * A window's maximum propagates NaN (as numpy's maximum); padding cells hold -max(T). Its
 * gradient goes to its first maximum in row-major order, as SystemDS does: padding cells take
 * nothing, so a window whose first maximum is padding drops its gradient, and a window holding
 * NaN matches no cell. Windows that overlap add their gradients to the cells they pick.
 * The scan keeps the first maximum with a strict comparison (a conditional move, not a
 * branch: maxima of real data are unpredictable); windows clear of the padding skip the
 * bounds checks, and 2 x 2 windows (the usual pool) get a scan unrolled for them.
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
    if (top >= 0 && left >= 0 && top + g->kh <= H && left + g->kw <= W) {
        if (g->kh == 2 && g->kw == 2)
            return NAME(scan_inside)(plane, W, top, left, 2, 2);
        return NAME(scan_inside)(plane, W, top, left, g->kh, g->kw);
    }
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

CLONES int NAME(max_pool)(const T *x, T *out, const struct pool_geometry *g)
{
    const long plane = g->H * g->W, windows = g->Ho * g->Wo;
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * plane;
        T *ok = out + k * windows;
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

/* Windows that tile the plane exactly (stride = pool size, no padding, nothing left over):
 * every cell belongs to one window, so the plane's rows are written once, whole, with no
 * zeroing pass: first a row of windows is scanned (first: their maxima's columns, -1 for none,
 * gradient: their douts), then its kh plane rows are written left to right. */
static inline ALWAYS_INLINE void NAME(tiled_backward)(const T *xk, const T *dk, T *gk,
                                                      const struct pool_geometry *g,
                                                      long kh, long kw, long *first, T *gradient)
{
    const long W = g->W;
    for (long yo = 0; yo < g->Ho; yo++) {
        const long top = yo * kh;
        for (long xo = 0; xo < g->Wo; xo++) {
            const struct NAME(window) w = NAME(scan_inside)(xk, W, top, xo * kw, kh, kw);
            first[xo] = w.nan ? -1 : w.first;
            gradient[xo] = dk[yo * g->Wo + xo];
        }
        for (long i = 0; i < kh; i++) {
            T *row = gk + (top + i) * W;
            const long row_start = (top + i) * W;
            for (long xo = 0; xo < g->Wo; xo++)
                for (long j = 0; j < kw; j++) {
                    const long at = xo * kw + j;
                    row[at] = row_start + at == first[xo] ? gradient[xo] : 0;
                }
        }
    }
}

CLONES int NAME(max_pool_backward)(const T *x, const T *dout, T *dx,
                                   const struct pool_geometry *g)
{
    const long plane = g->H * g->W, windows = g->Ho * g->Wo;
    const int tiled = g->sh == g->kh && g->sw == g->kw && g->ph == 0 && g->pw == 0
                      && g->Ho * g->kh == g->H && g->Wo * g->kw == g->W;
    long *first = malloc(sizeof(long) * (size_t)g->Wo);
    T *gradient = malloc(sizeof(T) * (size_t)g->Wo);
    if (!first || !gradient) {
        free(first);
        free(gradient);
        return -1;
    }
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * plane, *dk = dout + k * windows;
        T *gk = dx + k * plane;
        if (tiled && g->kh == 2 && g->kw == 2) {
            NAME(tiled_backward)(xk, dk, gk, g, 2, 2, first, gradient);
            continue;
        }
        if (tiled) {
            NAME(tiled_backward)(xk, dk, gk, g, g->kh, g->kw, first, gradient);
            continue;
        }
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
    }
    free(first);
    free(gradient);
    return 0;
}
