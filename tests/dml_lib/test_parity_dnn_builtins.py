"""The DNN builtins (conv2d and its two backward passes, max_pool, avg_pool and their backward
passes, bias_add, bias_multiply), called from DML, against Keras/TensorFlow on odd sizes.

Cases cover even and odd (and non-square) kernels, strides 1 and 2, padding 0, 1 and 2, 1 and 3
channels, batches of 1 and 7, on 9 x 7 images. The reference runs in float64, so the results
must agree to rounding (1e-10). Layout: Keras NHWC arrays <-> channels-first rows; the
builtin's symmetric zero padding is Keras ZeroPadding2D followed by a "valid" layer. For
max_pool the builtin pads with the most negative double, which the reference reproduces by
padding with -inf.
"""
from __future__ import annotations

import pytest

import itertools
import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")  # noqa: E402
import numpy as np  # noqa: E402
tf = pytest.importorskip("tensorflow")  # noqa: E402

from kerasdml.runtime.api import run_string  # noqa: E402

TOL = 1e-10
H, W = 9, 7
CHANNELS_AND_BATCH = [(1, 1), (3, 7)]


def seed(*case) -> int:
    """A per-case seed that does not change between runs (unlike hash() of strings)."""
    return zlib.crc32(repr(case).encode())


def nhwc_to_rows(x) -> np.ndarray:
    x = np.asarray(x)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)


def assert_close(dml, reference, what):
    dml = np.asarray(dml, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert dml.shape == reference.shape, f"{what}: shape {dml.shape} != {reference.shape}"
    error = float(np.max(np.abs(dml - reference)))
    assert error <= TOL, f"{what}: max abs difference {error:.3g} > {TOL}"


def gradients(fn, x, weights, dy):
    """d sum(fn(x) * dy) / d(x, *weights)."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
        loss = tf.reduce_sum(y * dy)
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, [xt] + weights)]


# ---- convolution -------------------------------------------------------------------------------

CONV_SCRIPT = """
out = conv2d(X, K, input_shape=[N, C, Hin, Win], filter_shape=[F, C, Hf, Wf],
             stride=[sh, sw], padding=[ph, pw])
out = bias_add(out, b)
dK = conv2d_backward_filter(X, dout, input_shape=[N, C, Hin, Win], filter_shape=[F, C, Hf, Wf],
                            stride=[sh, sw], padding=[ph, pw])
dX = conv2d_backward_data(K, dout, input_shape=[N, C, Hin, Win], filter_shape=[F, C, Hf, Wf],
                          stride=[sh, sw], padding=[ph, pw])
"""

CONV_CASES = [(k, s, p, cn) for k, s, p, cn in itertools.product(
    [(2, 2), (3, 3), (4, 3), (1, 2)], [(1, 1), (2, 2), (2, 1)], [0, 1, 2], CHANNELS_AND_BATCH)]


@pytest.mark.parametrize("kernel, stride, pad, channels_batch", CONV_CASES)
def test_conv2d_builtins_match_keras_conv2d(kernel, stride, pad, channels_batch):
    C, N = channels_batch
    F = 2 if C == 1 else 4
    r = np.random.default_rng(seed(kernel, stride, pad, C))
    x = r.uniform(-1, 1, (N, H, W, C))
    padding = keras.layers.ZeroPadding2D(pad, dtype="float64")
    conv = keras.layers.Conv2D(F, kernel, strides=stride, padding="valid", dtype="float64")
    conv.build((N, H + 2 * pad, W + 2 * pad, C))
    K = r.uniform(-1, 1, conv.kernel.shape)
    bias = r.uniform(-1, 1, (F,))
    conv.set_weights([K, bias])
    Ho = (H + 2 * pad - kernel[0]) // stride[0] + 1
    Wo = (W + 2 * pad - kernel[1]) // stride[1] + 1
    dy = r.uniform(-1, 1, (N, Ho, Wo, F))
    y, (gx, gK) = gradients(lambda t: conv(padding(t)), x, [conv.kernel], dy)
    res = run_string(CONV_SCRIPT, inputs={
        "X": nhwc_to_rows(x), "K": K.transpose(3, 2, 0, 1).reshape(F, -1), "b": bias.reshape(F, 1),
        "dout": nhwc_to_rows(dy), "N": N, "C": C, "Hin": H, "Win": W, "F": F,
        "Hf": kernel[0], "Wf": kernel[1], "sh": stride[0], "sw": stride[1], "ph": pad, "pw": pad},
        outputs=["out", "dK", "dX"])
    assert_close(res["out"], nhwc_to_rows(y), "conv2d + bias_add")
    assert_close(res["dK"], gK.transpose(3, 2, 0, 1).reshape(F, -1), "conv2d_backward_filter")
    assert_close(res["dX"], nhwc_to_rows(gx), "conv2d_backward_data")


def test_bias_multiply():
    r = np.random.default_rng(5)
    x = r.uniform(-1, 1, (7, 3 * H * W))
    scale = r.uniform(-1, 1, (3, 1))
    res = run_string("Y = bias_multiply(X, s)\nZ = bias_add(X, s)", inputs={"X": x, "s": scale},
                     outputs=["Y", "Z"])
    planes = x.reshape(7, 3, H * W)
    assert_close(res["Y"], (planes * scale[None]).reshape(7, -1), "bias_multiply")
    assert_close(res["Z"], (planes + scale[None]).reshape(7, -1), "bias_add")


# ---- pooling -----------------------------------------------------------------------------------

POOL_SCRIPT = """
out = {name}(X, input_shape=[N, C, Hin, Win], pool_size=[Hf, Wf], stride=[sh, sw],
             padding=[ph, pw])
dX = {name}_backward(X, dout, input_shape=[N, C, Hin, Win], pool_size=[Hf, Wf], stride=[sh, sw],
                     padding=[ph, pw])
"""

POOL_CASES = [(k, s, p, cn) for k, s, p, cn in itertools.product(
    [(2, 2), (3, 3), (2, 3)], [(1, 1), (2, 2), (1, 2)], [0, 1, 2], CHANNELS_AND_BATCH)]


@pytest.mark.parametrize("builtin", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("pool, stride, pad, channels_batch", POOL_CASES)
def test_pool_builtins_match_keras_pooling(builtin, pool, stride, pad, channels_batch):
    C, N = channels_batch
    r = np.random.default_rng(seed(builtin, pool, stride, pad, C))
    x = r.uniform(-1, 1, (N, H, W, C))
    paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    if builtin == "max_pool":
        layer = keras.layers.MaxPooling2D(pool, strides=stride, padding="valid", dtype="float64")
        fn = lambda t: layer(tf.pad(t, paddings, constant_values=-np.inf))  # noqa: E731
    else:
        layer = keras.layers.AveragePooling2D(pool, strides=stride, padding="valid",
                                              dtype="float64")
        fn = lambda t: layer(tf.pad(t, paddings))  # noqa: E731
    Ho = (H + 2 * pad - pool[0]) // stride[0] + 1
    Wo = (W + 2 * pad - pool[1]) // stride[1] + 1
    dy = r.uniform(-1, 1, (N, Ho, Wo, C))
    y, (gx,) = gradients(fn, x, [], dy)
    # a window lying wholly in the padding: -inf in the reference, -Double.MAX_VALUE in SystemDS
    y = np.where(np.isneginf(y), -np.finfo(np.float64).max, y)
    res = run_string(POOL_SCRIPT.format(name=builtin), inputs={
        "X": nhwc_to_rows(x), "dout": nhwc_to_rows(dy), "N": N, "C": C, "Hin": H, "Win": W,
        "Hf": pool[0], "Wf": pool[1], "sh": stride[0], "sw": stride[1], "ph": pad, "pw": pad},
        outputs=["out", "dX"])
    assert_close(res["out"], nhwc_to_rows(y), builtin)
    assert_close(res["dX"], nhwc_to_rows(gx), f"{builtin}_backward")
