/* The 2 x 2 pools that tile the plane (stride 2, no padding: LeNet's), LANES windows at a time
 * in explicit vectors, included by pool_kernels.h once per lane count (8, 4 or 2) with LANES
 * and LANED(x) (x with the lane count's suffix) defined.
 *
 * The four cells of the windows are a b / c d; the scan is the scalar one (a strict comparison
 * in row-major order, so a tie keeps the first cell's value), lane by lane. A row of windows
 * ends with a vector that overlaps the one before instead of a scalar tail: each window is
 * computed from its own cells, so computing one twice writes the same bits. */

/* the shuffles that split a row's cells into the windows' left and right columns (EVEN, ODD)
 * and put them back (LOW, HIGH) */
#if LANES == 8
#define EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define ODD 1, 3, 5, 7, 9, 11, 13, 15
#define LOW 0, 8, 1, 9, 2, 10, 3, 11
#define HIGH 4, 12, 5, 13, 6, 14, 7, 15
#elif LANES == 4
#define EVEN 0, 2, 4, 6
#define ODD 1, 3, 5, 7
#define LOW 0, 4, 1, 5
#define HIGH 2, 6, 3, 7
#else
#define EVEN 0, 2
#define ODD 1, 3
#define LOW 0, 2
#define HIGH 1, 3
#endif
#define LV LANED(vector)
#define LM LANED(mask)
typedef T LV __attribute__((vector_size(LANES * sizeof(T)), aligned(sizeof(T))));
typedef INTEGER LM __attribute__((vector_size(LANES * sizeof(T))));     /* masks, shuffles */
#ifdef __clang__
#define SHUFFLE(a, b, order) __builtin_shufflevector(a, b, order)
#else    /* __builtin_shufflevector is GCC 12's; __builtin_shuffle is older */
#define SHUFFLE(a, b, order) __builtin_shuffle(a, b, (LM){order})
#endif

struct LANED(windows) {
    LV cells[4], best;
    LM nan;
};

static inline ALWAYS_INLINE LV LANED(select)(LM take, LV a, LV b)
{
    return (LV)((take & (LM)a) | (~take & (LM)b));
}

/* Columns of the windows starting at cell: left (EVEN) or right (ODD). */
static inline ALWAYS_INLINE void LANED(split)(const T *cell, LV *left, LV *right)
{
    const LV first = *(const LV *)cell, second = *(const LV *)(cell + LANES);
    *left = SHUFFLE(first, second, EVEN);
    *right = SHUFFLE(first, second, ODD);
}

static inline ALWAYS_INLINE void LANED(merge)(T *cell, LV left, LV right)
{
    *(LV *)cell = SHUFFLE(left, right, LOW);
    *(LV *)(cell + LANES) = SHUFFLE(left, right, HIGH);
}

static inline ALWAYS_INLINE struct LANED(windows) LANED(scan)(const T *cell, long W)
{
    struct LANED(windows) w;
    LANED(split)(cell, &w.cells[0], &w.cells[1]);
    LANED(split)(cell + W, &w.cells[2], &w.cells[3]);
    w.best = w.cells[0];
    w.nan = ~(w.cells[0] == w.cells[0]);
    for (int p = 1; p < 4; p++) {
        const LV v = w.cells[p];
        w.nan |= ~(v == v);
        w.best = LANED(select)(v > w.best, v, w.best);
    }
    return w;
}

/* A row's windows go LANES at a time (Wo >= LANES), the last vector overlapping the one before
 * where LANES does not divide Wo. */
static inline ALWAYS_INLINE long LANED(first)(long x, long Wo)
{
    return x + LANES <= Wo ? x : Wo - LANES;
}

static inline ALWAYS_INLINE void LANED(forward)(const T *xk, T *ok, const struct pool_geometry *g)
{
    const LV not_a_number = (LV){} + NAME(not_a_number);
    for (long yo = 0; yo < g->Ho; yo++) {
        for (long x = 0; x < g->Wo; x += LANES) {
            const long first = LANED(first)(x, g->Wo);
            const struct LANED(windows) w = LANED(scan)(xk + 2 * (yo * g->W + first), g->W);
            *(LV *)(ok + yo * g->Wo + first) = LANED(select)(w.nan, not_a_number, w.best);
        }
    }
}

/* Each window's gradient goes to its first cell equal to the maximum (none when it holds
 * NaN), times (sign > 0) with relu; the other cells get zero. */
static inline ALWAYS_INLINE void LANED(backward_windows)(const T *xcell, const T *dcell,
                                                         const T *scell, T *gcell, long W,
                                                         int relu)
{
    const struct LANED(windows) w = LANED(scan)(xcell, W);
    const LV gradient = *(const LV *)dcell, one = (LV){} + 1;
    LV signs[4], out[4];
    if (relu) {
        LANED(split)(scell, &signs[0], &signs[1]);
        LANED(split)(scell + W, &signs[2], &signs[3]);
    }
    LM taken = w.nan;
    for (int p = 0; p < 4; p++) {
        const LM hit = (w.cells[p] == w.best) & ~taken;
        taken |= hit;
        out[p] = (LV)((LM)gradient & hit);
        if (relu)
            out[p] *= (LV)((LM)one & (signs[p] > 0));
    }
    LANED(merge)(gcell, out[0], out[1]);
    LANED(merge)(gcell + W, out[2], out[3]);
}

static inline ALWAYS_INLINE void LANED(backward)(const T *xk, const T *dk, const T *sk, T *gk,
                                                 const struct pool_geometry *g, int relu)
{
    for (long yo = 0; yo < g->Ho; yo++) {
        for (long x = 0; x < g->Wo; x += LANES) {
            const long first = LANED(first)(x, g->Wo), cell = 2 * (yo * g->W + first);
            LANED(backward_windows)(xk + cell, dk + yo * g->Wo + first, relu ? sk + cell : NULL,
                                    gk + cell, g->W, relu);
        }
    }
}

#undef SHUFFLE
#undef LV
#undef LM
#undef EVEN
#undef ODD
#undef LOW
#undef HIGH
