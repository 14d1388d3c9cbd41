/* The direct convolution kernels for one element type, included once per type by typed_kernels.h
 * with T (float or double), V (a vector of T: 64 bytes, or 32 in the narrow version), VL (lanes
 * of V), KERNEL(x) (the kernel's name), KERNEL_TARGET (the CPUs it is built for) and
 * FOR_TILE_SHAPE (the tile shapes that fit the registers of that vector width) defined.
 *
 * Every kernel works on a chunk of images in DML's channel-major layout, zero padded ("x":
 * n x C x Hp x Wp), and sees the im2col patch matrix without building it: with the patch
 * columns in DML's filter order k = (c, i, j), patch row p = (image, y, x) starts at base[p] =
 * image*C*Hp*Wp + y*sh*Wp + x*sw, and kernel row (c, i) of it is the kw contiguous values at
 * base[p] + c*Hp*Wp + i*Wp. Weights and the filter gradient are K x Fp (K = C*kh*kw, rows in
 * the same k order), Fp a multiple of VL (zero columns added by the caller); the output and
 * dout are in DML's layout too (n x F x Ho*Wo), changed to and from pixel-major a few rows at
 * a time inside the kernels.
 *
 * A tile of MR rows x NV vectors of the output stays in registers for its whole reduction:
 * MR*NV <= 24 accumulators of 64 bytes (AVX-512's 32 registers), or 12 of 32 bytes (AVX2's
 * 16), so the FMA units never wait on one another (Zen / Skylake keep 8-10 FMAs in flight)
 * and each loaded weight vector serves MR rows.
 */

/* out[rows, strip] = patches[rows, :] @ w[:, strip] over the taps t; rows have patch starts
 * base[0..MR-1]. TAPS, when not 0, is the number of kernel columns t covers, known at compile
 * time: the loop over them is then unrolled (the common 3x3 and 5x5 kernels), which
 * leaves the FMA units only the loop over channels and kernel rows to wait on. */
static inline ALWAYS_INLINE void KERNEL(forward_tile)(
    const T *x, const long *base, const T *w, const struct geometry *g, struct taps t,
    T *out, const long *rowoff, int rows, const int MR, const int NV, const int TAPS)
{
    EACH_ROW(DECLARE_ROW)
    const long kw = g->kw, plane = g->Hp * g->Wp, Fp = g->Fp;
    const long columns = TAPS ? TAPS : t.j1 - t.j0;
#define ROW_POINTER(r) const T *x##r = x + base[r < MR ? r : 0] + t.j0;
    EACH_ROW(ROW_POINTER)
#undef ROW_POINTER
    const T *wc = w + t.j0 * Fp;
    for (long c = 0; c < g->C; c++) {
        for (long i = t.i0; i < t.i1; i++) {
            const long offset = c * plane + i * g->Wp;
            const T *wi = wc + (c * g->kh + i) * kw * Fp;
#pragma GCC unroll 8
            for (long j = 0; j < columns; j++) {
                LOAD_B(wi + j * Fp)
#define FORWARD_STEP(r) MULTIPLY_ADD_ROW(r, x##r[offset + j])
                EACH_ROW(FORWARD_STEP)
#undef FORWARD_STEP
            }
        }
    }
#define FORWARD_STORE(r) STORE_ROW(r, out + rowoff[r < rows ? r : 0])
    EACH_ROW(FORWARD_STORE)
#undef FORWARD_STORE
}

/* forward_tile with the number of kernel columns fixed for the common 3x3 and 5x5 kernels'
 * interior tiles (each variant is compiled for every tile shape and CPU target: the build's
 * time and size grow with their number). */
static inline ALWAYS_INLINE void KERNEL(forward_tile_by_taps)(
    const T *x, const long *base, const T *w, const struct geometry *g, struct taps t,
    T *out, const long *rowoff, int rows, const int MR, const int NV)
{
    switch (t.j1 - t.j0) {
    case 3: KERNEL(forward_tile)(x, base, w, g, t, out, rowoff, rows, MR, NV, 3); break;
    case 5: KERNEL(forward_tile)(x, base, w, g, t, out, rowoff, rows, MR, NV, 5); break;
    default: KERNEL(forward_tile)(x, base, w, g, t, out, rowoff, rows, MR, NV, 0); break;
    }
}

/* dw[rows, strip] += patches[p, rows]^T @ dout[p, strip] over the output pixels p of one
 * image in rows [box.i0, box.i1) x columns [box.j0, box.j1): the pixels whose patches take
 * any of the rows' taps on the image (the others multiply padding zeros). x is the image's
 * padded planes, off[r] row r's offset in a patch, dwrow[r] its row of dw; dout holds the
 * pass's pixels pixel-major from output row ya on. */
static inline ALWAYS_INLINE void KERNEL(filter_tile)(
    const T *x, const long *off, const long *dwrow, const T *dout, long ya, struct taps box,
    const struct geometry *g, T *dw, int rows, const int MR, const int NV)
{
    EACH_ROW(DECLARE_ROW)
    const long Fp = g->Fp;
#define FILTER_LOAD(r) LOAD_ROW(r, dw + dwrow[r < rows ? r : 0] * Fp)
    EACH_ROW(FILTER_LOAD)
#undef FILTER_LOAD
#define OFFSET(r) const long o##r = off[r < MR ? r : 0];
    EACH_ROW(OFFSET)
#undef OFFSET
    for (long y = box.i0; y < box.i1; y++) {
        const T *xp = x + y * g->sh * g->Wp + box.j0 * g->sw;
        const T *dp = dout + ((y - ya) * g->Wo + box.j0) * Fp;
        for (long q = box.j0; q < box.j1; q++, xp += g->sw, dp += Fp) {
            LOAD_B(dp)
#define FILTER_STEP(r) MULTIPLY_ADD_ROW(r, xp[o##r])
            EACH_ROW(FILTER_STEP)
#undef FILTER_STEP
        }
    }
#define FILTER_STORE(r) STORE_ROW(r, dw + dwrow[r < rows ? r : 0] * Fp)
    EACH_ROW(FILTER_STORE)
#undef FILTER_STORE
}

/* VL x VL blocks transposed in registers, for the changes between channel-major planes and
 * pixel-major rows: log2(VL) rounds, each exchanging the off-diagonal half-blocks of every
 * pair of rows d apart with two-source shuffles (64-byte vectors only: AVX2 has no
 * two-source shuffle, and the narrow version moves values one at a time). */
typedef __typeof__((V){0} > (V){0}) KERNEL(lane_index);

struct KERNEL(transpose) {
    KERNEL(lane_index) low[4], high[4];
};

static inline ALWAYS_INLINE struct KERNEL(transpose) KERNEL(transpose_masks)(void)
{
    struct KERNEL(transpose) m;
    int round = 0;
    for (int d = VL / 2; d >= 1; d /= 2, round++)
        for (int l = 0; l < VL; l++) {
            m.low[round][l] = (l & d) == 0 ? l : VL + l - d;
            m.high[round][l] = (l & d) == 0 ? l + d : VL + l;
        }
    return m;
}

/* r[k][l] becomes r[l][k]. */
static inline ALWAYS_INLINE void KERNEL(transpose_block)(V *r, const struct KERNEL(transpose) *m)
{
    int round = 0;
#pragma GCC unroll 4
    for (int d = VL / 2; d >= 1; d /= 2, round++)
#pragma GCC unroll 16
        for (int i = 0; i < VL; i++)
            if (!(i & d)) {
                const V a = r[i], b = r[i + d];
                r[i] = __builtin_shuffle(a, b, m->low[round]);
                r[i + d] = __builtin_shuffle(a, b, m->high[round]);
            }
}

/* to[q * ldt + f] = from[f * L + q] for q < count, f < F: channel-major planes to pixel-major
 * rows, VL x VL blocks at a time where the vectors are 64 bytes, the rest one by one. */
static inline ALWAYS_INLINE void KERNEL(gather_pixel_major)(const T *from, long L, long F,
                                                           long count, T *to, long ldt)
{
    long f_end = 0, q_end = 0;
    if (sizeof(V) == 64) {
        const struct KERNEL(transpose) m = KERNEL(transpose_masks)();
        f_end = F / VL * VL;
        q_end = count / VL * VL;
        for (long f0 = 0; f0 < f_end; f0 += VL)
            for (long q0 = 0; q0 < q_end; q0 += VL) {
                V r[VL];
#pragma GCC unroll 16
                for (int k = 0; k < VL; k++)
                    r[k] = *(const VU *)(from + (f0 + k) * L + q0);
                KERNEL(transpose_block)(r, &m);
#pragma GCC unroll 16
                for (int k = 0; k < VL; k++)
                    *(VU *)(to + (q0 + k) * ldt + f0) = r[k];
            }
    }
    for (long f = 0; f < F; f++)
        for (long q = f < f_end ? q_end : 0; q < count; q++)
            to[q * ldt + f] = from[f * L + q];
}

/* relu as numpy's maximum(v, 0) on a vector: NaN <= 0 is false, so NaN stays; -0 becomes +0
 * (the row kernels, included after this file's wide version, use it too). */
static inline ALWAYS_INLINE V KERNEL(relu_vector)(V v)
{
    const KERNEL(lane_index) keep = ~(v <= 0);
    return (V)((KERNEL(lane_index))v & keep);
}

/* The bias (unless NULL) and relu (the same as relu_vector's) on one value. */
static inline ALWAYS_INLINE T KERNEL(finish_value)(T v, const T *bias, long f, int relu)
{
    const T sum = bias ? v + bias[f] : v;
    return relu && sum <= 0 ? 0 : sum;
}

/* out[image, f, q] = finish(stage[(image * L + q) * lds + f - f0]) for filters f0 <= f < f1:
 * a strip's pixel-major results to DML's channel-major layout, VL x VL blocks at a time where
 * the vectors are 64 bytes, the rest one by one. */
static inline ALWAYS_INLINE void KERNEL(scatter_channel_major)(
    const T *stage, long lds, long n, long L, long F, long f0, long f1, const T *bias,
    int relu, T *out)
{
    long f_end = f0, q_end = 0;
    if (sizeof(V) == 64) {
        const struct KERNEL(transpose) m = KERNEL(transpose_masks)();
        f_end = f0 + (f1 - f0) / VL * VL;
        q_end = L / VL * VL;
        for (long image = 0; image < n; image++)
            for (long fb = f0; fb < f_end; fb += VL) {
                const V add = bias ? *(const VU *)(bias + fb) : (V){0};
                for (long q0 = 0; q0 < q_end; q0 += VL) {
                    V r[VL];
#pragma GCC unroll 16
                    for (int k = 0; k < VL; k++)
                        r[k] = *(const VU *)(stage + (image * L + q0 + k) * lds + fb - f0);
                    KERNEL(transpose_block)(r, &m);
#pragma GCC unroll 16
                    for (int k = 0; k < VL; k++) {
                        const V v = bias ? r[k] + add[k] : r[k];
                        *(VU *)(out + (image * F + fb + k) * L + q0) =
                            relu ? KERNEL(relu_vector)(v) : v;
                    }
                }
            }
    }
    for (long image = 0; image < n; image++)
        for (long f = f0; f < f1; f++)
            for (long q = f < f_end ? q_end : 0; q < L; q++)
                out[(image * F + f) * L + q] =
                    KERNEL(finish_value)(stage[(image * L + q) * lds + f - f0], bias, f, relu);
}

/* out (n x F x Ho*Wo, DML's channel-major layout) = conv of the padded chunk x with w, plus
 * bias[f] unless bias is NULL, through relu when g->relu. Tiles are computed pixel-major (12
 * pixels at a time in forward_order's order x a strip of filters) into a pixel-major stage
 * of the chunk, whole vectors per pixel, which then goes to the channel-major output in
 * transposed blocks, bias and relu on the way. Strips are the outer loop: a strip of weights
 * (K x 4 vectors) stays in the L2 cache while every pixel of the chunk passes by it (the
 * whole of w, K x Fp, is megabytes in deep layers). */
KERNEL_TARGET int KERNEL(conv_forward)(const T *x, const T *w, const T *bias, T *out,
                              const struct geometry *g)
{
    const long L = g->Ho * g->Wo, P = g->n * L, lds = 4 * VL;
    long *order = malloc(sizeof(long) * (size_t)P);
    T *stage = malloc(sizeof(T) * (size_t)(P * lds));
    if (!order || !stage || forward_order(g, order) != 0) {
        free(order);
        free(stage);
        return -1;
    }
    for (long f0 = 0; f0 < g->Fp; f0 += 4 * VL) {
        const int nv = (int)((g->Fp - f0) / VL < 4 ? (g->Fp - f0) / VL : 4);
        const long f1 = f0 + nv * VL < g->F ? f0 + nv * VL : g->F;
        for (long p0 = 0; p0 < P; p0 += 12) {            /* 12: a multiple of every MR */
            const long block = P - p0 < 12 ? P - p0 : 12;
            long base[12], rowoff[12];
            struct taps taps[12];
            for (int r = 0; r < 12; r++) {
                const long p = order[p0 + (r < block ? r : block - 1)], pixel = p % L;
                base[r] = patch_start(g, p);
                rowoff[r] = p * lds;
                taps[r] = patch_taps(g, pixel / g->Wo, pixel % g->Wo);
            }
#define FORWARD_ROWS(MR, NV)                                                             \
            for (long r0 = 0; r0 < block; r0 += MR) {                                    \
                const int rows = (int)(block - r0 < MR ? block - r0 : MR);              \
                long b[MR];                                                              \
                struct taps t = taps[r0];                                                \
                for (int r = 0; r < MR; r++) {                                           \
                    b[r] = base[r0 + (r < rows ? r : rows - 1)];                         \
                    t = united_taps(t, taps[r0 + (r < rows ? r : rows - 1)]);            \
                }                                                                        \
                KERNEL(forward_tile_by_taps)(x, b, w + f0, g, t, stage, rowoff + r0, rows, MR, NV); \
            }
            FOR_TILE_SHAPE(nv, FORWARD_ROWS)
#undef FORWARD_ROWS
        }
        KERNEL(scatter_channel_major)(stage, lds, g->n, L, g->F, f0, f1,
                                      bias, g->relu != 0, out);
    }
    free(order);
    free(stage);
    return 0;
}

/* dw (K x Fp) += patches^T @ dout for the padded chunk x; dout is channel-major (n x F x
 * Ho*Wo, DML's layout). A pass takes a few output rows of one image, their dout gathered
 * pixel-major (zero past F) into a buffer that stays in cache. The gradient's rows are taken
 * tap by tap (the channels of kernel offset (i, j) together), so that a tile's rows share
 * their taps, and a tile multiplies only the pixels whose patches take them on the image:
 * the products with padding zeros, a sixth of a 5x5 'same' layer over 14x14 maps, are
 * skipped (the sums keep their bits, save where dout holds an Inf or NaN). */
KERNEL_TARGET int KERNEL(conv_backward_filter)(const T *x, const T *dout, T *dw, const struct geometry *g)
{
    const long L = g->Ho * g->Wo, taps = g->kh * g->kw, K = taps * g->C;
    const long passes = (L + FILTER_ROWS_PER_PASS - 1) / FILTER_ROWS_PER_PASS;
    const long pass_rows = (g->Ho + passes - 1) / passes;
    const long tiles = K + 12;                 /* rows past K repeat the last one, unstored */
    long *off = malloc(sizeof(long) * (size_t)tiles), *dwrow = malloc(sizeof(long) * (size_t)tiles);
    long *ranges = malloc(sizeof(long) * (size_t)(2 * (g->kh + g->kw)));
    struct taps *boxes = malloc(sizeof(struct taps) * (size_t)tiles);
    T *rows_buffer = calloc((size_t)(pass_rows * g->Wo * g->Fp), sizeof(T));
    if (!off || !dwrow || !ranges || !boxes || !rows_buffer) {
        free(off);
        free(dwrow);
        free(ranges);
        free(boxes);
        free(rows_buffer);
        return -1;
    }
    long *ylo = ranges, *yhi = ylo + g->kh, *xlo = yhi + g->kh, *xhi = xlo + g->kw;
    tap_ranges(g, 0, ylo, yhi);
    tap_ranges(g, 1, xlo, xhi);
    for (long t = 0; t < tiles; t++) {          /* t = (i, j, c): k = (c, i, j) */
        const long tt = t < K ? t : K - 1, c = tt % g->C, tap = tt / g->C;
        const long i = tap / g->kw, j = tap % g->kw;
        dwrow[t] = c * taps + tap;
        off[t] = patch_offset(g, dwrow[t]);
        boxes[t] = (struct taps){ylo[i], yhi[i], xlo[j], xhi[j]};
    }
    const long plane_set = g->C * g->Hp * g->Wp;
    for (long image = 0; image < g->n; image++) {
        for (long ya = 0; ya < g->Ho; ya += pass_rows) {
            const long yb = g->Ho - ya < pass_rows ? g->Ho : ya + pass_rows;
            const long count = (yb - ya) * g->Wo;
            KERNEL(gather_pixel_major)(dout + image * g->F * L + ya * g->Wo, L, g->F, count,
                                       rows_buffer, g->Fp);
            for (long f0 = 0; f0 < g->Fp; f0 += 4 * VL) {
                const int nv = (int)((g->Fp - f0) / VL < 4 ? (g->Fp - f0) / VL : 4);
#define FILTER_ROWS(MR, NV)                                                              \
                for (long t0 = 0; t0 < K; t0 += MR) {                                    \
                    const int rows = (int)(K - t0 < MR ? K - t0 : MR);                  \
                    struct taps box = boxes[t0];         /* the rows' pixels: united */  \
                    for (int r = 1; r < rows; r++)                                       \
                        box = united_taps(box, boxes[t0 + r]);                           \
                    box.i0 = box.i0 > ya ? box.i0 : ya;                                  \
                    box.i1 = box.i1 < yb ? box.i1 : yb;                                  \
                    if (box.i0 >= box.i1 || box.j0 >= box.j1)                            \
                        continue;                                                        \
                    KERNEL(filter_tile)(x + image * plane_set, off + t0, dwrow + t0,      \
                                        rows_buffer + f0, ya, box, g, dw + f0, rows,     \
                                        MR, NV);                                         \
                }
                FOR_TILE_SHAPE(nv, FILTER_ROWS)
#undef FILTER_ROWS
            }
        }
    }
    free(off);
    free(dwrow);
    free(ranges);
    free(boxes);
    free(rows_buffer);
    return 0;
}
