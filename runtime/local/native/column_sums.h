/* The compensated column sums (aggregates.py explains the scheme), double precision, in two
 * passes instead of numpy's nine: every value is split on its column's grids into high +
 * middle + low exactly, as (x + coarse) - coarse and so on, and the three parts are summed
 * down the column. The high and middle sums are exact in any order; the low sum is added in
 * numpy's order, so the results are the same bits.
 * No multiplications: the compiler has nothing to contract into an FMA.
 *
 * Both passes (the largest magnitudes, which set the grids, then the split sums) take the
 * columns a block at a time, narrow enough that the block's rows stay in the L2 cache between
 * them: memory is read once. The first pass reads the block's rows in order, which the
 * hardware prefetcher follows; going down a column of a wide matrix takes a new page every
 * row, which it does not (a LeNet layer's 100 x 25,088 gradient took twice a streaming pass). */

/* Four vectors of eight columns at a time, held in registers while the rows pass by (a
 * column's additions keep their order: row after row; each row gives four whole cache
 * lines), then the columns left one at a time. */
typedef double column_vector __attribute__((vector_size(64)));
typedef double column_vector_unaligned __attribute__((vector_size(64), aligned(8)));
typedef long column_mask __attribute__((vector_size(64)));
#define COLUMNS_AT_ONCE 8

/* largest[j] = max |x[i, j]| over the rows (NaN ignored: the caller's NaN check catches it),
 * row after row across the block's columns. */
static inline ALWAYS_INLINE void column_largest(const double *x, long rows, long cols, long ld,
                                                double *largest)
{
    for (long j = 0; j < cols; j++)
        largest[j] = 0;
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) {
            const double v = fabs(x[i * ld + j]);
            largest[j] = v > largest[j] ? v : largest[j];     /* false for NaN */
        }
}

/* high, middle, low (cols each) = the column sums of the parts, as numpy forms them: each
 * block of `step` rows summed row after row, the block sums added in block order. */
#define EACH_VECTOR(M) M(0) M(1) M(2) M(3)
static inline ALWAYS_INLINE void column_split_sums(
    const double *x, long rows, long cols, long ld, long step, const double *coarse,
    const double *fine, double *high, double *middle, double *low)
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
}

/* Columns per block: at most EXACT_SUMS_COLUMNS (the per-column arrays below stay in the L1
 * cache), fewer when the block's rows would not fit EXACT_SUMS_CACHED_BYTES of the L2 cache,
 * but whole register tiles (4 * COLUMNS_AT_ONCE) where there are rows enough to pay for them. */
#define EXACT_SUMS_COLUMNS 256
#define EXACT_SUMS_CACHED_BYTES (256 * 1024)

/* sums[j] = the compensated sum of column j of x (rows x cols, row stride ld), blocks of
 * `step` rows at a time: aggregates.py's grids and _add_parts, the same operations in the same
 * order. `bits` is the bit length of the row count. */
CLONES void column_exact_sums_f64(const double *x, long rows, long cols, long ld, long step,
                                  long bits, double *sums)
{
    double largest[EXACT_SUMS_COLUMNS], coarse[EXACT_SUMS_COLUMNS], fine[EXACT_SUMS_COLUMNS];
    double high[EXACT_SUMS_COLUMNS], middle[EXACT_SUMS_COLUMNS], low[EXACT_SUMS_COLUMNS];
    long width = EXACT_SUMS_CACHED_BYTES / (long)sizeof(double) / (rows > 0 ? rows : 1);
    width = width / (4 * COLUMNS_AT_ONCE) * (4 * COLUMNS_AT_ONCE);
    width = width < 4 * COLUMNS_AT_ONCE ? 4 * COLUMNS_AT_ONCE
            : width > EXACT_SUMS_COLUMNS ? EXACT_SUMS_COLUMNS : width;
    for (long j0 = 0; j0 < cols; j0 += width) {
        const long w = cols - j0 < width ? cols - j0 : width;
        column_largest(x + j0, rows, w, ld, largest);
        for (long j = 0; j < w; j++) {
            int exponent;
            frexp(largest[j], &exponent);
            coarse[j] = ldexp(1.0, (int)(exponent + bits));
            fine[j] = ldexp(coarse[j], (int)(bits - 53));
        }
        column_split_sums(x + j0, rows, w, ld, step, coarse, fine, high, middle, low);
        for (long j = 0; j < w; j++) {      /* TwoSum of high and middle, then the rest */
            double total = high[j] + middle[j];
            const double middle_part = total - high[j];
            double error = (high[j] - (total - middle_part)) + (middle[j] - middle_part);
            error += low[j];
            total += error;
            sums[j0 + j] = total;
        }
    }
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
