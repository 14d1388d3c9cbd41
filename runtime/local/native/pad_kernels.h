/* pad_planes for one element type, included once per type by typed_kernels.h (T, NAME(x)).
 *
 * Zero-padded copies of image planes for the convolutions, which read padded images: plane k
 * of x (H x W) becomes plane k of out (Hp x Wp: Hp = H + 2 ph, Wp >= W + pw the kernels' row
 * stride), with x at row ph, column pw and zeros around it. Every cell is written once, a
 * row at a time, where numpy's strided assignment takes a pass per border and one short inner
 * loop per row. Values are copied bit for bit.
 */
int NAME(pad_planes)(const T *x, T *out, const struct pad_geometry *g)
{
    const long H = g->H, W = g->W, ph = g->ph, pw = g->pw, Hp = g->Hp, Wp = g->Wp;
    for (long k = 0; k < g->planes; k++) {
        const T *xk = x + k * H * W;
        T *ok = out + k * Hp * Wp;
        memset(ok, 0, sizeof(T) * (size_t)(ph * Wp));
        for (long i = 0; i < H; i++) {
            T *row = ok + (ph + i) * Wp;
            memset(row, 0, sizeof(T) * (size_t)pw);
            memcpy(row + pw, xk + i * W, sizeof(T) * (size_t)W);
            memset(row + pw + W, 0, sizeof(T) * (size_t)(Wp - pw - W));
        }
        memset(ok + (ph + H) * Wp, 0, sizeof(T) * (size_t)((Hp - ph - H) * Wp));
    }
    return 0;
}
