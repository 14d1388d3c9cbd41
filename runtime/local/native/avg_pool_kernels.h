/* avg_pool and avg_pool_backward for one element type, included once per type by
 * typed_kernels.h (T, NAME(x)).
 *
 * Planes are the H x W channels of the images, one after another (DML's N x C*H*W rows).
 * SystemDS's semantics: padding cells hold zero and count in the divisor kh*kw. The arithmetic
 * is numpy's (pooling.py), operation for operation, so the bits agree with it: a window row is
 * summed left to right starting from its first cell (a padding cell adds a zero, which turns
 * -0 into +0 as numpy's zero-padded planes do), scaled by mult = 1/(kh*kw) rounded to T, and
 * the scaled rows are added top to bottom. The gradient adds each window's dout * mult to its
 * cells one window offset at a time, in row-major order of the offsets, onto a zeroed plane;
 * windows that tile the plane assign it instead (numpy broadcasts there). Contracting
 * a product and a sum into one fused multiply-add would round once instead of twice and
 * change the bits, so these functions are compiled without it.
 */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

/* The first and one past the last output column whose window lies inside the plane's columns. */
static inline void NAME(avg_inside_columns)(const struct pool_geometry *g, long *first,
                                            long *last)
{
    long lo = (g->pw + g->sw - 1) / g->sw, hi = (g->W + g->pw - g->kw) / g->sw + 1;
    if (g->W + g->pw < g->kw)
        hi = 0;
    *first = lo < g->Wo ? lo : g->Wo;
    *last = hi < *first ? *first : (hi < g->Wo ? hi : g->Wo);
}

/* The sum of kw cells of a plane row from column left, padding cells counting as zero. */
static inline ALWAYS_INLINE T NAME(avg_edge_sum)(const T *row, long W, long left, long kw)
{
    T sum = left >= 0 && left < W ? row[left] : 0;
    for (long j = 1; j < kw; j++) {
        const long x = left + j;
        sum += x >= 0 && x < W ? row[x] : 0;
    }
    return sum;
}

static inline ALWAYS_INLINE T NAME(avg_inside_sum)(const T *row, long left, long kw)
{
    T sum = row[left];
    for (long j = 1; j < kw; j++)
        sum += row[left + j];
    return sum;
}

/* Adds (or, for the first window row, stores) plane row y's scaled window sums to the output
 * row o; `inside` columns [first, last) need no bounds checks. */
static inline ALWAYS_INLINE void NAME(avg_window_row)(const T *plane, T *o,
                                                      const struct pool_geometry *g, long y,
                                                      int top_row, long first, long last,
                                                      long kw, long sw, T mult)
{
    const long W = g->W;
    if (y < 0 || y >= g->H) {          /* a padding row: its sums are +0 */
        for (long xo = 0; xo < g->Wo; xo++)
            o[xo] = top_row ? 0 : o[xo] + 0;
        return;
    }
    const T *row = plane + y * W;
    for (long xo = 0; xo < first; xo++) {
        const T part = NAME(avg_edge_sum)(row, W, xo * sw - g->pw, kw) * mult;
        o[xo] = top_row ? part : o[xo] + part;
    }
    if (top_row)
        for (long xo = first; xo < last; xo++)
            o[xo] = NAME(avg_inside_sum)(row, xo * sw - g->pw, kw) * mult;
    else
        for (long xo = first; xo < last; xo++)
            o[xo] = o[xo] + NAME(avg_inside_sum)(row, xo * sw - g->pw, kw) * mult;
    for (long xo = last; xo < g->Wo; xo++) {
        const T part = NAME(avg_edge_sum)(row, W, xo * sw - g->pw, kw) * mult;
        o[xo] = top_row ? part : o[xo] + part;
    }
}

static inline ALWAYS_INLINE void NAME(avg_pool_planes)(const T *x, T *out,
                                                       const struct pool_geometry *g,
                                                       long kw, long sw)
{
    const long plane = g->H * g->W, windows = g->Ho * g->Wo;
    const T mult = (T)(1.0 / (double)(g->kh * g->kw));
    long first, last;
    NAME(avg_inside_columns)(g, &first, &last);
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * plane;
        T *ok = out + k * windows;
        for (long yo = 0; yo < g->Ho; yo++)
            for (long i = 0; i < g->kh; i++)
                NAME(avg_window_row)(xk, ok + yo * g->Wo, g, yo * g->sh - g->ph + i, i == 0,
                                     first, last, kw, sw, mult);
    }
}

CLONES int NAME(avg_pool)(const T *x, T *out, const struct pool_geometry *g)
{
    /* the usual pools get loops specialised to their window width and stride */
    if (g->kw == 3 && g->sw == 1)
        NAME(avg_pool_planes)(x, out, g, 3, 1);
    else if (g->kw == 2 && g->sw == 2)
        NAME(avg_pool_planes)(x, out, g, 2, 2);
    else
        NAME(avg_pool_planes)(x, out, g, g->kw, g->sw);
    return 0;
}

/* The output columns [*first, *last) whose window's column offset j falls inside the plane. */
static inline void NAME(avg_offset_columns)(const struct pool_geometry *g, long j, long *first,
                                            long *last)
{
    const long shift = j - g->pw;      /* input column = xo * sw + shift */
    long lo = shift >= 0 ? 0 : (-shift + g->sw - 1) / g->sw;
    long hi = g->W - shift <= 0 ? 0 : (g->W - shift - 1) / g->sw + 1;
    *first = lo < g->Wo ? lo : g->Wo;
    *last = hi < *first ? *first : (hi < g->Wo ? hi : g->Wo);
}

CLONES int NAME(avg_pool_backward)(const T *dout, T *dx, const struct pool_geometry *g)
{
    const long plane = g->H * g->W, windows = g->Ho * g->Wo, W = g->W, sw = g->sw;
    const T mult = (T)(1.0 / (double)(g->kh * g->kw));
    const int tiled = g->sh == g->kh && g->sw == g->kw && g->ph == 0 && g->pw == 0;
    for (long k = 0; k < g->planes; k++) {
        const T *dk = dout + k * windows;
        T *gk = dx + k * plane;
        for (long c = 0; c < plane; c++)
            gk[c] = 0;
        for (long i = 0; i < g->kh; i++) {
            for (long j = 0; j < g->kw; j++) {
                long first, last;
                NAME(avg_offset_columns)(g, j, &first, &last);
                for (long yo = 0; yo < g->Ho; yo++) {
                    const long y = yo * g->sh - g->ph + i;
                    if (y < 0 || y >= g->H)
                        continue;
                    T *row = gk + y * W + j - g->pw;
                    const T *d = dk + yo * g->Wo;
                    if (tiled)
                        for (long xo = first; xo < last; xo++)
                            row[xo * sw] = d[xo] * mult;
                    else
                        for (long xo = first; xo < last; xo++)
                            row[xo * sw] = row[xo * sw] + d[xo] * mult;
                }
            }
        }
    }
    return 0;
}

#pragma GCC pop_options
