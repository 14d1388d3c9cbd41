/* Depthwise convolution and its two gradients for one element type, included once per type by
 * typed_kernels.h (T, NAME(x)).
 *
 * A call covers a range of planes: plane p is channel (first + p) % C of an image, H x W
 * values in DML's channel-major rows, so the planes of consecutive images follow each other
 * in memory, and so do their M output planes (Ho x Wo each; output plane p*M + m is plane p
 * convolved with filter c*M + m). Filters are (C*M) x (kh*kw), row-major kernels.
 *
 * Each plane is copied into a zero-bordered buffer first (when there is padding), so the
 * loops run without bounds checks. The innermost loops run along an output row: no
 * reductions there, so the compiler vectorises them without reassociating sums; the filter
 * gradient keeps one partial sum per output column and adds them up at the end of a plane.
 */
#ifndef KERASDML_DEPTHWISE_GEOMETRY
#define KERASDML_DEPTHWISE_GEOMETRY
/* One call's geometry, laid out as the int64 array native.py passes. */
struct depthwise_geometry {
    long planes, first, C, H, W, M, kh, kw, sh, sw, ph, pw, Ho, Wo;
};
#endif

/* The plane x (H x W) inside zero borders: padded is (H + 2ph) x (W + 2pw). */
static void NAME(depthwise_pad)(const T *restrict x, T *restrict padded,
                                const struct depthwise_geometry *g)
{
    const long Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph;
    for (long r = 0; r < Hp; r++) {
        T *row = padded + r * Wp;
        const long y = r - g->ph;
        if (y < 0 || y >= g->H) {
            for (long k = 0; k < Wp; k++)
                row[k] = 0;
            continue;
        }
        for (long k = 0; k < g->pw; k++)
            row[k] = row[g->pw + g->W + k] = 0;
        for (long k = 0; k < g->W; k++)
            row[g->pw + k] = x[y * g->W + k];
    }
}

/* The plane to read: x itself without padding, else its padded copy in buffer. */
static inline const T *NAME(depthwise_source)(const T *x, T *buffer,
                                              const struct depthwise_geometry *g)
{
    if (!g->ph && !g->pw)
        return x;
    NAME(depthwise_pad)(x, buffer, g);
    return buffer;
}

/* out row (Wo values) += weight * the input row `in`, read every sw-th value. */
static inline ALWAYS_INLINE void NAME(depthwise_row_add)(T *restrict out, const T *restrict in,
                                                         T weight, long Wo, long sw)
{
    if (sw == 1) {
        for (long x = 0; x < Wo; x++)
            out[x] += weight * in[x];
    } else {
        for (long x = 0; x < Wo; x++)
            out[x] += weight * in[x * sw];
    }
}

/* One output row of a 3x3 kernel (the common case: MobileNet, Xception, EfficientNet): the
 * nine products of each output value in one pass, in the order and from the 0 of the general
 * loop above (the same bits), instead of nine passes over the row; sw is 1 or 2, a constant
 * in each inlined copy so the loop vectorises. */
static inline ALWAYS_INLINE void NAME(depthwise_row_3x3)(T *restrict out, const T *restrict in,
                                                         const T *k, long Wp, long Wo,
                                                         const long sw)
{
    const T k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6],
            k7 = k[7], k8 = k[8];
    const T *r0 = in, *r1 = in + Wp, *r2 = in + 2 * Wp;
    for (long x = 0; x < Wo; x++) {
        const long q = x * sw;
        T v = 0;
        v += k0 * r0[q];
        v += k1 * r0[q + 1];
        v += k2 * r0[q + 2];
        v += k3 * r1[q];
        v += k4 * r1[q + 1];
        v += k5 * r1[q + 2];
        v += k6 * r2[q];
        v += k7 * r2[q + 1];
        v += k8 * r2[q + 2];
        out[x] = v;
    }
}

CLONES int NAME(depthwise_forward)(const T *x, const T *w, const T *bias, T *out,
                                   const struct depthwise_geometry *g)
{
    const long Wp = g->W + 2 * g->pw, K = g->kh * g->kw, Lo = g->Ho * g->Wo;
    T *buffer = malloc(sizeof(T) * (size_t)((g->H + 2 * g->ph) * Wp));
    if (!buffer)
        return -1;
    for (long p = 0; p < g->planes; p++) {
        const long c = (g->first + p) % g->C;
        const T *plane = NAME(depthwise_source)(x + p * g->H * g->W, buffer, g);
        for (long m = 0; m < g->M; m++) {
            const long f = c * g->M + m;
            const T *kernel = w + f * K;
            T *o = out + (p * g->M + m) * Lo;
            for (long y = 0; y < g->Ho; y++) {
                T *row = o + y * g->Wo;
                const T *in = plane + y * g->sh * Wp;
                if (g->kh == 3 && g->kw == 3 && g->sw <= 2) {
                    if (g->sw == 1)
                        NAME(depthwise_row_3x3)(row, in, kernel, Wp, g->Wo, 1);
                    else
                        NAME(depthwise_row_3x3)(row, in, kernel, Wp, g->Wo, 2);
                } else {
                    for (long x0 = 0; x0 < g->Wo; x0++)
                        row[x0] = 0;
                    for (long i = 0; i < g->kh; i++)
                        for (long j = 0; j < g->kw; j++)
                            NAME(depthwise_row_add)(row, in + i * Wp + j,
                                                    kernel[i * g->kw + j], g->Wo, g->sw);
                }
                if (bias)             /* after the sum, as bias_add after conv2d */
                    for (long x0 = 0; x0 < g->Wo; x0++)
                        row[x0] += bias[f];
            }
        }
    }
    free(buffer);
    return 0;
}

/* dx: every output cell's gradient times each kernel value, added where that value was read
 * (into a padded plane, whose interior is then the plane's gradient). */
CLONES int NAME(depthwise_backward_data)(const T *w, const T *dout, T *dx,
                                         const struct depthwise_geometry *g)
{
    const long Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph;
    const long K = g->kh * g->kw, Lo = g->Ho * g->Wo;
    T *padded = malloc(sizeof(T) * (size_t)(Hp * Wp));
    if (!padded)
        return -1;
    for (long p = 0; p < g->planes; p++) {
        const long c = (g->first + p) % g->C;
        for (long k = 0; k < Hp * Wp; k++)
            padded[k] = 0;
        for (long m = 0; m < g->M; m++) {
            const T *kernel = w + (c * g->M + m) * K;
            const T *d = dout + (p * g->M + m) * Lo;
            for (long y = 0; y < g->Ho; y++)
                for (long i = 0; i < g->kh; i++)
                    for (long j = 0; j < g->kw; j++) {
                        T *target = padded + (y * g->sh + i) * Wp + j;
                        const T *restrict source = d + y * g->Wo;
                        const T weight = kernel[i * g->kw + j];
                        if (g->sw == 1) {
                            for (long x0 = 0; x0 < g->Wo; x0++)
                                target[x0] += weight * source[x0];
                        } else {
                            for (long x0 = 0; x0 < g->Wo; x0++)
                                target[x0 * g->sw] += weight * source[x0];
                        }
                    }
        }
        T *plane = dx + p * g->H * g->W;
        for (long y = 0; y < g->H; y++)
            for (long x0 = 0; x0 < g->W; x0++)
                plane[y * g->W + x0] = padded[(y + g->ph) * Wp + g->pw + x0];
    }
    free(padded);
    return 0;
}

/* dw ((C*M) x K) += for each filter value, the sum over the planes' output cells of dout
 * times the input value it met. */
CLONES int NAME(depthwise_backward_filter)(const T *x, const T *dout, T *dw,
                                           const struct depthwise_geometry *g)
{
    const long Wp = g->W + 2 * g->pw, K = g->kh * g->kw, Lo = g->Ho * g->Wo;
    T *buffer = malloc(sizeof(T) * (size_t)((g->H + 2 * g->ph) * Wp));
    T *partial = malloc(sizeof(T) * (size_t)g->Wo);
    if (!buffer || !partial) {
        free(buffer);
        free(partial);
        return -1;
    }
    for (long p = 0; p < g->planes; p++) {
        const long c = (g->first + p) % g->C;
        const T *plane = NAME(depthwise_source)(x + p * g->H * g->W, buffer, g);
        for (long m = 0; m < g->M; m++) {
            const T *d = dout + (p * g->M + m) * Lo;
            T *gradient = dw + (c * g->M + m) * K;
            for (long i = 0; i < g->kh; i++)
                for (long j = 0; j < g->kw; j++) {
                    for (long x0 = 0; x0 < g->Wo; x0++)
                        partial[x0] = 0;
                    for (long y = 0; y < g->Ho; y++) {
                        const T *restrict in = plane + (y * g->sh + i) * Wp + j;
                        const T *restrict row = d + y * g->Wo;
                        if (g->sw == 1) {
                            for (long x0 = 0; x0 < g->Wo; x0++)
                                partial[x0] += row[x0] * in[x0];
                        } else {
                            for (long x0 = 0; x0 < g->Wo; x0++)
                                partial[x0] += row[x0] * in[x0 * g->sw];
                        }
                    }
                    T sum = 0;
                    for (long x0 = 0; x0 < g->Wo; x0++)
                        sum += partial[x0];
                    gradient[i * g->kw + j] += sum;
                }
        }
    }
    free(buffer);
    free(partial);
    return 0;
}
