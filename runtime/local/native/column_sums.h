/* The per-column passes of the compensated column sums (aggregates.py explains the scheme),
 * double precision, one pass each instead of numpy's nine: every value is split on its
 * column's grids into high + middle + low exactly, as (x + coarse) - coarse and so on, and
 * the three parts are summed down the column. The high and middle sums are exact in any order;
 * the low sum is added in numpy's order, so the results are the same bits.
 * No multiplications: the compiler has nothing to contract into an FMA. */

/* largest[j] = max |x[i, j]| over the rows (NaN ignored: the caller's NaN check catches it). */
CLONES void column_largest_f64(const double *x, long rows, long cols, long ld, double *largest)
{
    for (long j = 0; j < cols; j++)
        largest[j] = 0;
    for (long i = 0; i < rows; i++) {
        const double *row = x + i * ld;
        for (long j = 0; j < cols; j++) {
            const double v = row[j] < 0 ? -row[j] : row[j];
            largest[j] = v > largest[j] ? v : largest[j];
        }
    }
}

/* high, middle, low (cols each) = the column sums of the parts, as numpy forms them: each
 * block of `step` rows summed row after row, the block sums added in block order. */
CLONES int column_split_sums_f64(const double *x, long rows, long cols, long ld, long step,
                                 const double *coarse, const double *fine,
                                 double *high, double *middle, double *low)
{
    double *block = malloc(sizeof(double) * 3 * (size_t)cols);
    if (!block)
        return -1;
    double *bh = block, *bm = block + cols, *bl = block + 2 * cols;
    for (long j = 0; j < cols; j++)
        high[j] = middle[j] = low[j] = 0;
    for (long start = 0; start < rows; start += step) {
        const long end = rows - start < step ? rows : start + step;
        for (long j = 0; j < cols; j++)
            bh[j] = bm[j] = bl[j] = 0;
        for (long i = start; i < end; i++) {
            const double *row = x + i * ld;
            for (long j = 0; j < cols; j++) {
                const double v = row[j];
                const double h = (v + coarse[j]) - coarse[j];
                const double rest = v - h;
                const double m = (rest + fine[j]) - fine[j];
                bh[j] += h;
                bm[j] += m;
                bl[j] += rest - m;
            }
        }
        for (long j = 0; j < cols; j++) {
            high[j] += bh[j];
            middle[j] += bm[j];
            low[j] += bl[j];
        }
    }
    free(block);
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
