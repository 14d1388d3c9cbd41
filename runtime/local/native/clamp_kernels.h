/* clamp for one element type, included once per type by typed_kernels.h (T, NAME(x)):
 * min(max(x, low), high) in one pass, with numpy's rules for its maximum and minimum of a
 * matrix and a number, so that the bits are those of the two ufuncs one after the other: a NaN
 * cell stays itself (payload and sign), and a tie goes to the bound (max(-0, 0) is +0). The
 * bounds are numbers, not NaN (elementwise.py checks). */
CLONES int NAME(clamp)(const T *x, const T *bounds, T *out, const long *cells)
{
    const T low = bounds[0], high = bounds[1];
    for (long c = 0; c < cells[0]; c++) {
        const T v = x[c];
        const T raised = v > low || v != v ? v : low;
        out[c] = raised < high || raised != raised ? raised : high;
    }
    return 0;
}
