/* Row kernels: direct convolutions vectorised along the output rows, for stride-1 layers with
 * few input channels, for one element type (T, V, VU, VL, NAME(x)), included once per type by
 * typed_kernels.h.
 *
 * With one input channel (LeNet's first layer) a patch row holds only kh*kw values, and the
 * kernels of conv_kernels.h, which keep a tile of patch rows against vectors of filters, spend
 * more time setting up each tile than multiplying. Here a vector holds VL neighbouring output
 * pixels of one row instead: the input under them is VL contiguous values of a padded row for
 * every kernel offset, and the output and dout rows are contiguous in DML's layout, so nothing
 * is gathered or transposed.
 *
 * x is a chunk of images, zero padded, n x C x Hp x Wp, where the row stride Wp leaves room
 * for whole vectors: a vector that runs past an output row's end reads zeros. Weights and
 * the filter gradient are F x K (K = C*kh*kw), as DML holds them.
 */

/* The forward kernel computes tiles of 4 filters x two output rows x 2 vectors of pixels: 16
 * accumulators (more spill, with the input vectors beside them, on AVX-512's 32 registers).
 * The weights are copied as K x Fr, Fr = F rounded up to 4 with zero filters, so that a
 * tile's weights for one kernel offset are neighbours. Each sum takes its terms in the order
 * (c, i, j) over the kernel rows that fall on the image (and every kernel column: a vector of
 * pixels shares them), so no value depends on the tiles. Two output rows at once let a 2 x 2
 * max pool of stride 2 (LeNet's) take the tile from the registers: the kernel then writes the
 * pooled planes, and the full-size result only where the caller keeps it. */
#define ROW_FILTERS 4
#define EACH_ROW_FILTER(M) M(0) M(1) M(2) M(3)
#define DECLARE_ROW_PAIR(r) V u##r##_0 = {0}, u##r##_1 = {0}, l##r##_0 = {0}, l##r##_1 = {0};

/* Stores the first count lanes of v at dst (none where count <= 0). Where the lanes past
 * count fall on values this call writes later (overwrite), the whole vector is stored; else
 * they go one by one. Reading the old values back to blend them in would wait on memory: the
 * output is fresh, and its rows are written a plane apart. */
static inline ALWAYS_INLINE void NAME(store_lanes)(T *dst, V v, long count, int overwrite)
{
    if (count >= VL || (count > 0 && overwrite)) {
        *(VU *)dst = v;
        return;
    }
    T lanes[VL];
    *(VU *)lanes = v;
    for (long q = 0; q < count; q++)
        dst[q] = lanes[q];
}

/* The 2 x 2 windows of the tile's two rows of 2*VL pixels (upper u0 u1, lower l0 l1): their
 * first count maxima to dst (none where count <= 0), by max_pool's own scan of tiled windows
 * (pool_kernels.h), in vectors of 32 bytes: GCC 12 compiles the comparisons of 64-byte
 * vectors whose masks combine one lane at a time. The maxima past count are stored too where
 * they fall on values written later (overwrite). */
static inline ALWAYS_INLINE void NAME(store_row_pool)(V u0, V u1, V l0, V l1, T *dst,
                                                      long count, int overwrite)
{
    if (count <= 0)
        return;
    T rows[2][2 * VL] __attribute__((aligned(64))), windows[VL];
    *(V *)rows[0] = u0;
    *(V *)(rows[0] + VL) = u1;
    *(V *)rows[1] = l0;
    *(V *)(rows[1] + VL) = l1;
    const struct pool_geometry two_rows = {1, 2, 2 * VL, 2, 2, 2, 2, 0, 0, 1, VL};
    T *to = count >= VL || overwrite ? dst : windows;
    NAME(tiled_forward)(rows[0], to, &two_rows, 32 / (int)sizeof(T));
    for (long q = 0; to == windows && q < count; q++)
        dst[q] = windows[q];
}

/* Kernel rows [FROM, TO) of one channel for the upper output row (UPPER), the lower one
 * (LOWER) or both: xc is the channel's plane at the upper row's first input row and the
 * tile's first pixel (the lower row's input is one row further), wc the channel's weights at
 * the tile's first filter. */
#define ROW_PAIR_STEPS(UPPER, LOWER, FROM, TO)                                             \
    for (long i = FROM; i < TO; i++) {                                                     \
        const int upper_row = UPPER, lower_row = LOWER;                                    \
        const T *xr = xc + i * g->Wp, *wr = wc + i * columns * Fr;                         \
        _Pragma("GCC unroll 8")                                                            \
        for (long j = 0; j < columns; j++) {                                               \
            const V p0 = UPPER ? *(const VU *)(xr + j) : (V){0};                           \
            const V p1 = UPPER ? *(const VU *)(xr + j + VL) : (V){0};                      \
            const V q0 = LOWER ? *(const VU *)(xr + g->Wp + j) : (V){0};                   \
            const V q1 = LOWER ? *(const VU *)(xr + g->Wp + j + VL) : (V){0};              \
            EACH_ROW_FILTER(ROW_PAIR_STEP)                                                 \
        }                                                                                  \
    }
#define ROW_PAIR_STEP(r)                                                                   \
    {                                                                                      \
        const T s = wr[j * Fr + r];                                                        \
        if (upper_row) { u##r##_0 += s * p0; u##r##_1 += s * p1; }                         \
        if (lower_row) { l##r##_0 += s * q0; l##r##_1 += s * q1; }                         \
    }
/* Row r of the tile finished (bias, relu) and stored: out's rows (as far as they are in the
 * row), pooled's windows (the whole pairs of pixels in the row). A vector that runs past its
 * row is stored whole where the rest of it lands in the plane on pixels written later: the
 * lower row's, stored after the upper's, where this tile is the row's first (x0 = 0), the
 * next pair's rows, the next row of windows. */
#define ROW_PAIR_FINISH(r)                                                                 \
    if (f0 + r < g->F) {                                                                   \
        const T add = bias ? bias[f0 + r] : 0;                                             \
        const V a0 = NAME(row_finish)(u##r##_0, add, bias, relu);                          \
        const V a1 = NAME(row_finish)(u##r##_1, add, bias, relu);                          \
        const V b0 = NAME(row_finish)(l##r##_0, add, bias, relu);                          \
        const V b1 = NAME(row_finish)(l##r##_1, add, bias, relu);                          \
        if (out) {                                                                         \
            T *o = out + (f0 + r) * L + y * g->Wo + x0;                                    \
            const long left = L - y * g->Wo - x0;    /* pixels from o to the plane's end */ \
            const int upper_overwrites = lower && x0 == 0;                                 \
            NAME(store_lanes)(o, a0, g->Wo - x0, upper_overwrites && left >= VL);          \
            NAME(store_lanes)(o + VL, a1, g->Wo - x0 - VL, upper_overwrites && left >= 2 * VL); \
            if (lower) {                                                                   \
                o += g->Wo;                                                                \
                NAME(store_lanes)(o, b0, g->Wo - x0, left - g->Wo >= VL);                 \
                NAME(store_lanes)(o + VL, b1, g->Wo - x0 - VL, left - g->Wo >= 2 * VL);   \
            }                                                                              \
        }                                                                                  \
        if (pooled && lower) {                                                             \
            const long Wq = g->Wo / 2, Lq = g->Ho / 2 * Wq, at = y / 2 * Wq + x0 / 2;        \
            NAME(store_row_pool)(a0, a1, b0, b1, pooled + (f0 + r) * Lq + at, Wq - x0 / 2,   \
                                 Lq - at >= VL);                                          \
        }                                                                                  \
    }

static inline ALWAYS_INLINE V NAME(row_finish)(V v, T add, const T *bias, int relu)
{
    if (bias)
        v += add;
    return relu ? NAME(relu_vector)(v) : v;
}

/* The tile at output rows y (upper) and y + 1 (lower, when `lower`), filters f0 .. f0+3,
 * pixels x0 .. x0 + 2*VL - 1 of one image: x, out and pooled (either of them NULL) point at
 * the image. KW, when not 0, is the kernel's width known at compile time (the loop over it
 * unrolled). */
static inline ALWAYS_INLINE void NAME(row_pair_tile)(
    const T *x, const T *wt, long Fr, const T *bias, const struct geometry *g, long y,
    int lower, long x0, long f0, T *out, T *pooled, const int KW)
{
    EACH_ROW_FILTER(DECLARE_ROW_PAIR)
    const long plane = g->Hp * g->Wp, L = g->Ho * g->Wo, columns = KW ? KW : g->kw;
    const int relu = g->relu != 0;
    /* the kernel rows each output row takes on the image: [a0, a1) the upper's, [b0, b1) the
     * lower's (none without a lower row) */
    const struct taps up = patch_taps(g, y, 0), down = patch_taps(g, lower ? y + 1 : y, 0);
    const long a0 = up.i0, a1 = up.i1, b0 = lower ? down.i0 : a0, b1 = lower ? down.i1 : a0;
    const long m0 = a0 > b0 ? a0 : b0, m1 = a1 < b1 ? a1 : b1;
    for (long c = 0; c < g->C; c++) {
        const T *xc = x + c * plane + y * g->Wp + x0;
        const T *wc = wt + c * g->kh * columns * Fr + f0;
        if (m0 >= m1) {                  /* no kernel row in common: each row its own */
            ROW_PAIR_STEPS(1, 0, a0, a1)
            ROW_PAIR_STEPS(0, 1, b0, b1)
            continue;
        }
        /* each row takes its kernel rows in order: the first ones of the run that starts
         * first, the common ones, the last ones of the run that ends last */
        ROW_PAIR_STEPS(0, 1, b0, m0)
        ROW_PAIR_STEPS(1, 0, a0, m0)
        ROW_PAIR_STEPS(1, 1, m0, m1)
        ROW_PAIR_STEPS(1, 0, m1, a1)
        ROW_PAIR_STEPS(0, 1, m1, b1)
    }
    EACH_ROW_FILTER(ROW_PAIR_FINISH)
}

/* out (n x F x Ho*Wo, or NULL) = conv of the padded chunk x with w (F x K), plus bias[f]
 * unless NULL, through relu when g->relu; pooled (n x F x Ho/2*Wo/2, or NULL) = its 2 x 2 max
 * pool of stride 2. The row stride Wp leaves room for whole pairs of vectors: a tile reads
 * 2*VL + kw - 1 values of a row. */
CLONES int NAME(row_conv_forward)(const T *x, const T *w, const T *bias, T *out, T *pooled,
                                  const struct geometry *g)
{
    const long K = g->C * g->kh * g->kw, Fr = (g->F + ROW_FILTERS - 1) / ROW_FILTERS * ROW_FILTERS;
    const long L = g->Ho * g->Wo, Lq = (g->Ho / 2) * (g->Wo / 2), plane = g->Hp * g->Wp;
    T *wt = malloc(sizeof(T) * (size_t)(K * Fr));
    if (!wt)
        return -1;
    for (long k = 0; k < K; k++)
        for (long f = 0; f < Fr; f++)
            wt[k * Fr + f] = f < g->F ? w[f * K + k] : 0;
    for (long image = 0; image < g->n; image++) {
        const T *xi = x + image * g->C * plane;
        T *oi = out ? out + image * g->F * L : NULL;
        T *pi = pooled ? pooled + image * g->F * Lq : NULL;
        /* with a pool, the rows no window takes (an odd last one) only where out is kept */
        const long rows = pooled && !out ? g->Ho / 2 * 2 : g->Ho;
        for (long y = 0; y < rows; y += 2) {
            const int lower = y + 1 < rows;
            for (long f0 = 0; f0 < g->F; f0 += ROW_FILTERS)
                for (long x0 = 0; x0 < g->Wo; x0 += 2 * VL) {
#define ROW_PAIR(KW) NAME(row_pair_tile)(xi, wt, Fr, bias, g, y, lower, x0, f0, oi, pi, KW)
                    if (g->kw == 5)
                        ROW_PAIR(5);
                    else if (g->kw == 3)
                        ROW_PAIR(3);
                    else
                        ROW_PAIR(0);
#undef ROW_PAIR
                }
        }
    }
    free(wt);
    return 0;
}
#undef ROW_FILTERS
#undef EACH_ROW_FILTER
#undef DECLARE_ROW_PAIR
#undef ROW_PAIR_STEPS
#undef ROW_PAIR_STEP
#undef ROW_PAIR_FINISH

/* The filter gradient keeps 4 filters x NK kernel offsets of partial sums, one lane per pixel
 * column, over the whole chunk, then adds each one's lanes (in lane order) into dw. The
 * offsets are taken in K's order, NK at a time: a whole kernel row for kernels 4 to 6 wide
 * (a fixed 6 left a sixth of a 5x5 kernel's sums idle), 6 otherwise (whole rows of 3, 2 or 1
 * wide kernels). The output rows whose input rows under all of a tile's kernel rows are
 * padding are skipped: their products are all zero. */
#define EACH_FILTER(M) M(0) M(1) M(2) M(3)
#define EACH_OFFSET(M, f) M(f, 0) M(f, 1) M(f, 2) M(f, 3) M(f, 4) M(f, 5)
#define DECLARE_SUM(f, k) V s##f##_##k = {0};
#define DECLARE_SUMS(f) EACH_OFFSET(DECLARE_SUM, f)
#define LOAD_DOUT(f) const V d##f = *(const VU *)(dp + (f) * dstride);
#define LOAD_INPUT(k) const V x##k = k < NK ? *(const VU *)(xp + o[k]) : (V){0};
#define ADD_PRODUCT(f, k) if (k < NK) s##f##_##k += d##f * x##k;
#define ADD_PRODUCTS(f) EACH_OFFSET(ADD_PRODUCT, f)
#define STORE_SUM(f, k)                                                                 \
    if (k < NK && f < filters && k < offsets) {                                         \
        T lanes[VL], total = 0;                                                         \
        *(VU *)lanes = s##f##_##k;                                                      \
        for (int q = 0; q < VL; q++)                                                    \
            total += lanes[q];                                                          \
        dw[(f0 + f) * K + k0 + k] += total;                                             \
    }
#define STORE_SUMS(f) EACH_OFFSET(STORE_SUM, f)

/* dw[f0 .. f0+filters, k0 .. k0+offsets) += the sums over output rows y0 .. y1 of every image;
 * o[k] is offset k's place in the padded chunk. */
static inline ALWAYS_INLINE void NAME(row_filter_tile)(
    const T *x, const T *padded, T *dw, const struct geometry *g, const long *o,
    long f0, long filters, long k0, long offsets, long y0, long y1, const int NK)
{
    const long K = g->C * g->kh * g->kw, plane = g->Hp * g->Wp;
    const long strips = (g->Wo + VL - 1) / VL, dstride = g->Ho * strips * VL;
    EACH_FILTER(DECLARE_SUMS)
    for (long image = 0; image < g->n; image++) {
        for (long y = y0; y < y1; y++) {
            for (long s = 0; s < strips; s++) {
                /* filters past F read the next image's (or the zeros past the last image):
                 * their sums are not stored */
                const T *dp = padded + ((image * g->F + f0) * g->Ho + y) * strips * VL + s * VL;
                const T *xp = x + image * g->C * plane + y * g->Wp + s * VL;
                EACH_FILTER(LOAD_DOUT)
                LOAD_INPUT(0) LOAD_INPUT(1) LOAD_INPUT(2)
                LOAD_INPUT(3) LOAD_INPUT(4) LOAD_INPUT(5)
                EACH_FILTER(ADD_PRODUCTS)
            }
        }
    }
    EACH_FILTER(STORE_SUMS)
}

/* dw (F x K) += the filter gradient for the padded chunk x and dout (n x F x Ho*Wo). */
CLONES int NAME(row_conv_backward_filter)(const T *x, const T *dout, T *dw,
                                          const struct geometry *g)
{
    const long K = g->C * g->kh * g->kw, plane = g->Hp * g->Wp;
    const long strips = (g->Wo + VL - 1) / VL, dstride = g->Ho * strips * VL;
    /* dout with each row padded to whole vectors of zeros: n x F x Ho x strips*VL, and 3
     * filters of zeros after the last image for a partial tile of filters to read */
    T *padded = malloc(sizeof(T) * (size_t)((g->n * g->F + 3) * dstride));
    if (!padded)
        return -1;
    for (long q = g->n * g->F * dstride; q < (g->n * g->F + 3) * dstride; q++)
        padded[q] = 0;
    for (long row = 0; row < g->n * g->F * g->Ho; row++) {
        T *to = padded + row * strips * VL;
        const T *from = dout + row * g->Wo;
        for (long q = 0; q < strips * VL; q++)
            to[q] = q < g->Wo ? from[q] : 0;
    }
    /* the output rows whose input row under kernel row i is in the image: [first[i], last[i]) */
    long *first = malloc(sizeof(long) * 2 * (size_t)g->kh), *last = first ? first + g->kh : NULL;
    if (!first) {
        free(padded);
        return -1;
    }
    tap_ranges(g, 0, first, last);
    const long width = g->kw >= 4 && g->kw <= 6 ? g->kw : 6;
    for (long k0 = 0; k0 < K; k0 += width) {
        const long offsets = K - k0 < width ? K - k0 : width;
        long o[6], y0 = g->Ho, y1 = 0;
        for (int k = 0; k < 6; k++) {        /* offsets past the tile repeat its last */
            const long kk = k0 + (k < offsets ? k : offsets - 1);
            const long j = kk % g->kw, i = (kk / g->kw) % g->kh, c = kk / (g->kw * g->kh);
            o[k] = c * plane + i * g->Wp + j;
            y0 = first[i] < y0 ? first[i] : y0;
            y1 = last[i] > y1 ? last[i] : y1;
        }
        for (long f0 = 0; f0 < g->F; f0 += 4) {
            const long filters = g->F - f0 < 4 ? g->F - f0 : 4;
#define FILTER_TILE(NK) \
    NAME(row_filter_tile)(x, padded, dw, g, o, f0, filters, k0, offsets, y0, y1, NK)
            if (offsets <= 3)
                FILTER_TILE(3);
            else if (offsets == 5)
                FILTER_TILE(5);
            else
                FILTER_TILE(6);
#undef FILTER_TILE
        }
    }
    free(first);
    free(padded);
    return 0;
}
#undef EACH_FILTER
#undef EACH_OFFSET
#undef DECLARE_SUM
#undef DECLARE_SUMS
#undef LOAD_DOUT
#undef LOAD_INPUT
#undef ADD_PRODUCT
#undef ADD_PRODUCTS
#undef STORE_SUM
#undef STORE_SUMS
