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

/* One vector of output pixels, count of them inside the row. A whole vector is stored even
 * when it runs past the row (room: the lanes to the end of the plane): the pixels past the
 * row belong to later rows of the same plane, which are written after this one. Only at a
 * plane's end are the lanes copied one by one: a vector store followed by scalar reloads of it
 * waits for the store, which costs more than the arithmetic of the whole tile. */
static inline ALWAYS_INLINE void NAME(store_pixels)(T *dst, V v, const T *bias, int relu,
                                                    long count, long room)
{
    if (bias)
        v += *bias;
    if (relu)
        v = NAME(relu_vector)(v);
    if (count >= VL || room >= VL) {
        *(VU *)dst = v;
        return;
    }
    T lanes[VL];
    *(VU *)lanes = v;
    for (long q = 0; q < count; q++)
        dst[q] = lanes[q];
}

/* out[f0 + r, y, x0 .. x0 + NV*VL) for the rows (filters) r < rows, over the kernel rows
 * [t.i0, t.i1); x points at (image, y, x0) of the padded chunk, w at filter f0, out at
 * out[f0, y, x0]; valid: pixels left in the row, room: pixels left in the plane. KW, when not
 * 0, is the kernel's width known at compile time (the loop over it unrolled). */
static inline ALWAYS_INLINE void NAME(row_forward_tile)(
    const T *x, const T *w, const T *bias, const struct geometry *g, struct taps t, T *out,
    long valid, long room, int rows, const int MR, const int NV, const int KW)
{
    EACH_ROW(DECLARE_ROW)
    const long K = g->C * g->kh * g->kw, plane = g->Hp * g->Wp, L = g->Ho * g->Wo;
    const int relu = g->relu != 0;
    const long columns = KW ? KW : g->kw;
    for (long c = 0; c < g->C; c++) {
        for (long i = t.i0; i < t.i1; i++) {
            const T *xr = x + c * plane + i * g->Wp;
            const T *wr = w + (c * g->kh + i) * g->kw;
#pragma GCC unroll 8
            for (long j = 0; j < columns; j++) {
                LOAD_B(xr + j)
#define ROW_STEP(r) MULTIPLY_ADD_ROW(r, wr[(r < rows ? r : 0) * K + j])
                EACH_ROW(ROW_STEP)
#undef ROW_STEP
            }
        }
    }
#define ROW_STORE(r)                                                                    \
    if (r < rows) {                                                                     \
        NAME(store_pixels)(out + r * L, c##r##_0, bias ? bias + r : NULL, relu, valid,  \
                           room);                                                       \
        if (NV > 1)                                                                     \
            NAME(store_pixels)(out + r * L + VL, c##r##_1, bias ? bias + r : NULL, relu, \
                               valid - VL, room - VL);                                  \
    }
    EACH_ROW(ROW_STORE)
#undef ROW_STORE
}

/* out (n x F x Ho*Wo) = conv of the padded chunk x with w (F x K), plus bias[f] unless NULL,
 * through relu when g->relu. */
CLONES int NAME(row_conv_forward)(const T *x, const T *w, const T *bias, T *out,
                                  const struct geometry *g)
{
    const long K = g->C * g->kh * g->kw, L = g->Ho * g->Wo, plane = g->Hp * g->Wp;
    const long strips = (g->Wo + VL - 1) / VL;
    for (long image = 0; image < g->n; image++) {
        for (long y = 0; y < g->Ho; y++) {
            /* the kernel rows on the image; every kernel column, padding or not, for vectors
             * of pixels */
            struct taps t = patch_taps(g, y, 0);
            t.j0 = 0;
            t.j1 = g->kw;
            for (long f0 = 0; f0 < g->F; f0 += 12) {
                const int rows = (int)(g->F - f0 < 12 ? g->F - f0 : 12);
                for (long s0 = 0; s0 < strips; s0 += 2) {
                    const T *xs = x + image * g->C * plane + y * g->Wp + s0 * VL;
                    T *os = out + (image * g->F + f0) * L + y * g->Wo + s0 * VL;
                    const long valid = g->Wo - s0 * VL, room = L - y * g->Wo - s0 * VL;
                    const T *b = bias ? bias + f0 : NULL;
#define ROW_TILE(NV, KW) \
    NAME(row_forward_tile)(xs, w + f0 * K, b, g, t, os, valid, room, rows, 12, NV, KW)
                    if (strips - s0 >= 2 && g->kw == 5)
                        ROW_TILE(2, 5);
                    else if (strips - s0 >= 2 && g->kw == 3)
                        ROW_TILE(2, 3);
                    else if (strips - s0 >= 2)
                        ROW_TILE(2, 0);
                    else
                        ROW_TILE(1, 0);
#undef ROW_TILE
                }
            }
        }
    }
    return 0;
}

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
