/* The two gradients of a convolution whose dout is mostly zeros, for one element type (T, V,
 * VU, VL, NAME(x)), included once per type by typed_kernels.h.
 *
 * Behind relu and max pooling, dout holds one nonzero value in four at most (a 2x2 pool passes
 * its gradient to one pixel of each window) and relu drops about half of those: LeNet's second
 * convolution sees 16-18 % nonzeros while it trains. The dense kernels (conv_kernels.h)
 * multiply every value; these visit only the nonzero ones, so their work shrinks with the
 * density.
 *
 * Each sum takes the terms the dense kernels take, in their order, less the products with a
 * zero of dout: adding such a product (a signed zero) leaves a sum as it is while the other
 * factor is finite, so the results are the dense kernels' bit for bit (a sum that underflowed
 * to -0 aside). The filter gradient sums over a chunk's images in order and over each image's
 * output pixels row by row, as conv_backward_filter does; the data gradient of a stride-1
 * convolution sums, for each input pixel, over dout's channels and then its pixels row by row,
 * as conv_forward does on the flipped filters. A kernel declines (SPARSE_DECLINED, nothing
 * written) where dout is too dense for the visit to pay or where a factor it would skip is not
 * finite (0 * Inf is NaN in the dense sum): the caller then runs the dense kernel.
 *
 * Both keep the pixels channels last (a pixel's channels contiguous, padded to whole vectors)
 * so that a nonzero value of dout meets the kw pixels of a kernel row as one run of kw*Cp
 * values: the input's patch row for the filter gradient, the filters' row for the data
 * gradient.
 */
#ifndef SPARSE_DECLINED
#define SPARSE_DECLINED 1
/* Above this share of nonzero values in a chunk's dout the dense kernels are as fast. */
#define SPARSE_MOST_NONZERO 0.4
#define SPARSE_TILE_VECTORS 16
#define EACH_TILE_VECTOR(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) \
    M(12) M(13) M(14) M(15)
#define FOR_TILE_VECTORS(NB_, CALL)                                                        \
    switch (NB_) {                                                                          \
    case 1: CALL(1); break;   case 2: CALL(2); break;   case 3: CALL(3); break;             \
    case 4: CALL(4); break;   case 5: CALL(5); break;   case 6: CALL(6); break;             \
    case 7: CALL(7); break;   case 8: CALL(8); break;   case 9: CALL(9); break;             \
    case 10: CALL(10); break; case 11: CALL(11); break; case 12: CALL(12); break;            \
    case 13: CALL(13); break; case 14: CALL(14); break; case 15: CALL(15); break;           \
    default: CALL(16); break;                                                               \
    }
#endif

/* Whether dout (count values) has few enough nonzero values for the sparse kernels; a dense
 * dout (the usual one, without pooling) stops the count as soon as it has too many. */
static inline int NAME(sparse_enough)(const T *dout, long count)
{
    const long most = (long)(SPARSE_MOST_NONZERO * (double)count);
    long nonzero = 0;
    for (long k0 = 0; k0 < count && nonzero <= most; k0 += 4096) {
        const long k1 = count - k0 < 4096 ? count : k0 + 4096;
        for (long k = k0; k < k1; k++)
            nonzero += dout[k] != 0;
    }
    return nonzero <= most;
}

/* Whether every one of count values is finite (v - v is NaN for Inf and NaN). */
static inline int NAME(all_finite)(const T *v, long count)
{
    int finite = 1;
    for (long k = 0; k < count; k++)
        finite &= v[k] - v[k] == 0;
    return finite;
}

/* dst[0 .. NB vectors) += sum over k < count of value[k] * src[offset[k] .. + NB vectors), the
 * terms in order, NB accumulators in registers. */
static inline ALWAYS_INLINE void NAME(sparse_filter_tile)(T *dst, const T *src, const long *offset,
                                                          const T *value, long count, const int NB)
{
#define SPARSE_LOAD(u) V a##u = u < NB ? *(const VU *)(dst + u * VL) : (V){0};
    EACH_TILE_VECTOR(SPARSE_LOAD)
#undef SPARSE_LOAD
    for (long k = 0; k < count; k++) {
        const T *s = src + offset[k];
        const T v = value[k];
#define SPARSE_STEP(u) if (u < NB) a##u += v * *(const VU *)(s + u * VL);
        EACH_TILE_VECTOR(SPARSE_STEP)
#undef SPARSE_STEP
    }
#define SPARSE_STORE(u) if (u < NB) *(VU *)(dst + u * VL) = a##u;
    EACH_TILE_VECTOR(SPARSE_STORE)
#undef SPARSE_STORE
}

/* Image planes (C x H x W) to channels-last padded pixels (Hp x Wp x Cp), zeros around the
 * image and past C. */
static void NAME(channels_last)(const T *x, long C, long H, long W, long ph, long pw, long Wp,
                                long Cp, T *xl, long Hp)
{
    memset(xl, 0, sizeof(T) * (size_t)(Hp * Wp * Cp));
    for (long c = 0; c < C; c++)
        for (long y = 0; y < H; y++)
            for (long x0 = 0; x0 < W; x0++)
                xl[((y + ph) * Wp + x0 + pw) * Cp + c] = x[(c * H + y) * W + x0];
}

/* dw (K x Fp, rows in DML's (c, i, j) filter order, the dense kernel's layout) += the filter
 * gradient of the chunk x (n x C x H x W, unpadded) given dout (n x F x Ho*Wo). Returns 0,
 * SPARSE_DECLINED, or -1 when out of memory. */
CLONES int NAME(sparse_conv_backward_filter)(const T *x, const T *dout, T *dw,
                                             const struct geometry *g)
{
    const long L = g->Ho * g->Wo, F = g->F, C = g->C, kh = g->kh, kw = g->kw;
    const long Cp = (C + VL - 1) / VL * VL, Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw;
    const long row = kw * Cp, rows = kh * row;          /* a kernel row, all of them: per f */
    if (!NAME(sparse_enough)(dout, g->n * F * L) || !NAME(all_finite)(dout, g->n * F * L)
        || !NAME(all_finite)(x, g->n * C * g->H * g->W))
        return SPARSE_DECLINED;
    T *xl = malloc(sizeof(T) * (size_t)(Hp * Wp * Cp));
    T *acc = malloc(sizeof(T) * (size_t)(F * rows));
    T *value = malloc(sizeof(T) * (size_t)(F * L));
    long *offset = malloc(sizeof(long) * (size_t)(F * L)), *count = malloc(sizeof(long) * (size_t)F);
    long *pixel = malloc(sizeof(long) * (size_t)L);
    int status = -1;
    if (!xl || !acc || !value || !offset || !count || !pixel)
        goto done;
    for (long p = 0; p < L; p++)
        pixel[p] = ((p / g->Wo) * g->sh * Wp + (p % g->Wo) * g->sw) * Cp;
    /* acc[f][i][j][c] = dw[(c, i, j)][f], zero past C */
    for (long f = 0; f < F; f++)
        for (long i = 0; i < kh; i++)
            for (long j = 0; j < kw; j++)
                for (long c = 0; c < Cp; c++)
                    acc[f * rows + i * row + j * Cp + c] =
                        c < C ? dw[((c * kh + i) * kw + j) * g->Fp + f] : 0;
    const long blocks = (row / VL + SPARSE_TILE_VECTORS - 1) / SPARSE_TILE_VECTORS;
    const long block = (row / VL + blocks - 1) / blocks;     /* vectors per tile */
    for (long image = 0; image < g->n; image++) {
        NAME(channels_last)(x + image * C * g->H * g->W, C, g->H, g->W, g->ph, g->pw, Wp, Cp,
                            xl, Hp);
        const T *d = dout + image * F * L;
        for (long f = 0; f < F; f++) {
            long k = 0;
            for (long p = 0; p < L; p++) {      /* branch-free: a store per pixel */
                offset[f * L + k] = pixel[p];
                value[f * L + k] = d[f * L + p];
                k += d[f * L + p] != 0;
            }
            count[f] = k;
        }
        for (long f = 0; f < F; f++) {
            if (!count[f])
                continue;
            for (long i = 0; i < kh; i++)
                for (long v0 = 0; v0 < row / VL; v0 += block) {
                    const long nb = row / VL - v0 < block ? row / VL - v0 : block;
                    T *dst = acc + f * rows + i * row + v0 * VL;
                    const T *src = xl + i * Wp * Cp + v0 * VL;
#define FILTER_TILE(NB) NAME(sparse_filter_tile)(dst, src, offset + f * L, value + f * L, count[f], NB)
                    FOR_TILE_VECTORS(nb, FILTER_TILE)
#undef FILTER_TILE
                }
        }
    }
    for (long f = 0; f < F; f++)
        for (long i = 0; i < kh; i++)
            for (long j = 0; j < kw; j++)
                for (long c = 0; c < C; c++)
                    dw[((c * kh + i) * kw + j) * g->Fp + f] = acc[f * rows + i * row + j * Cp + c];
    status = 0;
done:
    free(xl);
    free(acc);
    free(value);
    free(offset);
    free(count);
    free(pixel);
    return status;
}

/* dx (n x C x H x W) = the data gradient of a stride-1 convolution given dout (n x F x
 * Ho*Wo) and the filters channels last (w: F x kh x kw x Cp, zero past C). Returns 0,
 * SPARSE_DECLINED, or -1 when out of memory. The filters' finiteness is the caller's check.
 *
 * A nonzero value v of dout at (r, x) adds v * w[f, i, j] to the padded input pixel (r + i,
 * x + j). The sums are taken one padded input row at a time, in a row of kw*Cp values per
 * pixel that stays in the L1 cache: for each filter f, the dout rows r that reach it (i = row
 * - r) in order, and each row's nonzero values in order, add their kernel row w[f, i] (kw
 * pixels of Cp values, contiguous) into it. */
CLONES int NAME(sparse_conv_backward_data)(const T *w, const T *dout, T *dx,
                                           const struct geometry *g)
{
    const long L = g->Ho * g->Wo, F = g->F, C = g->C, kh = g->kh, kw = g->kw, Wo = g->Wo;
    const long Cp = (C + VL - 1) / VL * VL, Wp = g->W + 2 * g->pw;
    const long row = kw * Cp;
    if (g->sh != 1 || g->sw != 1 || !NAME(sparse_enough)(dout, g->n * F * L))
        return SPARSE_DECLINED;
    T *sums = malloc(sizeof(T) * (size_t)(Wp * Cp));        /* one padded row, channels last */
    T *value = malloc(sizeof(T) * (size_t)(F * L));
    long *column = malloc(sizeof(long) * (size_t)(F * L));
    long *count = malloc(sizeof(long) * (size_t)(F * g->Ho));  /* per filter and dout row */
    if (!sums || !value || !column || !count) {
        free(sums);
        free(value);
        free(column);
        free(count);
        return -1;
    }
    for (long image = 0; image < g->n; image++) {
        const T *d = dout + image * F * L;
        for (long f = 0; f < F; f++)              /* row (f, r)'s entries start at f*L + r*Wo */
            for (long r = 0; r < g->Ho; r++) {
                const long start = f * L + r * Wo;
                long k = start;
                for (long x0 = 0; x0 < Wo; x0++) {     /* branch-free: a store per pixel */
                    column[k] = x0 * Cp;
                    value[k] = d[start + x0];
                    k += d[start + x0] != 0;
                }
                count[f * g->Ho + r] = k - start;
            }
        T *out = dx + image * C * g->H * g->W;
        for (long y = 0; y < g->H; y++) {
            const long padded = y + g->ph;
            const long r0 = padded - kh + 1 > 0 ? padded - kh + 1 : 0;
            const long r1 = padded < g->Ho - 1 ? padded : g->Ho - 1;
            memset(sums, 0, sizeof(T) * (size_t)(Wp * Cp));
            for (long f = 0; f < F; f++)
                for (long r = r0; r <= r1; r++) {
                    const long entries = count[f * g->Ho + r], start = f * L + r * Wo;
                    const T *restrict src = w + (f * kh + padded - r) * row;
                    for (long k = start; k < start + entries; k++) {
                        T *restrict dst = sums + column[k];
                        const T v = value[k];
#pragma GCC unroll 8
                        for (long u = 0; u < row; u += VL)
                            *(VU *)(dst + u) += v * *(const VU *)(src + u);
                    }
                }
            for (long c = 0; c < C; c++)
                for (long x0 = 0; x0 < g->W; x0++)
                    out[(c * g->H + y) * g->W + x0] = sums[(x0 + g->pw) * Cp + c];
        }
    }
    free(sums);
    free(value);
    free(column);
    free(count);
    return 0;
}
