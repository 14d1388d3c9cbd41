/* avg_pool and avg_pool_backward for one element type, included once per type by
 * typed_kernels.h (T, NAME(x)).
 *
 * Planes are the H x W channels of the images, one after another (DML's N x C*H*W rows).
 * SystemDS's semantics: padding cells hold zero and count in the divisor kh*kw. The arithmetic
 * is numpy's (pooling.py), operation for operation, so the bits agree with it: a padded pool
 * works on a zero-padded copy of the plane (so a padding cell adds a zero, which turns -0 into
 * +0 as in numpy); a window row is summed left to right starting from its first cell, scaled by
 * mult = 1/(kh*kw) rounded to T, and the scaled rows are added top to bottom. The gradient adds
 * each window's dout * mult to its cells one window offset at a time, in row-major order of the
 * offsets, onto a zeroed (padded) plane, whose inside is the result; windows that tile the plane
 * assign it instead (numpy broadcasts there). Contracting
 * a product and a sum into one fused multiply-add would round once instead of twice and
 * change the bits, so these functions are compiled without it.
 */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

/* Plane k of x padded with zeros: copied into `padded` (Hp x Wp, whose border stays zero) when
 * the pool pads, else the plane itself. numpy pads the same way, and adds the zeros too. */
static inline const T *NAME(avg_padded_plane)(const T *plane, T *padded,
                                              const struct pool_geometry *g)
{
    if (padded == NULL)
        return plane;
    const long Wp = g->W + 2 * g->pw;
    for (long y = 0; y < g->H; y++)
        for (long x = 0; x < g->W; x++)
            padded[(y + g->ph) * Wp + g->pw + x] = plane[y * g->W + x];
    return padded;
}

/* A zeroed Hp x Wp plane for the padded copies (NULL with *failed = 0 when nothing is padded). */
static T *NAME(avg_padding_buffer)(const struct pool_geometry *g, int *failed)
{
    *failed = 0;
    if (!g->ph && !g->pw)
        return NULL;
    T *buffer = calloc((size_t)((g->H + 2 * g->ph) * (g->W + 2 * g->pw)), sizeof(T));
    *failed = buffer == NULL;
    return buffer;
}

/* The sum of kw cells of a padded plane row from column left, left to right. */
static inline ALWAYS_INLINE T NAME(avg_row_sum)(const T *row, long left, long kw)
{
    T sum = row[left];
    for (long j = 1; j < kw; j++)
        sum += row[left + j];
    return sum;
}

static inline ALWAYS_INLINE void NAME(avg_pool_planes)(const T *x, T *out, T *padded,
                                                       const struct pool_geometry *g,
                                                       long kw, long sw)
{
    const long Wp = g->W + 2 * g->pw, plane = g->H * g->W, windows = g->Ho * g->Wo;
    const T mult = (T)(1.0 / (double)(g->kh * g->kw));
    for (long k = 0; k < g->planes; k++) {
        const T *xp = NAME(avg_padded_plane)(x + k * plane, padded, g);
        for (long yo = 0; yo < g->Ho; yo++) {
            T *o = out + k * windows + yo * g->Wo;
            const T *row = xp + yo * g->sh * Wp;
            for (long xo = 0; xo < g->Wo; xo++)
                o[xo] = NAME(avg_row_sum)(row, xo * sw, kw) * mult;
            for (long i = 1; i < g->kh; i++) {
                row += Wp;
                for (long xo = 0; xo < g->Wo; xo++)
                    o[xo] = o[xo] + NAME(avg_row_sum)(row, xo * sw, kw) * mult;
            }
        }
    }
}

CLONES int NAME(avg_pool)(const T *x, T *out, const struct pool_geometry *g)
{
    int failed;
    T *padded = NAME(avg_padding_buffer)(g, &failed);
    if (failed)
        return -1;
    /* the usual pools get loops specialised to their window width and stride */
    if (g->kw == 3 && g->sw == 1)
        NAME(avg_pool_planes)(x, out, padded, g, 3, 1);
    else if (g->kw == 2 && g->sw == 2)
        NAME(avg_pool_planes)(x, out, padded, g, 2, 2);
    else
        NAME(avg_pool_planes)(x, out, padded, g, g->kw, g->sw);
    free(padded);
    return 0;
}

CLONES int NAME(avg_pool_backward)(const T *dout, T *dx, const struct pool_geometry *g)
{
    const long Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw, sw = g->sw;
    const long plane = g->H * g->W, windows = g->Ho * g->Wo;
    const T mult = (T)(1.0 / (double)(g->kh * g->kw));
    const int tiled = g->sh == g->kh && g->sw == g->kw && g->ph == 0 && g->pw == 0;
    int failed;
    T *padded = NAME(avg_padding_buffer)(g, &failed);
    if (failed)
        return -1;
    for (long k = 0; k < g->planes; k++) {
        const T *dk = dout + k * windows;
        T *gk = padded ? padded : dx + k * plane;          /* the padded plane's gradient */
        for (long c = 0; c < Hp * Wp; c++)
            gk[c] = 0;
        for (long i = 0; i < g->kh; i++)
            for (long j = 0; j < g->kw; j++)
                for (long yo = 0; yo < g->Ho; yo++) {
                    T *row = gk + (yo * g->sh + i) * Wp + j;
                    const T *d = dk + yo * g->Wo;
                    if (tiled)
                        for (long xo = 0; xo < g->Wo; xo++)
                            row[xo * sw] = d[xo] * mult;
                    else
                        for (long xo = 0; xo < g->Wo; xo++)
                            row[xo * sw] = row[xo * sw] + d[xo] * mult;
                }
        if (padded)                                         /* the shares on padding drop */
            for (long y = 0; y < g->H; y++)
                for (long x = 0; x < g->W; x++)
                    dx[k * plane + y * g->W + x] = padded[(y + g->ph) * Wp + g->pw + x];
    }
    free(padded);
    return 0;
}

#pragma GCC pop_options
