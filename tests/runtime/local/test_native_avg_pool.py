"""The native average pooling (native/avg_pool_kernels.h) against the numpy kernels in
pooling.py: the C code performs numpy's operations in numpy's order, so the outputs are
compared bit for bit (signs of zeros, NaN and infinities included; which NaN a sum of two
NaNs keeps depends on the order of the operands, which the compiler may swap), on the geometries where
the C loops split differently: padding, strides larger and smaller than the window, odd
plane sizes (vector remainders), 1x1 planes, windows wholly in the padding, windows that tile
the plane with and without leftover cells, one window per plane.

test_dnn_kernels.py holds both kernel sets to SystemDS's fixtures and TensorFlow.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support.native_switch import native_and_numpy

from kerasdml.runtime.local import dnn, native


@pytest.fixture(autouse=True)
def library():
    if not native.available():
        pytest.skip("the native kernels are not built")


POOLS = [
    #  C   H   W kh kw sh sw ph pw
    (2, 6, 6, 2, 2, 2, 2, 0, 0),        # windows tile the planes
    (3, 7, 9, 2, 2, 2, 2, 0, 0),        # tiles with a row and a column left over
    (2, 9, 9, 3, 3, 1, 1, 1, 1),        # Keras' "same" 3x3 pool (InceptionV3's, padded)
    (2, 11, 11, 3, 3, 1, 1, 0, 0),      # InceptionV3's after zero_pad2d
    (1, 19, 37, 3, 3, 1, 1, 1, 1),      # rows of 37: whole vectors and a remainder
    (2, 33, 35, 2, 2, 2, 2, 1, 0),      # the 2 x 2 stride-2 loop, padded at top and bottom
    (2, 7, 5, 3, 3, 2, 2, 1, 1),        # overlapping windows, padded
    (1, 8, 10, 2, 2, 3, 3, 0, 0),       # stride larger than the window: cells in no window
    (1, 5, 5, 2, 3, 1, 2, 0, 1),        # unequal pool, stride and padding
    (1, 6, 13, 5, 4, 1, 1, 2, 3),       # wide windows, stride 1, the generic loop
    (1, 3, 3, 2, 2, 3, 3, 2, 2),        # windows wholly in the padding
    (2, 2, 3, 2, 2, 1, 1, 3, 2),        # padding larger than the pool
    (64, 1, 1, 3, 3, 1, 1, 1, 1),       # 1x1 planes: every window is mostly padding
    (5, 1, 1, 1, 1, 1, 1, 0, 0),        # 1x1 planes and pool
    (3, 5, 7, 5, 7, 1, 1, 0, 0),        # one window per plane (a global average)
    (2, 6, 7, 1, 1, 2, 3, 0, 0),        # 1x1 pool with strides: a subsample
]
IMAGES = 5      # split over the kernel workers unevenly


def _arguments(pool):
    C, H, W, kh, kw, sh, sw, ph, pw = pool
    return dict(input_shape=[IMAGES, C, H, W], pool_size=[kh, kw], stride=[sh, sw],
                padding=[ph, pw])


def _cells(pool):
    C, H, W, kh, kw, sh, sw, ph, pw = pool
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    return C * H * W, C * Ho * Wo


def _values(count, kind, dtype, rng):
    x = rng.standard_normal((IMAGES, count))
    if kind == "cancellation":          # sums where the order of additions shows in the bits
        x *= 10.0 ** rng.integers(-6, 7, x.shape)
    elif kind == "zeros":               # -0 and +0: a padding cell turns -0 into +0
        x = np.where(x < 0, -0.0, 0.0)
    elif kind == "special":
        x.flat[rng.choice(x.size, size=max(1, x.size // 8), replace=False)] = rng.choice(
            [np.nan, np.inf, -np.inf, -0.0], size=max(1, x.size // 8))
    return x.astype(dtype)


def _assert_same_bits(got, expected, dtype):
    assert got.dtype == expected.dtype == dtype
    assert got.shape == expected.shape
    assert_array_equal(got, expected)                 # NaN where numpy has NaN
    numbers = ~np.isnan(expected)                     # (a NaN's sign bit is not kept)
    assert_array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers]))


KINDS = ["normal", "cancellation", "zeros", "special"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "x".join(map(str, p)))
def test_avg_pool_is_numpys_bits(pool, kind, dtype):
    X = _values(_cells(pool)[0], kind, dtype, np.random.default_rng(7))
    with np.errstate(invalid="ignore"):               # inf - inf in the "special" windows
        got, expected = native_and_numpy(lambda: dnn.avg_pool(X, **_arguments(pool)))
    _assert_same_bits(got, expected, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "x".join(map(str, p)))
def test_avg_pool_backward_is_numpys_bits(pool, kind, dtype):
    inputs, outputs = _cells(pool)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((IMAGES, inputs)).astype(dtype)
    dout = _values(outputs, kind, dtype, rng)
    with np.errstate(invalid="ignore"):
        got, expected = native_and_numpy(lambda: dnn.avg_pool_backward(X, dout, **_arguments(pool)))
    _assert_same_bits(got, expected, dtype)


def test_avg_pool_takes_matrices_that_are_views():
    # a column slice has a longer row stride than its width: the kernel needs it contiguous
    pool = POOLS[2]
    wide = np.random.default_rng(9).standard_normal((IMAGES, _cells(pool)[0] + 3))
    X, dout = wide[:, 3:], wide[:, :_cells(pool)[1]][:, ::-1]
    got, expected = native_and_numpy(lambda: dnn.avg_pool(X, **_arguments(pool)))
    _assert_same_bits(got, expected, np.float64)
    got, expected = native_and_numpy(lambda: dnn.avg_pool_backward(X, dout, **_arguments(pool)))
    _assert_same_bits(got, expected, np.float64)
