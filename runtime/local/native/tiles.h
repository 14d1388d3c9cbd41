/* Register tiles for the vector kernels: included by kernels.c once; the macros expand T, V,
 * VU and VL where they are used, so they serve both element types.
 *
 * A tile's accumulators are named variables, not an array: GCC keeps an array of vectors in
 * memory (it unrolls the loops over it only after deciding what lives in registers). Row r
 * of a tile is c<r>_0..c<r>_3; the rows and vectors past MR and NV are dead code. A step
 * multiplies a scalar per row (a) with up to four vectors (b0..b3) shared by the rows.
 */
#ifndef KERASDML_TILES_H
#define KERASDML_TILES_H
#define EACH_ROW(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define DECLARE_ROW(r) V c##r##_0 = {0}, c##r##_1 = {0}, c##r##_2 = {0}, c##r##_3 = {0};
#define LOAD_ROW(r, src)                                                   \
    if (r < rows) {                                                        \
        c##r##_0 = *(const VU *)(src);                                     \
        if (NV > 1) c##r##_1 = *(const VU *)((src) + VL);                  \
        if (NV > 2) c##r##_2 = *(const VU *)((src) + 2 * VL);              \
        if (NV > 3) c##r##_3 = *(const VU *)((src) + 3 * VL);              \
    }
#define STORE_ROW(r, dst)                                                  \
    if (r < rows) {                                                        \
        *(VU *)(dst) = c##r##_0;                                           \
        if (NV > 1) *(VU *)((dst) + VL) = c##r##_1;                        \
        if (NV > 2) *(VU *)((dst) + 2 * VL) = c##r##_2;                    \
        if (NV > 3) *(VU *)((dst) + 3 * VL) = c##r##_3;                    \
    }
#define MULTIPLY_ADD_ROW(r, a_value)                                       \
    if (r < MR) {                                                          \
        const T a = (a_value);                                             \
        c##r##_0 += a * b0;                                                \
        if (NV > 1) c##r##_1 += a * b1;                                    \
        if (NV > 2) c##r##_2 += a * b2;                                    \
        if (NV > 3) c##r##_3 += a * b3;                                    \
    }
#define LOAD_B(src)                                                        \
    const V b0 = *(const VU *)(src);                                       \
    const V b1 = NV > 1 ? *(const VU *)((src) + VL) : (V){0};              \
    const V b2 = NV > 2 ? *(const VU *)((src) + 2 * VL) : (V){0};          \
    const V b3 = NV > 3 ? *(const VU *)((src) + 3 * VL) : (V){0};

#endif
