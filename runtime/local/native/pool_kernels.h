/* max_pool_backward for one element type, included once per type by kernels.c (T, NAME(x)).
 *
 * Planes are the H x W channels of the images, one after another (DML's N x C*H*W rows).
 * Each window's gradient goes to its first maximum in row-major order, as SystemDS does;
 * padding cells hold -max(T) and take nothing, so a window whose first maximum is padding
 * drops its gradient, and a window holding NaN (whose maximum is NaN) matches no cell.
 * Windows that overlap add their gradients to the cells they pick. The scan keeps the first
 * maximum with a strict comparison (a conditional move, not a branch: maxima of real data
 * are unpredictable), and windows clear of the padding skip the bounds checks.
 */
CLONES int NAME(max_pool_backward)(const T *x, const T *dout, T *dx,
                                   const struct pool_geometry *g)
{
    const T padding = -NAME(largest);
    const long H = g->H, W = g->W, plane = H * W, windows = g->Ho * g->Wo;
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * plane, *dk = dout + k * windows;
        T *gk = dx + k * plane;
        for (long c = 0; c < plane; c++)
            gk[c] = 0;
        for (long yo = 0; yo < g->Ho; yo++) {
            const long top = yo * g->sh - g->ph;
            for (long xo = 0; xo < g->Wo; xo++) {
                const long left = xo * g->sw - g->pw;
                long first = -1;               /* the first maximum; -1: a padding cell */
                T best;
                int nan = 0;
                if (top >= 0 && left >= 0 && top + g->kh <= H && left + g->kw <= W) {
                    first = top * W + left;
                    best = xk[first];
                    for (long i = 0; i < g->kh; i++) {
                        for (long j = 0; j < g->kw; j++) {
                            const long at = (top + i) * W + left + j;
                            const T v = xk[at];
                            nan |= v != v;
                            first = v > best ? at : first;
                            best = v > best ? v : best;
                        }
                    }
                } else {
                    best = padding - padding;   /* set by the first cell below */
                    int started = 0;
                    for (long i = top; i < top + g->kh; i++) {
                        for (long j = left; j < left + g->kw; j++) {
                            const int inside = i >= 0 && i < H && j >= 0 && j < W;
                            const long at = inside ? i * W + j : -1;
                            const T v = inside ? xk[at] : padding;
                            nan |= v != v;
                            if (!started || v > best) {
                                first = at;
                                best = v;
                                started = 1;
                            }
                        }
                    }
                }
                if (!nan && first >= 0)
                    gk[first] += dk[yo * g->Wo + xo];
            }
        }
    }
    return 0;
}
