/* What every translation unit of the kernels shares: the compiler's target attributes, the
 * geometries native.py passes, and the patch arithmetic of the convolutions. kernels.c holds
 * the float kernels (and the CPU checks, the column sums, the module), kernels_f64.c the
 * double ones: the two compile at once, each a few minutes of target clones. */
#ifndef KERASDML_COMMON_H
#define KERASDML_COMMON_H
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define NARROW_TARGET __attribute__((target("avx2,fma")))
#else
#define CLONES
#define NARROW_TARGET
#endif
#define ALWAYS_INLINE __attribute__((always_inline))

/* Patch rows per pass of the filter gradient (about: whole output rows of one image): their
 * dout rows (48 KB of float at Fp = 64) stay in the L1/L2 cache while every kernel-offset row
 * of the gradient reads them. */
#define FILTER_ROWS_PER_PASS 192

/* One chunk's geometry, laid out as the int64 array native.py passes. */
struct geometry {
    long n, Hp, Wp, C, kh, kw, sh, sw, Ho, Wo, Fp, F;    /* F filters, Fp: padded to vectors */
    long relu;     /* forward kernels: store max(v, 0) (numpy's bits: NaN stays, -0 gives +0) */
    long ph, pw, H, W;  /* the zero padding and the image inside it (rows and columns) */
};

/* A pooling call's geometry: planes = images * channels. */
struct pool_geometry {
    long planes, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo;
};

/* A pad_planes call's geometry: Wp is the padded row stride, W + 2 pw or more. */
struct pad_geometry {
    long planes, H, W, ph, pw, Hp, Wp;
};

/* Offset of patch row p = (image, y, x) in the padded channel-major chunk. */
static inline long patch_start(const struct geometry *g, long p)
{
    const long x = p % g->Wo, y = (p / g->Wo) % g->Ho, image = p / (g->Wo * g->Ho);
    return image * g->C * g->Hp * g->Wp + y * g->sh * g->Wp + x * g->sw;
}

/* Offset of patch column k = (c, i, j) from its row's start. */
static inline long patch_offset(const struct geometry *g, long k)
{
    const long j = k % g->kw, i = (k / g->kw) % g->kh, c = k / (g->kw * g->kh);
    return (c * g->Hp + i) * g->Wp + j;
}

/* The kernel rows [i0, i1) and columns [j0, j1) of a patch that lie on the image rather than
 * on its zero padding: the forward kernels multiply only those (as TensorFlow does), which
 * skips a sixth of the work of a 5x5 'same' convolution over 14x14 maps. Skipping a product
 * with a padding zero leaves every sum's bits as they are, save where a weight is Inf or NaN. */
struct taps {
    long i0, i1, j0, j1;
};

static inline long clamp_index(long v, long lo, long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The taps of the patch of output pixel (y, x). */
static inline struct taps patch_taps(const struct geometry *g, long y, long x)
{
    struct taps t;
    t.i0 = clamp_index(g->ph - y * g->sh, 0, g->kh);
    t.i1 = clamp_index(g->H + g->ph - y * g->sh, t.i0, g->kh);
    t.j0 = clamp_index(g->pw - x * g->sw, 0, g->kw);
    t.j1 = clamp_index(g->W + g->pw - x * g->sw, t.j0, g->kw);
    return t;
}

/* The taps that cover both a and b. */
static inline struct taps united_taps(struct taps a, struct taps b)
{
    a.i0 = b.i0 < a.i0 ? b.i0 : a.i0;
    a.j0 = b.j0 < a.j0 ? b.j0 : a.j0;
    a.i1 = b.i1 > a.i1 ? b.i1 : a.i1;
    a.j1 = b.j1 > a.j1 ? b.j1 : a.j1;
    return a;
}

/* The end of the run of output rows (or columns) from a whose patches have a's kernel rows
 * (or columns). */
static long tap_run_end(const struct geometry *g, int columns, long a)
{
    const long count = columns ? g->Wo : g->Ho;
    const struct taps first = columns ? patch_taps(g, 0, a) : patch_taps(g, a, 0);
    long end = a + 1;
    for (; end < count; end++) {
        const struct taps next = columns ? patch_taps(g, 0, end) : patch_taps(g, end, 0);
        if (columns ? next.j0 != first.j0 || next.j1 != first.j1
                    : next.i0 != first.i0 || next.i1 != first.i1)
            break;
    }
    return end;
}

/* The runs of output rows (or columns) with the same taps: fills ends with each run's end and
 * returns the number of runs. */
static long tap_runs(const struct geometry *g, int columns, long *ends)
{
    const long count = columns ? g->Wo : g->Ho;
    long runs = 0;
    for (long a = 0; a < count; a = ends[runs++])
        ends[runs] = tap_run_end(g, columns, a);
    return runs;
}

/* The output pixels whose patches take kernel row i on the image: rows [first[i], last[i]) (a
 * run: a patch's first tap row falls and its end falls as y grows), and likewise the columns
 * of kernel column j when columns is set; first = count, last = 0 where none does. */
static void tap_ranges(const struct geometry *g, int columns, long *first, long *last)
{
    const long count = columns ? g->Wo : g->Ho, taps = columns ? g->kw : g->kh;
    for (long t = 0; t < taps; t++) {
        first[t] = count;
        last[t] = 0;
    }
    for (long a = 0; a < count; a++) {
        const struct taps t = columns ? patch_taps(g, 0, a) : patch_taps(g, a, 0);
        for (long k = columns ? t.j0 : t.i0; k < (columns ? t.j1 : t.i1); k++) {
            first[k] = a < first[k] ? a : first[k];
            last[k] = a + 1 > last[k] ? a + 1 : last[k];
        }
    }
}

/* The order in which the forward kernels take a chunk's output pixels: grouped by their
 * patches' taps (a run of rows x a run of columns: the interior, each border strip, each
 * corner), the group's pixels of every image of the chunk together and row by row within it.
 * The forward kernels take them 12 at a time, and a tile, which multiplies the taps its
 * pixels share (united), nearly always holds pixels with the same ones. Fills order with the
 * n*Ho*Wo pixel indices; returns -1 when out of memory. */
static int forward_order(const struct geometry *g, long *order)
{
    const long L = g->Ho * g->Wo;
    long *row_ends = malloc(sizeof(long) * (size_t)g->Ho);
    long *column_ends = malloc(sizeof(long) * (size_t)g->Wo);
    if (!row_ends || !column_ends) {
        free(row_ends);
        free(column_ends);
        return -1;
    }
    const long row_runs = tap_runs(g, 0, row_ends), column_runs = tap_runs(g, 1, column_ends);
    long q = 0;
    for (long r = 0, y0 = 0; r < row_runs; y0 = row_ends[r++])
        for (long c = 0, x0 = 0; c < column_runs; x0 = column_ends[c++])
            for (long image = 0; image < g->n; image++)
                for (long y = y0; y < row_ends[r]; y++)
                    for (long x = x0; x < column_ends[c]; x++)
                        order[q++] = image * L + y * g->Wo + x;
    free(row_ends);
    free(column_ends);
    return 0;
}

/* cpu_features.h, compiled into kernels.c */
int wide_vector_registers(void);
int narrow_vector_registers(void);

#endif
