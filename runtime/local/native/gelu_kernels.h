/* erf, and GELU in its exact form (Keras' approximate=False), x * Phi(x), for one element type,
 * included once per type by typed_kernels.h (T, NAME(x)). erf.dml's body computes erf with a
 * power series, a loop of four matrix passes per term (tens of terms where |x| is a few units);
 * here each cell takes the C library's erf of T (erff for float), with gelu.dml's formulas
 * around it: the results differ from the series' by its rounding errors, not by its formula.
 * Each output cell is written after its inputs are read, so out may be x (or dout). */
#define ERROR_FUNCTION(x) _Generic((x), float: erff, default: erf)(x)
#define EXPONENTIAL(x) _Generic((x), float: expf, default: exp)(x)

/* erf(x) */
CLONES int NAME(erf_forward)(const T *x, T *out, const long *cells)
{
    for (long c = 0; c < cells[0]; c++)
        out[c] = ERROR_FUNCTION(x[c]);
    return 0;
}

/* 0.5 * x * (1 + erf(x / sqrt(2))) */
CLONES int NAME(gelu_forward)(const T *x, T *out, const long *cells)
{
    const T root_two = (T)1.4142135623730951;
    for (long c = 0; c < cells[0]; c++) {
        const T v = x[c];
        out[c] = (T)0.5 * v * ((T)1 + ERROR_FUNCTION(v / root_two));
    }
    return 0;
}

/* dout * (Phi(x) + x * phi(x)): Phi = 0.5 * (1 + erf(x / sqrt(2))),
 * phi = exp(-0.5 * x^2) / sqrt(2 pi) */
CLONES int NAME(gelu_backward)(const T *dout, const T *x, T *dx, const long *cells)
{
    const T root_two = (T)1.4142135623730951, root_two_pi = (T)2.5066282746310002;
    for (long c = 0; c < cells[0]; c++) {
        const T v = x[c];
        const T cdf = (T)0.5 * ((T)1 + ERROR_FUNCTION(v / root_two));
        const T pdf = EXPONENTIAL((T)-0.5 * (v * v)) / root_two_pi;
        dx[c] = dout[c] * (cdf + v * pdf);
    }
    return 0;
}

#undef ERROR_FUNCTION
#undef EXPONENTIAL
