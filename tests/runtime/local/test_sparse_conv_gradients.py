"""The convolution gradients over dout's nonzero values (native/sparse_conv_kernels.h) against
the dense kernels they stand in for, bit for bit.

Behind relu and max pooling most of dout is zero; the sparse kernels skip those products and
keep every sum's order, so a training run gives the same weights whichever kernel ran. The
dense results here come from the same calls with the sparse kernels declining (monkeypatched),
so the dispatch is the one a training step takes.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from support.native_switch import native_and_numpy

from kerasdml.runtime.local import dnn, native

pytestmark = pytest.mark.skipif(not native.available(), reason="the native kernels are not built")

SHAPES = [
    #  N  C   H   W   F kh kw sh sw ph pw
    (12, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2),    # LeNet's second convolution (several chunks)
    (5, 17, 8, 7, 20, 3, 2, 1, 1, 0, 0),       # channels not a whole vector, no padding
    (4, 40, 12, 10, 33, 3, 3, 2, 2, 1, 1),     # strides: the filter gradient only
    (3, 24, 6, 9, 7, 4, 5, 1, 1, 3, 3),        # padding wider than half the kernel
    (2, 70, 5, 6, 18, 3, 3, 1, 1, 1, 1),       # a kernel row longer than one register tile
    (7, 8, 11, 13, 9, 2, 3, 1, 1, 1, 2),       # unequal kernel and padding
]

KERNELS = ["conv2d_backward_filter", "conv2d_backward_data"]


def _inputs(shape, dtype, density, seed=0):
    """X, W and a dout whose share `density` of values is nonzero, and the geometry."""
    N, C, H, W, F, kh, kw, sh, sw, ph, pw = shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    rng = np.random.default_rng(seed)
    dout = rng.standard_normal((N, F * Ho * Wo)).astype(dtype)
    dout[rng.random(dout.shape) >= density] = 0
    args = dict(input_shape=[N, C, H, W], filter_shape=[F, C, kh, kw], stride=[sh, sw],
                padding=[ph, pw])
    return (rng.standard_normal((N, C * H * W)).astype(dtype),
            rng.standard_normal((F, C * kh * kw)).astype(dtype), dout, args)


def _operands(kernel, X, W, dout):
    return (X, dout) if kernel == "conv2d_backward_filter" else (W, dout)


def _sparse_and_dense(monkeypatch, call, kernel):
    """(call() with the sparse kernel on, call() with it declining, how often it ran)."""
    name = "sparse_" + kernel.replace("2d", "")
    real = getattr(native, name)
    ran = []

    def counted(*args, **geometry):
        done = real(*args, **geometry)
        ran.append(done)
        return done
    monkeypatch.setattr(native, name, counted)
    sparse = call()
    monkeypatch.setattr(native, name, lambda *args, **geometry: False)
    dense = call()
    monkeypatch.setattr(native, name, real)
    return sparse, dense, sum(ran)


def _runs_sparse(kernel, shape) -> bool:
    # the data gradient goes through the flipped convolution only with stride 1
    return kernel == "conv2d_backward_filter" or shape[7:9] == (1, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("density", [0.04, 0.2])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel", KERNELS)
def test_sparse_gradients_are_the_dense_kernels_bits(monkeypatch, kernel, shape, density, dtype):
    X, W, dout, args = _inputs(shape, dtype, density)
    with native.use(True), native.use_version(native.WIDE):
        sparse, dense, ran = _sparse_and_dense(
            monkeypatch, lambda: getattr(dnn, kernel)(*_operands(kernel, X, W, dout), **args),
            kernel)
    assert ran > 0 if _runs_sparse(kernel, shape) else ran == 0
    assert sparse.dtype == dense.dtype == dtype
    assert_array_equal(sparse.view(np.uint8), dense.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_sparse_gradients_match_numpy(kernel, dtype):
    # the dense kernels' own tests hold them to numpy; this holds the sparse path there too
    X, W, dout, args = _inputs(SHAPES[0], dtype, 0.15, seed=4)
    with native.use_version(native.WIDE):
        got, expected = native_and_numpy(
            lambda: getattr(dnn, kernel)(*_operands(kernel, X, W, dout), **args))
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    scale = np.abs(expected).max()
    assert_allclose(got / scale, expected / scale, rtol=0, atol=tolerance)


@pytest.mark.parametrize("special", ["inf in dout", "nan in dout", "inf in X", "nan in W"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_values_that_are_not_finite_give_the_dense_results(monkeypatch, kernel, special):
    # 0 * Inf is NaN in a dense sum: where a skipped product would have been NaN, the sparse
    # kernels leave the work to the dense ones
    X, W, dout, args = _inputs(SHAPES[0], np.float64, 0.1, seed=5)
    where, value = special.split(" in ")[1], np.inf if "inf" in special else np.nan
    target = {"dout": dout, "X": X, "W": W}[where]
    target[1, 7] = value
    if where == "dout":
        dout[3, dout.shape[1] // 2] = -value
    with native.use(True), native.use_version(native.WIDE):
        sparse, dense, _ = _sparse_and_dense(
            monkeypatch, lambda: getattr(dnn, kernel)(*_operands(kernel, X, W, dout), **args),
            kernel)
    assert not np.isfinite(dense).all() or where in ("X", "W")
    assert_array_equal(sparse, dense)


@pytest.mark.parametrize("kernel", KERNELS)
def test_a_dense_dout_runs_the_dense_kernels(monkeypatch, kernel):
    X, W, dout, args = _inputs(SHAPES[0], np.float32, 0.6, seed=6)
    with native.use(True), native.use_version(native.WIDE):
        sparse, dense, ran = _sparse_and_dense(
            monkeypatch, lambda: getattr(dnn, kernel)(*_operands(kernel, X, W, dout), **args),
            kernel)
    assert ran == 0
    assert_array_equal(sparse, dense)


def test_the_narrow_filter_gradient_keeps_its_bits_too(monkeypatch):
    # both versions of the dense filter gradient sum each value in the same order
    if not native.can_run(native.NARROW):
        pytest.skip("this CPU cannot run the narrow kernels")
    X, W, dout, args = _inputs(SHAPES[1], np.float32, 0.1, seed=7)
    with native.use(True), native.use_version(native.NARROW):
        sparse, dense, ran = _sparse_and_dense(
            monkeypatch, lambda: dnn.conv2d_backward_filter(X, dout, **args),
            "conv2d_backward_filter")
    assert ran > 0
    assert_array_equal(sparse.view(np.uint8), dense.view(np.uint8))


def test_a_relu_and_max_pool_gradient_takes_the_sparse_kernels(monkeypatch):
    # what a training step hands them: the pool's gradient through relu, one value per window
    rng = np.random.default_rng(8)
    N, C, F, H = 6, 16, 32, 12
    shapes = dict(input_shape=[N, C, H, H], filter_shape=[F, C, 5, 5], stride=[1, 1],
                  padding=[2, 2])
    X = rng.standard_normal((N, C * H * H)).astype(np.float32)
    W = rng.standard_normal((F, C * 25)).astype(np.float32)
    out = np.maximum(dnn.conv2d(X, W, **shapes), 0)
    pooled_shape = dict(input_shape=[N, F, H, H], pool_size=[2, 2], stride=[2, 2],
                        padding=[0, 0])
    dpool = rng.standard_normal((N, F * (H // 2) ** 2)).astype(np.float32)
    dout = dnn.max_pool_backward(out, dpool, **pooled_shape) * (out > 0)
    assert np.count_nonzero(dout) <= dout.size / 4
    for kernel in KERNELS:
        with native.use(True), native.use_version(native.WIDE):
            sparse, dense, ran = _sparse_and_dense(
                monkeypatch, lambda: getattr(dnn, kernel)(*_operands(kernel, X, W, dout),
                                                          **shapes), kernel)
        assert ran > 0
        assert_array_equal(sparse.view(np.uint8), dense.view(np.uint8))
