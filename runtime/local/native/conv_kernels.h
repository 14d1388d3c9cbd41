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
    T *out, long ldo, int rows, const int MR, const int NV, const int TAPS)
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
#define FORWARD_STORE(r) STORE_ROW(r, out + r * ldo)
    EACH_ROW(FORWARD_STORE)
#undef FORWARD_STORE
}

/* forward_tile with the number of kernel columns fixed for the common 3x3 and 5x5 kernels'
 * interior tiles (each variant is compiled for every tile shape and CPU target: the build's
 * time and size grow with their number). */
static inline ALWAYS_INLINE void KERNEL(forward_tile_by_taps)(
    const T *x, const long *base, const T *w, const struct geometry *g, struct taps t,
    T *out, long ldo, int rows, const int MR, const int NV)
{
    switch (t.j1 - t.j0) {
    case 3: KERNEL(forward_tile)(x, base, w, g, t, out, ldo, rows, MR, NV, 3); break;
    case 5: KERNEL(forward_tile)(x, base, w, g, t, out, ldo, rows, MR, NV, 5); break;
    default: KERNEL(forward_tile)(x, base, w, g, t, out, ldo, rows, MR, NV, 0); break;
    }
}

/* dw[rows, strip] += patches[p, rows]^T @ dout[p, strip] over count patch rows p. */
static inline ALWAYS_INLINE void KERNEL(filter_tile)(
    const T *x, const long *base, long count, const long *off, const T *dout,
    const struct geometry *g, T *dw, int rows, const int MR, const int NV)
{
    EACH_ROW(DECLARE_ROW)
    const long Fp = g->Fp;
#define FILTER_LOAD(r) LOAD_ROW(r, dw + r * Fp)
    EACH_ROW(FILTER_LOAD)
#undef FILTER_LOAD
#define OFFSET(r) const long o##r = off[r < MR ? r : 0];
    EACH_ROW(OFFSET)
#undef OFFSET
    for (long p = 0; p < count; p++) {
        const T *xp = x + base[p];
        LOAD_B(dout + p * Fp)
#define FILTER_STEP(r) MULTIPLY_ADD_ROW(r, xp[o##r])
        EACH_ROW(FILTER_STEP)
#undef FILTER_STEP
    }
#define FILTER_STORE(r) STORE_ROW(r, dw + r * Fp)
    EACH_ROW(FILTER_STORE)
#undef FILTER_STORE
}

/* out (n x F x Ho*Wo, DML's channel-major layout) = conv of the padded chunk x with w, plus
 * bias[f] unless bias is NULL, through relu when g->relu. Tiles are computed pixel-major
 * (12 pixels at a time in forward_order's order x a strip of filters, in a buffer that
 * stays in L1) and written out channel by channel: neighbouring pixels of a channel are
 * neighbours in the output, so no separate transposing pass is needed. Strips are the outer
 * loop: a strip of weights (K x 4 vectors) stays in the L2 cache while every pixel of the
 * chunk passes by it (the whole of w, K x Fp, is megabytes in deep layers). */
KERNEL_TARGET int KERNEL(conv_forward)(const T *x, const T *w, const T *bias, T *out,
                              const struct geometry *g)
{
    const long L = g->Ho * g->Wo, P = g->n * L;
    long *order = malloc(sizeof(long) * (size_t)P);
    if (!order || forward_order(g, order) != 0) {
        free(order);
        return -1;
    }
    T tile[12 * 4 * VL];
    for (long f0 = 0; f0 < g->Fp; f0 += 4 * VL) {
        const int nv = (int)((g->Fp - f0) / VL < 4 ? (g->Fp - f0) / VL : 4);
        const long f1 = f0 + nv * VL < g->F ? f0 + nv * VL : g->F;
        for (long p0 = 0; p0 < P; p0 += 12) {            /* 12: a multiple of every MR */
            const long block = P - p0 < 12 ? P - p0 : 12;
            long base[12], image[12], pixel[12];
            struct taps taps[12];
            for (int r = 0; r < 12; r++) {
                const long p = order[p0 + (r < block ? r : block - 1)];
                base[r] = patch_start(g, p);
                image[r] = p / L;
                pixel[r] = p % L;
                taps[r] = patch_taps(g, pixel[r] / g->Wo, pixel[r] % g->Wo);
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
                KERNEL(forward_tile_by_taps)(x, b, w + f0, g, t, tile + r0 * 4 * VL, 4 * VL, rows, MR, NV); \
            }
            FOR_TILE_SHAPE(nv, FORWARD_ROWS)
#undef FORWARD_ROWS
            for (long f = f0; f < f1; f++) {
                const T add = bias ? bias[f] : 0;
                const int relu = g->relu != 0;
                for (long r = 0; r < block; r++) {
                    const T v = tile[r * 4 * VL + (f - f0)];
                    const T sum = bias ? v + add : v;
                    /* relu as numpy's maximum(sum, 0): NaN <= 0 is false, NaN stays */
                    out[(image[r] * g->F + f) * L + pixel[r]] = relu && sum <= 0 ? 0 : sum;
                }
            }
        }
    }
    free(order);
    return 0;
}

/* dw (K x Fp) += patches^T @ dout for the padded chunk x; dout is channel-major (n x F x
 * Ho*Wo, DML's layout), and each pass's rows are first gathered pixel-major (FILTER_ROWS_PER_PASS
 * x Fp, zero past F) into a buffer that stays in cache. */
KERNEL_TARGET int KERNEL(conv_backward_filter)(const T *x, const T *dout, T *dw, const struct geometry *g)
{
    const long L = g->Ho * g->Wo, P = g->n * L, K = g->kh * g->kw * g->C;
    long *base = malloc(sizeof(long) * (size_t)P), *off = malloc(sizeof(long) * (size_t)(K + 12));
    T *rows_buffer = malloc(sizeof(T) * FILTER_ROWS_PER_PASS * (size_t)g->Fp);
    if (!base || !off || !rows_buffer) {
        free(base);
        free(off);
        free(rows_buffer);
        return -1;
    }
    for (long p = 0; p < P; p++)
        base[p] = patch_start(g, p);
    for (long k = 0; k < K + 12; k++)          /* rows past K repeat the last one, unstored */
        off[k] = patch_offset(g, k < K ? k : K - 1);
    for (long p0 = 0; p0 < P; p0 += FILTER_ROWS_PER_PASS) {
        const long count = P - p0 < FILTER_ROWS_PER_PASS ? P - p0 : FILTER_ROWS_PER_PASS;
        for (long q = 0; q < count; q++)              /* gather: channel-major -> pixel-major */
            for (long f = g->F; f < g->Fp; f++)
                rows_buffer[q * g->Fp + f] = 0;
        for (long q0 = 0; q0 < count;) {             /* runs of pixels within one image */
            const long p = p0 + q0, image = p / L, pixel = p % L;
            const long run = L - pixel < count - q0 ? L - pixel : count - q0;
            for (long f = 0; f < g->F; f++) {
                const T *from = dout + (image * g->F + f) * L + pixel;
                for (long q = 0; q < run; q++)
                    rows_buffer[(q0 + q) * g->Fp + f] = from[q];
            }
            q0 += run;
        }
        for (long f0 = 0; f0 < g->Fp; f0 += 4 * VL) {
            const int nv = (int)((g->Fp - f0) / VL < 4 ? (g->Fp - f0) / VL : 4);
#define FILTER_ROWS(MR, NV)                                                              \
            for (long k0 = 0; k0 < K; k0 += MR) {                                        \
                const int rows = (int)(K - k0 < MR ? K - k0 : MR);                      \
                KERNEL(filter_tile)(x, base + p0, count, off + k0, rows_buffer + f0,       \
                                  g, dw + k0 * g->Fp + f0, rows, MR, NV);                \
            }
            FOR_TILE_SHAPE(nv, FILTER_ROWS)
#undef FILTER_ROWS
        }
    }
    free(base);
    free(off);
    free(rows_buffer);
    return 0;
}
