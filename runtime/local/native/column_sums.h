/* The per-column passes of the compensated column sums (aggregates.py explains the scheme),
 * double precision, one pass each instead of numpy's nine: every value is split on its
 * column's grids into high + middle + low exactly, as (x + coarse) - coarse and so on, and
 * the three parts are summed down the column. The high and middle sums are exact in any order;
 * the low sum is added in numpy's order, so the results are the same bits.
 * No multiplications: the compiler has nothing to contract into an FMA. */

/* Four vectors of eight columns at a time, held in registers while the rows pass by (a
 * column's additions keep their order: row after row; each row gives four whole cache
 * lines), then the columns left one at a time. */
typedef double column_vector __attribute__((vector_size(64)));
typedef double column_vector_unaligned __attribute__((vector_size(64), aligned(8)));
typedef long column_mask __attribute__((vector_size(64)));
#define COLUMNS_AT_ONCE 8

/* largest[j] = max |x[i, j]| over the rows (NaN ignored: the caller's NaN check catches it). */
#define EACH_VECTOR(M) M(0) M(1) M(2) M(3)
CLONES void column_largest_f64(const double *x, long rows, long cols, long ld, double *largest)
{
    const column_mask magnitude = (column_mask){0} + 0x7fffffffffffffffL;  /* no sign */
    long j = 0;
    for (; j + 4 * COLUMNS_AT_ONCE <= cols; j += 4 * COLUMNS_AT_ONCE) {
#define TOP_START(k) column_vector top##k = {0};
        EACH_VECTOR(TOP_START)
        for (long i = 0; i < rows; i++) {
            const double *row = x + i * ld + j;
#define TOP_ROW(k)                                                                          \
            {                                                                               \
                const column_vector v = (column_vector)(                                    \
                    (column_mask)*(const column_vector_unaligned *)(row + 8 * k) & magnitude); \
                const column_mask above = v > top##k;             /* false for NaN */       \
                top##k = (column_vector)(((column_mask)v & above) | ((column_mask)top##k & ~above)); \
            }
            EACH_VECTOR(TOP_ROW)
        }
#define TOP_STORE(k) *(column_vector_unaligned *)(largest + j + 8 * k) = top##k;
        EACH_VECTOR(TOP_STORE)
    }
#undef TOP_START
#undef TOP_ROW
#undef TOP_STORE
#undef EACH_VECTOR
    for (; j < cols; j++) {
        largest[j] = 0;
        for (long i = 0; i < rows; i++) {
            const double v = x[i * ld + j] < 0 ? -x[i * ld + j] : x[i * ld + j];
            largest[j] = v > largest[j] ? v : largest[j];
        }
    }
}

/* high, middle, low (cols each) = the column sums of the parts, as numpy forms them: each
 * block of `step` rows summed row after row, the block sums added in block order. */
#define EACH_VECTOR(M) M(0) M(1) M(2) M(3)
CLONES int column_split_sums_f64(const double *x, long rows, long cols, long ld, long step,
                                 const double *coarse, const double *fine,
                                 double *high, double *middle, double *low)
{
    long j = 0;
    for (; j + 4 * COLUMNS_AT_ONCE <= cols; j += 4 * COLUMNS_AT_ONCE) {
#define VECTOR_START(k)                                                                     \
        const column_vector c##k = *(const column_vector_unaligned *)(coarse + j + 8 * k); \
        const column_vector f##k = *(const column_vector_unaligned *)(fine + j + 8 * k);   \
        column_vector th##k = {0}, tm##k = {0}, tl##k = {0};
        EACH_VECTOR(VECTOR_START)
        for (long start = 0; start < rows; start += step) {
            const long end = rows - start < step ? rows : start + step;
#define BLOCK_START(k) column_vector bh##k = {0}, bm##k = {0}, bl##k = {0};
            EACH_VECTOR(BLOCK_START)
            for (long i = start; i < end; i++) {
                const double *row = x + i * ld + j;
#define ADD_ROW(k)                                                                          \
                {                                                                           \
                    const column_vector v = *(const column_vector_unaligned *)(row + 8 * k); \
                    const column_vector h = (v + c##k) - c##k;                              \
                    const column_vector rest = v - h;                                       \
                    const column_vector m = (rest + f##k) - f##k;                           \
                    bh##k += h;                                                             \
                    bm##k += m;                                                             \
                    bl##k += rest - m;                                                      \
                }
                EACH_VECTOR(ADD_ROW)
            }
#define ADD_BLOCK(k) th##k += bh##k; tm##k += bm##k; tl##k += bl##k;
            EACH_VECTOR(ADD_BLOCK)
        }
#define VECTOR_STORE(k)                                                                     \
        *(column_vector_unaligned *)(high + j + 8 * k) = th##k;                            \
        *(column_vector_unaligned *)(middle + j + 8 * k) = tm##k;                          \
        *(column_vector_unaligned *)(low + j + 8 * k) = tl##k;
        EACH_VECTOR(VECTOR_STORE)
    }
#undef VECTOR_START
#undef BLOCK_START
#undef ADD_ROW
#undef ADD_BLOCK
#undef VECTOR_STORE
#undef EACH_VECTOR
    for (; j < cols; j++) {
        double th = 0, tm = 0, tl = 0;
        for (long start = 0; start < rows; start += step) {
            const long end = rows - start < step ? rows : start + step;
            double bh = 0, bm = 0, bl = 0;
            for (long i = start; i < end; i++) {
                const double v = x[i * ld + j];
                const double h = (v + coarse[j]) - coarse[j];
                const double rest = v - h;
                const double m = (rest + fine[j]) - fine[j];
                bh += h;
                bm += m;
                bl += rest - m;
            }
            th += bh;
            tm += bm;
            tl += bl;
        }
        high[j] = th;
        middle[j] = tm;
        low[j] = tl;
    }
    return 0;
}

/* sums[j] = the float column j summed in double, row after row (numpy's order for a float32
 * column sum with a float64 accumulator: the same bits, in one pass instead of a buffered,
 * casting reduction). Columns are taken a block at a time, so that the block's sums stay in
 * the L1 cache while every row passes by; each column's order of additions is unchanged. */
#define COLUMN_SUMS_BLOCK 1024
CLONES void column_sums_f32(const float *x, long rows, long cols, long ld, double *sums)
{
    for (long j0 = 0; j0 < cols; j0 += COLUMN_SUMS_BLOCK) {
        const long j1 = cols - j0 < COLUMN_SUMS_BLOCK ? cols : j0 + COLUMN_SUMS_BLOCK;
        for (long j = j0; j < j1; j++)
            sums[j] = 0;
        for (long i = 0; i < rows; i++) {
            const float *row = x + i * ld;
            for (long j = j0; j < j1; j++)
                sums[j] += (double)row[j];
        }
    }
}
