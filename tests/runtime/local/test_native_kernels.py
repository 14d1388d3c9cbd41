"""The native kernels (runtime/local/native) against the numpy kernels they replace.

test_dnn_kernels.py runs its SystemDS, TensorFlow and gradient checks on both; here the two
are compared directly on the shapes and values where a vectorised C kernel could go wrong:
filter counts that are not whole vectors, strides, unequal paddings, one channel, windows in
the padding, ties, NaN and infinities.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from support.native_switch import native_and_numpy

from kerasdml.runtime.local import dnn, native


def test_the_install_built_the_native_kernels():
    # setup.py builds them as an optional extension: a failed build would only show as
    # slower kernels and skipped tests, so the suite says it here
    assert native.available(), "the native kernels did not build; see pip's output for kernels.c"


@pytest.fixture(autouse=True)
def library(request):
    if request.node.name != "test_the_install_built_the_native_kernels" and not native.available():
        pytest.skip("the native kernels are not built")

CONV_SHAPES = [
    #  N  C   H   W   F kh kw sh sw ph pw
    (3, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2),      # LeNet's first layer
    (2, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2),     # its second
    (4, 3, 9, 7, 5, 3, 2, 2, 1, 1, 0),         # 5 filters: a partial vector; strides 2 x 1
    (2, 2, 8, 8, 17, 1, 1, 1, 1, 0, 0),        # 1x1 kernel, 17 filters (a vector and one)
    (1, 4, 6, 11, 70, 3, 4, 3, 2, 2, 1),       # 70 filters: more than one strip of vectors
    (13, 2, 5, 5, 3, 5, 5, 1, 1, 0, 0),        # one output cell per image; 13 rows, odd tiles
    (2, 3, 40, 37, 7, 3, 3, 1, 1, 1, 1),       # rows of 37 pixels: several vectors and a part
    (3, 4, 6, 6, 13, 2, 3, 1, 1, 1, 2),        # unequal kernel and padding, 4 channels
    (5, 24, 7, 9, 40, 1, 1, 2, 3, 0, 0),       # 1x1 with strides (pointwise.py): a subsample
    (9, 70, 5, 5, 33, 1, 1, 1, 1, 0, 0),       # 1x1 over many channels, several chunks
    (5, 1, 7, 6, 1, 2, 2, 1, 1, 1, 1),         # one channel, one filter (zero_pad2d's shift)
    (3, 1, 9, 8, 1, 3, 3, 2, 1, 1, 0),         # the same with strides: the depthwise kernels
    (1, 9, 11, 10, 50, 3, 3, 2, 2, 1, 1),      # batch 1, odd sizes, 9 channels, 50 filters
    (3, 6, 13, 11, 19, 1, 1, 1, 1, 0, 0),      # 1x1 over 143 pixels: one product per image
    (16, 40, 3, 3, 130, 1, 1, 1, 1, 0, 0),     # 1x1 over a few pixels: cut by filters
    (2, 3, 5, 6, 20, 3, 3, 1, 1, 3, 3),        # padding wider than the kernel: patches all padding
    (3, 8, 15, 30, 24, 3, 5, 1, 2, 1, 2),      # rows of 15 outputs, strides, uneven borders
    (2, 2, 9, 12, 6, 4, 6, 1, 1, 2, 3),        # 4x6 kernel, few channels: row kernels' 6-wide tiles
    (2, 1, 10, 10, 5, 7, 7, 1, 1, 3, 3),       # 7x7: row tiles spanning two kernel rows
]


def _conv_inputs(shape, dtype, seed=0):
    N, C, H, W, F, kh, kw, sh, sw, ph, pw = shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    rng = np.random.default_rng(seed)
    args = dict(input_shape=[N, C, H, W], filter_shape=[F, C, kh, kw], stride=[sh, sw],
                padding=[ph, pw])
    return (rng.standard_normal((N, C * H * W)).astype(dtype),
            rng.standard_normal((F, C * kh * kw)).astype(dtype),
            rng.standard_normal((N, F * Ho * Wo)).astype(dtype), args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel", ["conv2d", "conv2d_backward_filter", "conv2d_backward_data"])
def test_convolutions_match_numpy(kernel, shape, dtype):
    X, W, dout, args = _conv_inputs(shape, dtype)
    operands = {"conv2d": (X, W), "conv2d_backward_filter": (X, dout),
                "conv2d_backward_data": (W, dout)}[kernel]
    got, expected = native_and_numpy(lambda: getattr(dnn, kernel)(*operands, **args))
    assert got.dtype == expected.dtype == dtype
    assert got.shape == expected.shape
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    scale = np.abs(expected).max()
    assert_allclose(got / scale, expected / scale, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("version", [native.WIDE, native.NARROW])
@pytest.mark.parametrize("kernel", ["conv2d", "conv2d_backward_filter"])
def test_both_versions_of_the_direct_convolutions_match_numpy(kernel, version, dtype):
    # the CPU picks one version; the other is checked here wherever the CPU can run it
    if not native.can_run(version):
        pytest.skip(f"this CPU cannot run the {version} kernels")
    for shape in CONV_SHAPES:
        X, W, dout, args = _conv_inputs(shape, dtype, seed=3)
        operands = (X, W) if kernel == "conv2d" else (X, dout)
        with native.use_version(version):
            got, expected = native_and_numpy(lambda: getattr(dnn, kernel)(*operands, **args))
        tolerance = 1e-12 if dtype == np.float64 else 2e-5
        scale = np.abs(expected).max()
        assert_allclose(got / scale, expected / scale, rtol=0, atol=tolerance, err_msg=str(shape))


def test_the_direct_kernels_take_the_layers_they_run_fastest():
    from kerasdml.runtime.local import direct_conv
    from kerasdml.runtime.local.geometry import conv_geom

    def geometry(C, k, F=64, stride=1):
        return conv_geom("conv2d", [32, C, 24, 24], [F, C, k, k], [stride, stride], [1, 1])
    with native.use_version(native.NARROW):
        assert direct_conv.applies(geometry(64, 3))               # a patch row of 576
        assert direct_conv.applies(geometry(3, 7, stride=2))      # a stem
        assert not direct_conv.applies(geometry(128, 3))          # 1,152: BLAS is faster
        assert not direct_conv.applies(geometry(1, 5))            # the row kernels' layers
        assert not direct_conv.applies(geometry(64, 3), forward=False)
        with native.use(True):                                    # forced: everything native
            assert direct_conv.applies(geometry(256, 3), forward=False)
    with native.use_version(native.WIDE):
        assert direct_conv.applies(geometry(256, 3), forward=False)
        assert direct_conv.applies(geometry(128, 3, F=256))        # 1.2 MB of weights
        assert direct_conv.applies(geometry(1, 5, F=512))          # the row kernels' layers
        assert not direct_conv.applies(geometry(256, 3, F=256))    # 2.4 MB: BLAS is faster
        assert not direct_conv.applies(geometry(128, 3, F=256), itemsize=8)


def test_forward_pays_no_attention_to_padding_columns():
    # 5 filters fill a third of a float vector; the other lanes must not leak into the output
    X, W, _, args = _conv_inputs(CONV_SHAPES[2], np.float32)
    with native.use(True):
        first = dnn.conv2d(X, W, **args)
        again = dnn.conv2d(X, W, **args)          # same scratch buffers, now holding data
    assert_array_equal(first, again)


# Convolutions whose 2 x 2 max pool (stride 2) the row kernels take from their registers
POOLED_IN_KERNEL = [
    #  N  C   H   W  F kh kw sh sw ph pw
    (3, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2),       # LeNet's first layer, 6 filters: a partial tile
    (2, 2, 13, 37, 5, 3, 3, 1, 1, 1, 1),       # 13 rows (one no window takes), 37 pixels a row
    (2, 3, 9, 9, 7, 3, 3, 1, 1, 0, 0),         # 'valid': every kernel row on the image
    (2, 1, 10, 10, 5, 7, 7, 1, 1, 3, 3),       # 7x7: a tile's two rows take other kernel rows
    (1, 4, 6, 70, 9, 4, 4, 1, 1, 2, 2),        # 70 pixels a row: several pairs of vectors
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("special", ["none", "nan", "inf"])
@pytest.mark.parametrize("keep", [True, False], ids=["kept", "pool-only"])
@pytest.mark.parametrize("shape", POOLED_IN_KERNEL, ids=lambda s: "x".join(map(str, s)))
def test_the_row_kernels_pool_as_max_pool_does(shape, keep, special, dtype):
    from kerasdml.runtime.local import conv, direct_conv, pooling
    from kerasdml.runtime.local.geometry import conv_geom, pool_geom
    if not native.can_run(native.WIDE):
        pytest.skip("the kernels pool only in their AVX-512 version")
    X, W, _, args = _conv_inputs(shape, dtype, seed=5)
    N, F = shape[0], shape[4]
    bias = np.random.default_rng(6).standard_normal((F, 1)).astype(dtype)
    if special != "none":                  # a window with NaN, or an infinite maximum
        X[0, 3 * shape[3] + 4] = np.nan if special == "nan" else np.inf
    g = conv_geom("conv2d", *args.values())
    pool_shape = dict(input_shape=[N, F, g.Ho, g.Wo], pool_size=[2, 2], stride=[2, 2],
                      padding=[0, 0])
    into = conv.PoolInto(pool_geom("max_pool", *pool_shape.values()),
                         np.full((N, F * (g.Ho // 2) * (g.Wo // 2)), 7, dtype=dtype))
    with native.use(True), native.use_version(native.WIDE):
        assert direct_conv.pools_in_kernel(g, into.geometry)
        got = conv.conv2d(X, W, **args, bias=bias, relu=True, pool=into, keep=keep)
        plain = conv.conv2d(X, W, **args, bias=bias, relu=True)
        pooled = pooling.max_pool(plain, **pool_shape)
    assert (got is None) != keep
    if keep:
        assert got.tobytes() == plain.tobytes()
    assert into.out.tobytes() == pooled.tobytes()
    assert np.isnan(pooled).any() == (special == "nan")


POOLS = [
    #  C  H  W kh kw sh sw ph pw
    (2, 6, 6, 2, 2, 2, 2, 0, 0),     # windows tile the planes: 3 a row (doubles: one vector)
    (2, 7, 5, 3, 3, 2, 2, 1, 1),     # overlapping windows, padded
    (1, 5, 5, 2, 3, 1, 2, 0, 1),     # unequal pool and stride
    (1, 3, 3, 2, 2, 3, 3, 2, 2),     # windows wholly in the padding
    (2, 28, 28, 2, 2, 2, 2, 0, 0),   # LeNet's first pool: 14 windows a row, vectors overlap
    (3, 14, 14, 2, 2, 2, 2, 0, 0),   # its second: 7 windows a row
    (2, 9, 17, 2, 2, 2, 2, 0, 0),    # tiles with a last row and column no window covers
    (1, 8, 32, 2, 2, 2, 2, 0, 0),    # 16 windows a row: whole vectors, none overlapping
    (2, 9, 12, 3, 3, 3, 3, 0, 0),    # 3 x 3 tiles
]
TILED_POOLS = [pool for pool in POOLS if pool[3:5] == pool[5:7] and pool[7:] == (0, 0)]


def _pool(values, dout_values, pool):
    C, H, W, kh, kw, sh, sw, ph, pw = pool
    N = values.shape[0]
    args = dict(input_shape=[N, C, H, W], pool_size=[kh, kw], stride=[sh, sw], padding=[ph, pw])
    return native_and_numpy(lambda: dnn.max_pool_backward(values, dout_values, **args))


def _pool_data(pool, dtype, rng, ties=False):
    C, H, W, kh, kw, sh, sw, ph, pw = pool
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    X = rng.standard_normal((3, C * H * W))
    if ties:
        X = np.round(X)                           # many equal maxima per window
    return X.astype(dtype), rng.standard_normal((3, C * Ho * Wo)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "x".join(map(str, p)))
def test_max_pool_backward_matches_numpy(pool, ties, dtype):
    X, dout = _pool_data(pool, dtype, np.random.default_rng(3), ties)
    got, expected = _pool(X, dout, pool)
    assert got.dtype == dtype
    assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("special", ["nan", "-inf", "-max", "inf dout", "nan dout"])
@pytest.mark.parametrize("pool", POOLS[:2] + POOLS[4:7], ids=lambda p: "x".join(map(str, p)))
def test_max_pool_backward_special_values_match_numpy(pool, special, dtype):
    rng = np.random.default_rng(5)
    X, dout = _pool_data(pool, dtype, rng)
    cells = rng.choice(X.size, size=X.size // 4, replace=False)
    value = {"nan": np.nan, "-inf": -np.inf, "-max": -np.finfo(dtype).max}.get(special)
    if value is not None:
        X.flat[cells] = value
    else:
        dout.flat[rng.choice(dout.size, size=dout.size // 4, replace=False)] = (
            np.inf if special == "inf dout" else np.nan)
    got, expected = _pool(X, dout, pool)
    assert_array_equal(np.isnan(got), np.isnan(expected))
    assert_array_equal(got, expected)              # each cell is a dout or zero: exact


# values that make windows awkward: ties of equal values, of 0.0 and -0.0, infinities, NaN
AWKWARD = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0]


def _awkward_pool_data(pool, dtype, seed, values=AWKWARD):
    X, dout = _pool_data(pool, dtype, np.random.default_rng(seed))
    X[:] = np.random.default_rng(seed).choice(np.array(values, dtype=dtype), size=X.shape)
    return X, dout


def _pool_args(pool, images):
    C, H, W, kh, kw, sh, sw, ph, pw = pool
    return dict(input_shape=[images, C, H, W], pool_size=[kh, kw], stride=[sh, sw],
                padding=[ph, pw])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "x".join(map(str, p)))
def test_max_pool_of_awkward_values_matches_numpy(pool, dtype):
    X, dout = _awkward_pool_data(pool, dtype, 13)
    dout[0, :3] = [np.inf, -0.0, np.nan]
    args = _pool_args(pool, len(X))
    for call in (lambda: dnn.max_pool(X, **args), lambda: dnn.max_pool_backward(X, dout, **args)):
        got, expected = native_and_numpy(call)
        assert got.dtype == dtype
        assert_array_equal(got, expected)


def _windows(pool, matrix):
    """The tiled windows of the planes of matrix, as (windows, kh*kw cells in row-major order)."""
    C, H, W, kh, kw = pool[:5]
    Ho, Wo = H // kh, W // kw
    planes = matrix.reshape(-1, H, W)[:, :Ho * kh, :Wo * kw]
    return planes.reshape(-1, Ho, kh, Wo, kw).transpose(0, 1, 3, 2, 4).reshape(-1, kh * kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("pool", TILED_POOLS, ids=lambda p: "x".join(map(str, p)))
def test_max_pool_picks_the_first_maximum_in_row_major_order(pool, dtype):
    # the gradient goes to the first cell equal to the window's maximum (0.0 and -0.0 tie), and
    # the forward pass gives that cell's bits; a window holding NaN gives NaN and no gradient
    X, _ = _awkward_pool_data(pool, dtype, 17)
    args = _pool_args(pool, len(X))
    with native.use(True):
        pooled = dnn.max_pool(X, **args).ravel()
        gradient = dnn.max_pool_backward(X, np.ones(pooled.shape, dtype).reshape(len(X), -1), **args)
    cells, picked = _windows(pool, X), _windows(pool, gradient)
    nan = np.isnan(cells).any(axis=1)
    first = np.argmax(cells == cells.max(axis=1, keepdims=True), axis=1)
    assert_array_equal(picked[nan], 0)
    assert np.isnan(pooled[nan]).all()
    assert_array_equal(picked[~nan], np.eye(cells.shape[1], dtype=dtype)[first[~nan]])
    chosen = cells[~nan, first[~nan]]
    assert pooled[~nan].tobytes() == chosen.tobytes()
    assert gradient.sum() == np.count_nonzero(~nan)     # and nothing outside the windows


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "x".join(map(str, p)))
def test_pool_gradient_through_a_relu_is_the_plain_chain(pool, dtype):
    # the native kernel multiplies by (signs > 0) as it writes: the bits of the plain chain
    from kerasdml.runtime.local.fused_pooling import max_pool_backward_relu
    from kerasdml.runtime.local.geometry import pool_geom
    X, dout = _awkward_pool_data(pool, dtype, 19)
    signs, _ = _awkward_pool_data(pool, dtype, 23)
    dout[0, :2] = [np.inf, -np.inf]
    args = _pool_args(pool, len(X))
    g = pool_geom("max_pool_backward", *args.values())

    def plain():
        return dnn.max_pool_backward(X, dout, **args) * np.greater(signs, 0)
    with np.errstate(invalid="ignore"):              # an infinite gradient times zero
        fused, expected = native_and_numpy(lambda: max_pool_backward_relu(X, dout, signs, g))
        with native.use(True):
            assert fused.tobytes() == plain().tobytes()
    # overlapping windows add up their gradients (of about 1) in another order than numpy's
    assert_allclose(fused, expected, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-13)


def test_switch_turns_the_native_kernels_off(monkeypatch):
    monkeypatch.setenv(native.NATIVE_VARIABLE, "0")
    assert not native.enabled()
    with native.use(True):
        assert native.enabled()
    monkeypatch.delenv(native.NATIVE_VARIABLE)
    assert native.enabled()


def _column_data(kind):
    # 32 columns and more go through the kernels' vectors (four of eight doubles), the rest
    # one column at a time: most kinds have both
    rng = np.random.default_rng(11)
    if kind == "normal":
        return rng.standard_normal((300, 70))
    if kind == "magnitudes":                       # values from 1e-30 to 1e30 in each column
        return rng.standard_normal((500, 41)) * 10.0 ** rng.integers(-30, 30, (500, 41))
    if kind == "cancellation":                     # huge terms that cancel around small ones
        x = rng.standard_normal((2000, 37))
        x[::2] *= 1e16
        x[1::2] = -x[::2] + rng.standard_normal((1000, 37))
        return x
    if kind == "tall":                             # several blocks of rows per column
        return rng.standard_normal((40_000, 3))
    x = rng.standard_normal((50, 38))
    for offset in (0, 32):                         # in the vectors and past them
        x[3, offset + 1], x[7, offset + 2], x[9, offset + 2] = np.nan, np.inf, -np.inf
        x[0, offset + 4], x[:, offset + 5] = -0.0, -0.0
    return x


@pytest.mark.parametrize("kind", ["normal", "magnitudes", "cancellation", "tall", "special"])
def test_column_sums_are_numpys_bits(kind):
    from kerasdml.runtime.builtins.aggregates import exact_axis_sum as axis_sum
    import math
    x = _column_data(kind)
    for view in (x, x[:, 1:]):                     # a column slice has a longer row stride
        got, expected = native_and_numpy(lambda: axis_sum(view, 0))
        assert_array_equal(np.signbit(got), np.signbit(expected))
        assert_array_equal(got, expected)
    if kind in ("magnitudes", "cancellation"):      # and both are correctly rounded
        with native.use(True):
            sums = axis_sum(x, 0)[0]
        assert [float(s) for s in sums] == [math.fsum(x[:, j]) for j in range(x.shape[1])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("special", ["none", "nan", "-inf", "-max"])
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "x".join(map(str, p)))
def test_max_pool_matches_numpy(pool, special, dtype):
    rng = np.random.default_rng(9)
    X, _ = _pool_data(pool, dtype, rng, ties=special == "none")
    if special != "none":
        X.flat[rng.choice(X.size, size=X.size // 4, replace=False)] = {
            "nan": np.nan, "-inf": -np.inf, "-max": -np.finfo(dtype).max}[special]
    C, H, W, kh, kw, sh, sw, ph, pw = pool
    args = dict(input_shape=[X.shape[0], C, H, W], pool_size=[kh, kw], stride=[sh, sw],
                padding=[ph, pw])
    got, expected = native_and_numpy(lambda: dnn.max_pool(X, **args))
    assert got.dtype == dtype
    assert_array_equal(got, expected)              # a maximum is exact: the same bits


@pytest.mark.parametrize("kind", ["normal", "magnitudes", "cancellation", "tall", "special"])
def test_single_precision_column_sums_are_numpys_bits(kind):
    from kerasdml.runtime.builtins.aggregates import exact_axis_sum as axis_sum
    x = _column_data(kind).astype(np.float32)
    for view in (x, x[:, 1:]):
        with np.errstate(invalid="ignore"):       # inf - inf in the "special" columns
            got, expected = native_and_numpy(lambda: axis_sum(view, 0))
        assert got.dtype == expected.dtype
        assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("planes,H,W,ph,pw,Wp", [
    (3, 5, 7, 2, 2, 11),      # padding all round, the row stride W + 2pw
    (2, 28, 28, 2, 2, 36),    # a row stride past W + 2pw (the row kernels' vectors)
    (4, 1, 1, 0, 3, 8),       # no rows of padding, one cell per plane
    (1, 6, 4, 3, 0, 4),       # rows of padding only
])
def test_padded_planes_are_the_planes_bit_for_bit_with_zeros_around(dtype, planes, H, W, ph, pw, Wp):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((planes, H, W)).astype(dtype)
    every_third = x.reshape(-1)[::3]
    every_third[:] = np.resize(np.array([np.nan, -0.0, np.inf, -np.inf, 0.0], dtype), every_third.shape)
    Hp = H + 2 * ph
    out = np.full((planes, Hp, Wp), 7, dtype=dtype)          # stale values must all go
    native.pad_planes(x, out, planes=planes, H=H, W=W, ph=ph, pw=pw, Hp=Hp, Wp=Wp)
    expected = np.zeros_like(out)
    expected[:, ph:ph + H, pw:pw + W] = x
    assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("native_on", [True, False], ids=["native", "numpy"])
@pytest.mark.parametrize("version", [native.WIDE, native.NARROW])
def test_a_convolution_through_relu_is_numpys_maximum_of_it_bit_for_bit(version, native_on, dtype):
    """relu=True: the direct kernels apply relu as they store, the other paths on each chunk;
    either way the bits of numpy's maximum(conv2d + bias, 0), NaN sums (a NaN pixel) and
    zero sums (an image of zeros) included. (Sums start at +0, so none is -0.)"""
    if not native.can_run(version):
        pytest.skip(f"this CPU cannot run the {version} kernels")
    for shape in CONV_SHAPES:
        X, W, _, args = _conv_inputs(shape, dtype, seed=5)
        X[0] = 0
        X[-1, X.shape[1] // 2] = np.nan            # a NaN reaches some outputs of the last image
        bias = np.linspace(-1, 1, W.shape[0], dtype=dtype).reshape(-1, 1)
        bias[0] = 0
        with native.use(native_on), native.use_version(version):
            plain = dnn.conv2d(X, W, **args, bias=bias)
            through_relu = dnn.conv2d(X, W, **args, bias=bias, relu=True)
        expected = np.maximum(plain, dtype(0))
        assert through_relu.tobytes() == expected.tobytes(), str(shape)
        assert np.isnan(plain).any() and (plain < 0).any() and (plain == 0).any()
