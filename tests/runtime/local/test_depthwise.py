"""Depthwise convolution kernels (runtime/local/depthwise.py): native against numpy against
TensorFlow, central-difference gradients, and dml_lib's conv2d_depthwise run as one kernel call
(runtime/intrinsics.py) against its own DML body.

Shapes are the awkward ones: strides that do not divide, unequal strides and paddings, windows
reaching into the padding, depth multipliers above one, one-pixel outputs, rows longer than a
vector.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

from support.depthwise_cases import (LIBRARY_FILE, SHAPE_IDS, SHAPES, geometry,  # noqa: E402
                                     operands, run_layer)

from kerasdml.runtime.local import depthwise, native  # noqa: E402
from kerasdml.runtime.local.geometry import Geom  # noqa: E402


def all_three(g: Geom, X, W, b, dout) -> list[np.ndarray]:
    return [depthwise.forward(g, X, W, b), depthwise.backward_data(g, W, dout),
            depthwise.backward_filter(g, X, dout)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_native_kernels_match_numpy(shape, dtype):
    if not native.available():
        pytest.skip("the native kernels are not built")
    g = geometry(shape)
    values = operands(g, dtype)
    with native.use(False):
        expected = all_three(g, *values)
    with native.use(True):
        got = all_three(g, *values)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for name, a, e in zip(("forward", "backward_data", "backward_filter"), got, expected):
        assert a.dtype == e.dtype == dtype, name
        assert a.shape == e.shape, name
        scale = max(1.0, float(np.abs(e).max()))
        assert_allclose(a / scale, e / scale, rtol=0, atol=tolerance, err_msg=name)


def tensorflow_reference(g: Geom, X, W, b, dout):
    """TensorFlow's depthwise convolution and gradients in NHWC, back in DML's layout."""
    tf = pytest.importorskip("tensorflow")  # only these comparisons need it
    M = g.F // g.C
    x = tf.constant(X.reshape(g.N, g.C, g.H, g.W).transpose(0, 2, 3, 1))
    kernel = tf.constant(W.reshape(g.C, M, g.kh, g.kw).transpose(2, 3, 0, 1))
    dy = tf.constant(dout.reshape(g.N, g.C * M, g.Ho, g.Wo).transpose(0, 2, 3, 1))
    padding = [[0, 0], [g.ph, g.ph], [g.pw, g.pw], [0, 0]]
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        # stride 1, then every sh-th row and sw-th column (TensorFlow takes equal strides only)
        y = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], padding)[:, ::g.sh, ::g.sw, :]
        y = y + tf.constant(b.ravel())
    dx, dk = tape.gradient(y, [x, kernel], output_gradients=dy)
    rows = lambda t: t.numpy().transpose(0, 3, 1, 2).reshape(g.N, -1)  # noqa: E731
    return [rows(y), rows(dx), dk.numpy().transpose(2, 3, 0, 1).reshape(g.F, -1)]


@pytest.mark.parametrize("on", [True, False], ids=["native", "numpy"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_kernels_match_tensorflow(shape, on):
    if on and not native.available():
        pytest.skip("the native kernels are not built")
    g = geometry(shape)
    values = operands(g, np.float64, seed=1)
    with native.use(on):
        got = all_three(g, *values)
    for name, a, e in zip(("forward", "backward_data", "backward_filter"), got,
                          tensorflow_reference(g, *values)):
        assert a.shape == e.shape, name
        assert_allclose(a, e, rtol=0, atol=1e-10 * max(1.0, float(np.abs(e).max())), err_msg=name)


@pytest.mark.parametrize("on", [True, False], ids=["native", "numpy"])
def test_gradients_match_central_differences(on):
    # loss = sum(forward(X, W, b) * R): its gradients are backward_data(W, R), backward_filter(X, R)
    if on and not native.available():
        pytest.skip("the native kernels are not built")
    g = geometry(SHAPES[2])
    X, W, b, R = operands(g, np.float64, seed=2)
    h = 1e-6
    with native.use(on):
        loss = lambda X, W: float(np.sum(depthwise.forward(g, X, W, b) * R))  # noqa: E731
        dX, dW = depthwise.backward_data(g, W, R), depthwise.backward_filter(g, X, R)
        rng = np.random.default_rng(3)
        for target, gradient in ((X, dX), (W, dW)):
            for _ in range(12):
                r, c = rng.integers(target.shape[0]), rng.integers(target.shape[1])
                saved = target[r, c]
                target[r, c] = saved + h
                up = loss(X, W)
                target[r, c] = saved - h
                down = loss(X, W)
                target[r, c] = saved
                assert abs((up - down) / (2 * h) - gradient[r, c]) < 1e-6


# ---- the library layer: one kernel call, or its DML body --------------------------------------

def dml_body_copy(tmp_path) -> str:
    """The library file with one more comment line: not dml_lib's text, so its DML body runs."""
    copy = tmp_path / "conv2d_depthwise.dml"
    copy.write_text(open(LIBRARY_FILE).read() + "# a copy\n")
    return str(copy)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", SHAPES[:5], ids=SHAPE_IDS[:5])
def test_library_layer_as_one_kernel_gives_its_dml_bodys_results(shape, precision, tmp_path):
    g = geometry(shape)
    values = operands(g, np.float64, seed=4)
    kernel = run_layer(LIBRARY_FILE, shape, values, precision)
    body = run_layer(dml_body_copy(tmp_path), shape, values, precision)
    tolerance = 1e-12 if precision == "double" else 1e-5
    assert (kernel["Hout"], kernel["Wout"]) == (body["Hout"], body["Wout"]) == (g.Ho, g.Wo)
    for name in ("out", "dX", "dW", "db"):
        assert kernel[name].dtype == body[name].dtype, name
        scale = max(1.0, float(np.abs(body[name]).max()))
        assert_allclose(kernel[name] / scale, body[name] / scale, rtol=0, atol=tolerance,
                        err_msg=name)


def test_library_layer_runs_one_kernel_call_not_a_loop_over_channels():
    from kerasdml.runtime.context import Statistics

    shape = SHAPES[0]
    stats = Statistics()
    run_layer(LIBRARY_FILE, shape, operands(geometry(shape), np.float64), stats=stats)
    assert stats.counts["conv2d_depthwise::forward"] == 1
    assert stats.counts["conv2d_depthwise::backward"] == 1
    assert "conv2d" not in stats.counts and "conv2d_backward_data" not in stats.counts


def test_mistakes_are_reported_by_the_dml_body():
    # a filter matrix of the wrong shape: the kernel declines, the DML body reports it
    shape = SHAPES[0]
    X, W, b, dout = operands(geometry(shape), np.float64)
    with pytest.raises(Exception, match="conv2d"):
        run_layer(LIBRARY_FILE, shape, (X, W[:, :-1], b, dout))
