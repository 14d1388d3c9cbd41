"""Keras parity of the feed-forward and convolutional layers of dml_lib.

Each test gives a Keras layer and the DML layer the same random weights and inputs and requires
the same output within 1e-5 (layouts converted: Keras NHWC images <-> channels-first rows,
(N, T, D) sequences <-> time-major rows, kernel layouts as documented in each .dml file).
Most tests also compare the DML backward pass with TensorFlow's gradients (which checks the
weight layouts of the gradients and the padding recipes of the backward passes), within 1e-5
times the gradient's largest magnitude: TensorFlow sums them in float32.
"""
from __future__ import annotations

import pytest

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")  # noqa: E402
import numpy as np  # noqa: E402
tf = pytest.importorskip("tensorflow")  # noqa: E402

from support.dml_call import call_dml  # noqa: E402
from kerasdml.runtime.api import run_string  # noqa: E402
from kerasdml.runtime.errors import DMLError  # noqa: E402

TOL = 1e-5


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def uniform(r, shape, low=-1.0, high=1.0) -> np.ndarray:
    return r.uniform(low, high, shape).astype(np.float32)


def run(script: str, inputs: dict, outputs: list[str], precision: str = "double") -> list:
    results = run_string(script, inputs=inputs, outputs=outputs, precision=precision)
    return [results[name] for name in outputs]


def assert_close(dml, reference, tol=TOL):
    dml = np.asarray(dml, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert dml.shape == reference.shape, f"shape {dml.shape} != {reference.shape}"
    error = float(np.max(np.abs(dml - reference))) if dml.size else 0.0
    assert error <= tol, f"max abs difference {error:.3g} > {tol}"


def assert_gradient_close(dml, reference):
    """Gradients are sums over many float32 products in TensorFlow (weight gradients sum over the
    batch and every position), so their tolerance scales with their magnitude."""
    scale = max(1.0, float(np.max(np.abs(np.asarray(reference, dtype=np.float64)))))
    assert_close(dml, reference, TOL * scale)


# ---- layout conversions -----------------------------------------------------------------------

def nhwc_to_rows(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> N x (C*H*W), channels first."""
    return np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)


def conv_kernel(K: np.ndarray) -> np.ndarray:
    """Keras Conv2D kernel (Hf, Wf, C, F) -> F x (C*Hf*Wf)."""
    return K.transpose(3, 2, 0, 1).reshape(K.shape[3], -1)


def column(v: np.ndarray) -> np.ndarray:
    return np.asarray(v).reshape(-1, 1)


def row(v: np.ndarray) -> np.ndarray:
    return np.asarray(v).reshape(1, -1)


def randomize(layer, r, low=-1.0, high=1.0) -> list[np.ndarray]:
    """Gives a built layer random weights and returns them."""
    weights = [uniform(r, w.shape, low, high) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


def tape_gradients(layer, x: np.ndarray, dy: np.ndarray):
    """d sum(layer(x) * dy) / d(x, weights...) with TensorFlow."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(y * tf.constant(dy))
    grads = tape.gradient(loss, [xt] + list(layer.trainable_weights))
    return [g.numpy() for g in grads]


# ---- Dense -------------------------------------------------------------------------------------

def test_dense():
    r = rng(1)
    x = uniform(r, (5, 7))
    layer = keras.layers.Dense(4)
    layer.build(x.shape)
    W, b = randomize(layer, r)
    y = layer(x).numpy()
    out = call_dml("nn/layers/affine.dml", "forward", {"X": x, "W": W, "b": row(b)}, ["out"])["out"]
    assert_close(out, y)


# ---- Conv2D ------------------------------------------------------------------------------------

CONV2D_SCRIPT = """
source("nn/layers/conv2d.dml") as conv2d
source("nn/layers/zero_pad2d.dml") as zero_pad2d
top = 0; bottom = 0; left = 0; right = 0
if (same) {
  [top, bottom, Ho] = zero_pad2d::same_padding(Hin, Hf, sh)
  [left, right, Wo] = zero_pad2d::same_padding(Win, Wf, sw)
}
if (top == bottom & left == right) {
  # symmetric: the builtin pads
  [out, Hout, Wout] = conv2d::forward(X, W, b, C, Hin, Win, Hf, Wf, sh, sw, top, left)
  [dX, dW, db] = conv2d::backward(dout, Hout, Wout, X, W, b, C, Hin, Win, Hf, Wf, sh, sw, top, left)
} else {
  # asymmetric (Keras "same" with an even kernel or a stride > 1): pad, then a valid convolution
  [Xp, Hp, Wp] = zero_pad2d::forward(X, C, Hin, Win, top, bottom, left, right)
  [out, Hout, Wout] = conv2d::forward(Xp, W, b, C, Hp, Wp, Hf, Wf, sh, sw, 0, 0)
  [dXp, dW, db] = conv2d::backward(dout, Hout, Wout, Xp, W, b, C, Hp, Wp, Hf, Wf, sh, sw, 0, 0)
  dX = zero_pad2d::backward(dXp, C, Hin, Win, top, bottom, left, right)
}
symmetric = top == bottom & left == right
"""


@pytest.mark.parametrize("kernel, strides, padding, expect_symmetric", [
    ((3, 3), (1, 1), "valid", True),
    ((3, 3), (1, 1), "same", True),
    ((4, 4), (1, 1), "same", False),
    ((2, 3), (1, 1), "same", False),
    ((3, 3), (2, 2), "same", False),
    ((4, 2), (2, 2), "same", False),
    ((5, 5), (2, 1), "same", False),
    ((2, 2), (2, 2), "valid", True),
    ((3, 2), (2, 1), "valid", True),
])
def test_conv2d(kernel, strides, padding, expect_symmetric):
    r = rng(2)
    N, H, W, C, F = 2, 8, 7, 3, 4
    x = uniform(r, (N, H, W, C))
    layer = keras.layers.Conv2D(F, kernel, strides=strides, padding=padding)
    layer.build(x.shape)
    K, bias = randomize(layer, r)
    y = layer(x).numpy()
    dy = uniform(r, y.shape)
    gx, gK, gb = tape_gradients(layer, x, dy)
    out, dX, dW, db, symmetric = run(CONV2D_SCRIPT, {
        "X": nhwc_to_rows(x), "W": conv_kernel(K), "b": column(bias), "dout": nhwc_to_rows(dy),
        "C": C, "Hin": H, "Win": W, "Hf": kernel[0], "Wf": kernel[1], "sh": strides[0],
        "sw": strides[1], "same": padding == "same"}, ["out", "dX", "dW", "db", "symmetric"])
    assert symmetric == expect_symmetric
    assert_close(out, nhwc_to_rows(y))
    assert_gradient_close(dX, nhwc_to_rows(gx))
    assert_gradient_close(dW, conv_kernel(gK))
    assert_gradient_close(db, column(gb))


# ---- DepthwiseConv2D ---------------------------------------------------------------------------

DEPTHWISE_SCRIPT = """
source("nn/layers/conv2d_depthwise.dml") as depthwise
source("nn/layers/zero_pad2d.dml") as zero_pad2d
top = 0; bottom = 0; left = 0; right = 0
if (same) {
  [top, bottom, Ho] = zero_pad2d::same_padding(Hin, Hf, sh)
  [left, right, Wo] = zero_pad2d::same_padding(Win, Wf, sw)
}
[Xp, Hp, Wp] = zero_pad2d::forward(X, C, Hin, Win, top, bottom, left, right)
[out, Hout, Wout] = depthwise::forward(Xp, W, b, C, Hp, Wp, M, Hf, Wf, sh, sw, 0, 0)
[dXp, dW, db] = depthwise::backward(dout, Hout, Wout, Xp, W, b, C, Hp, Wp, M, Hf, Wf, sh, sw, 0, 0)
dX = zero_pad2d::backward(dXp, C, Hin, Win, top, bottom, left, right)
"""


@pytest.mark.parametrize("kernel, strides, padding, multiplier", [
    ((3, 3), (1, 1), "valid", 2),
    ((2, 2), (2, 2), "same", 1),
    ((3, 2), (2, 2), "same", 3),    # TensorFlow refuses unequal strides (test_depthwise.py)
])
def test_depthwise_conv2d(kernel, strides, padding, multiplier):
    r = rng(3)
    N, H, W, C, M = 2, 7, 6, 3, multiplier
    x = uniform(r, (N, H, W, C))
    layer = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                         depth_multiplier=M)
    layer.build(x.shape)
    K, bias = randomize(layer, r)
    y = layer(x).numpy()
    dy = uniform(r, y.shape)
    gx, gK, gb = tape_gradients(layer, x, dy)

    def dml_kernel(k):  # (Hf, Wf, C, M) -> (C*M) x (Hf*Wf)
        return k.transpose(2, 3, 0, 1).reshape(C * M, -1)

    out, dX, dW, db = run(DEPTHWISE_SCRIPT, {
        "X": nhwc_to_rows(x), "W": dml_kernel(K), "b": column(bias), "dout": nhwc_to_rows(dy),
        "C": C, "Hin": H, "Win": W, "M": M, "Hf": kernel[0], "Wf": kernel[1], "sh": strides[0],
        "sw": strides[1], "same": padding == "same"}, ["out", "dX", "dW", "db"])
    assert_close(out, nhwc_to_rows(y))
    assert_gradient_close(dX, nhwc_to_rows(gx))
    assert_gradient_close(dW, dml_kernel(gK))
    assert_gradient_close(db, column(gb))


# ---- Conv2DTranspose ---------------------------------------------------------------------------

TRANSPOSE_SCRIPT = """
source("nn/layers/conv2d_transpose.dml") as transpose
source("nn/layers/zero_pad2d.dml") as zero_pad2d
[oph, top, bottom] = transpose::keras_padding(Hin, Hf, sh, same)
[opw, left, right] = transpose::keras_padding(Win, Wf, sw, same)
symmetric = top == bottom & left == right
if (symmetric) {
  [out, Hout, Wout] = transpose::forward(X, W, b, C, Hin, Win, Hf, Wf, sh, sw, top, left, oph, opw)
  [dX, dW, db] = transpose::backward(dout, Hout, Wout, X, W, b, C, Hin, Win, Hf, Wf, sh, sw, top, left)
} else {
  [full, Hfull, Wfull] = transpose::forward(X, W, b, C, Hin, Win, Hf, Wf, sh, sw, 0, 0, oph, opw)
  [out, Hout, Wout] = zero_pad2d::crop(full, F, Hfull, Wfull, top, bottom, left, right)
  dfull = zero_pad2d::crop_backward(dout, F, Hfull, Wfull, top, bottom, left, right)
  [dX, dW, db] = transpose::backward(dfull, Hfull, Wfull, X, W, b, C, Hin, Win, Hf, Wf, sh, sw, 0, 0)
}
"""


@pytest.mark.parametrize("kernel, strides, padding, expect_symmetric", [
    ((3, 3), (2, 2), "valid", True),
    ((3, 3), (2, 2), "same", False),     # Hf - stride odd: cropped asymmetrically
    ((4, 4), (2, 2), "same", True),
    ((2, 2), (3, 3), "valid", True),     # kernel < stride: Keras adds rows at the end
    ((2, 3), (3, 2), "same", False),
    ((3, 3), (1, 1), "same", True),
    ((4, 3), (1, 2), "valid", True),
])
def test_conv2d_transpose(kernel, strides, padding, expect_symmetric):
    r = rng(4)
    N, H, W, C, F = 2, 4, 3, 3, 2
    x = uniform(r, (N, H, W, C))
    layer = keras.layers.Conv2DTranspose(F, kernel, strides=strides, padding=padding)
    layer.build(x.shape)
    K, bias = randomize(layer, r)
    y = layer(x).numpy()
    dy = uniform(r, y.shape)
    gx, gK, gb = tape_gradients(layer, x, dy)

    def dml_kernel(k):  # (Hf, Wf, F, C) -> C x (F*Hf*Wf)
        return k.transpose(3, 2, 0, 1).reshape(C, -1)

    out, dX, dW, db, Hout, Wout, symmetric = run(TRANSPOSE_SCRIPT, {
        "X": nhwc_to_rows(x), "W": dml_kernel(K), "b": column(bias), "dout": nhwc_to_rows(dy),
        "C": C, "F": F, "Hin": H, "Win": W, "Hf": kernel[0], "Wf": kernel[1], "sh": strides[0],
        "sw": strides[1], "same": padding == "same"},
        ["out", "dX", "dW", "db", "Hout", "Wout", "symmetric"])
    assert (Hout, Wout) == y.shape[1:3]
    assert symmetric == expect_symmetric
    assert_close(out, nhwc_to_rows(y))
    assert_gradient_close(dX, nhwc_to_rows(gx))
    assert_gradient_close(dW, dml_kernel(gK))
    assert_gradient_close(db, column(gb))


# ---- Conv1D ------------------------------------------------------------------------------------

CONV1D_SCRIPT = """
source("nn/layers/conv1d.dml") as conv1d
source("nn/layers/zero_pad2d.dml") as zero_pad2d
before = 0; after = 0
if (padding == "same") {
  [before, after, To] = zero_pad2d::same_padding(T, K, stride)
} else if (padding == "causal") {
  before = K - 1
}
[out, Tout] = conv1d::forward(X, W, b, T, D, K, stride, before, after)
[dX, dW, db] = conv1d::backward(dout, Tout, X, W, b, T, D, K, stride, before, after)
"""


@pytest.mark.parametrize("kernel, stride, padding", [
    (3, 1, "valid"),
    (4, 2, "same"),
    (3, 2, "same"),
    (3, 1, "causal"),
    (2, 3, "valid"),
    (1, 2, "valid"),
    (5, 1, "same"),
])
def test_conv1d(kernel, stride, padding):
    r = rng(5)
    N, T, D, F = 3, 9, 4, 5
    x = uniform(r, (N, T, D))
    layer = keras.layers.Conv1D(F, kernel, strides=stride, padding=padding)
    layer.build(x.shape)
    K, bias = randomize(layer, r)
    y = layer(x).numpy()
    dy = uniform(r, y.shape)
    gx, gK, gb = tape_gradients(layer, x, dy)

    def dml_kernel(k):  # (K, D, F) -> F x (D*K)
        return k.transpose(2, 1, 0).reshape(F, -1)

    out, dX, dW, db = run(CONV1D_SCRIPT, {
        "X": x.reshape(N, -1), "W": dml_kernel(K), "b": column(bias), "dout": dy.reshape(N, -1),
        "T": T, "D": D, "K": kernel, "stride": stride, "padding": padding},
        ["out", "dX", "dW", "db"])
    assert_close(out, y.reshape(N, -1))
    assert_gradient_close(dX, gx.reshape(N, -1))
    assert_gradient_close(dW, dml_kernel(gK))
    assert_gradient_close(db, column(gb))


# ---- pooling -----------------------------------------------------------------------------------

POOL_SCRIPT = """
source("nn/layers/{name}.dml") as pool
source("nn/layers/zero_pad2d.dml") as zero_pad2d
if (same) {{
  [top, bottom, Ho] = zero_pad2d::same_padding(Hin, Hf, sh)
  [left, right, Wo] = zero_pad2d::same_padding(Win, Wf, sw)
  [out, Hout, Wout] = pool::forward_padded(X, C, Hin, Win, Hf, Wf, sh, sw, top, bottom, left, right)
  dX = pool::backward_padded(dout, Hout, Wout, X, C, Hin, Win, Hf, Wf, sh, sw,
                             top, bottom, left, right)
}} else {{
  [out, Hout, Wout] = pool::forward(X, C, Hin, Win, Hf, Wf, sh, sw, 0, 0)
  dX = pool::backward(dout, Hout, Wout, X, C, Hin, Win, Hf, Wf, sh, sw, 0, 0)
}}
"""

POOL_CASES = [
    ((2, 2), None, "valid"),
    ((3, 3), (2, 2), "valid"),
    ((2, 2), None, "same"),          # 7 x 7: one padded row / column at the end
    ((3, 3), (2, 2), "same"),
    ((3, 2), (1, 1), "same"),        # asymmetric rows, stride 1
    ((2, 3), (2, 1), "same"),
    ((3, 3), (1, 1), "same"),        # one row / column on every side (InceptionV3's pools)
]


@pytest.mark.parametrize("keras_class, name", [
    ("MaxPooling2D", "max_pool2d"), ("AveragePooling2D", "avg_pool2d")])
@pytest.mark.parametrize("pool, strides, padding", POOL_CASES)
@pytest.mark.parametrize("precision", ["double", "single"])  # single: the padding must stay finite
def test_pooling(keras_class, name, pool, strides, padding, precision):
    r = rng(6)
    N, H, W, C = 2, 7, 7, 3
    x = uniform(r, (N, H, W, C))
    layer = getattr(keras.layers, keras_class)(pool, strides=strides, padding=padding)
    y = layer(x).numpy()
    dy = uniform(r, y.shape)
    (gx,) = tape_gradients(layer, x, dy)
    stride = strides or pool
    out, dX = run(POOL_SCRIPT.format(name=name), {
        "X": nhwc_to_rows(x), "dout": nhwc_to_rows(dy), "C": C, "Hin": H, "Win": W,
        "Hf": pool[0], "Wf": pool[1], "sh": stride[0], "sw": stride[1],
        "same": padding == "same"}, ["out", "dX"], precision)
    assert_close(out, nhwc_to_rows(y))
    assert_gradient_close(dX, nhwc_to_rows(gx))


@pytest.mark.parametrize("keras_class, name", [
    ("GlobalAveragePooling2D", "global_avg_pool2d"), ("GlobalMaxPooling2D", "global_max_pool2d")])
def test_global_pooling(keras_class, name):
    r = rng(7)
    N, H, W, C = 3, 5, 4, 6
    x = uniform(r, (N, H, W, C))
    layer = getattr(keras.layers, keras_class)()
    y = layer(x).numpy()
    dy = uniform(r, y.shape)
    (gx,) = tape_gradients(layer, x, dy)
    res = run(f"""
source("nn/layers/{name}.dml") as pool
out = pool::forward(X, C, Hin, Win)
dX = pool::backward(dout, X, C, Hin, Win)
""", {"X": nhwc_to_rows(x), "dout": dy, "C": C, "Hin": H, "Win": W}, ["out", "dX"])
    assert_close(res[0], y)
    assert_gradient_close(res[1], nhwc_to_rows(gx))


# ---- ZeroPadding2D, UpSampling2D ---------------------------------------------------------------

def test_zero_padding2d():
    r = rng(8)
    N, H, W, C = 2, 3, 4, 3
    x = uniform(r, (N, H, W, C))
    y = keras.layers.ZeroPadding2D(((1, 2), (3, 0)))(x).numpy()
    res = call_dml("nn/layers/zero_pad2d.dml", "forward", {
        "X": nhwc_to_rows(x), "C": C, "Hin": H, "Win": W,
        "padtop": 1, "padbottom": 2, "padleft": 3, "padright": 0}, ["out", "Hout", "Wout"])
    assert (res["Hout"], res["Wout"]) == (6, 7)
    np.testing.assert_array_equal(res["out"], nhwc_to_rows(y))   # exact
    back = call_dml("nn/layers/zero_pad2d.dml", "crop", {
        "X": res["out"], "C": C, "Hin": 6, "Win": 7,
        "croptop": 1, "cropbottom": 2, "cropleft": 3, "cropright": 0}, ["out", "Hout", "Wout"])["out"]
    np.testing.assert_array_equal(back, nhwc_to_rows(x))


def test_upsampling2d():
    r = rng(9)
    N, H, W, C = 2, 3, 4, 3
    x = uniform(r, (N, H, W, C))
    y = keras.layers.UpSampling2D((2, 3))(x).numpy()
    res = call_dml("nn/layers/upsample2d.dml", "forward", {
        "X": nhwc_to_rows(x), "C": C, "Hin": H, "Win": W, "sizeh": 2, "sizew": 3},
        ["out", "Hout", "Wout"])
    assert (res["Hout"], res["Wout"]) == (6, 12)
    np.testing.assert_array_equal(res["out"], nhwc_to_rows(y))


# ---- BatchNormalization ------------------------------------------------------------------------

def batch_norm_layer(x, r, momentum, epsilon, center, scale):
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, center=center,
                                            scale=scale)
    layer.build(x.shape)
    D = x.shape[-1]
    gamma = uniform(r, (D,), 0.5, 1.5)
    beta = uniform(r, (D,))
    mean = uniform(r, (D,), -0.5, 0.5)
    var = uniform(r, (D,), 0.5, 1.5)
    layer.set_weights(([gamma] if scale else []) + ([beta] if center else []) + [mean, var])
    if not scale:
        gamma = np.full(D, 7.0, np.float32)   # must be ignored by the DML layer
    if not center:
        beta = np.full(D, -5.0, np.float32)
    return layer, gamma, beta, mean, var


BN_CASES = [(0.99, 0.001, True, True), (0.9, 1e-5, True, True), (0.8, 0.01, False, True),
            (0.9, 0.001, True, False)]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("momentum, epsilon, center, scale", BN_CASES)
def test_batch_norm1d(training, momentum, epsilon, center, scale):
    r = rng(10)
    x = uniform(r, (6, 5), -2, 3)
    layer, gamma, beta, mean, var = batch_norm_layer(x, r, momentum, epsilon, center, scale)
    y = layer(x, training=training).numpy()
    res = call_dml("nn/layers/batch_norm1d.dml", "forward", {
        "X": x, "gamma": row(gamma), "beta": row(beta), "mode": "train" if training else "test",
        "ema_mean": row(mean), "ema_var": row(var), "momentum": momentum, "epsilon": epsilon,
        "center": center, "scale": scale}, ["out", "ema_mean_upd", "ema_var_upd"])
    assert_close(res["out"], y)
    assert_close(res["ema_mean_upd"], row(layer.moving_mean.numpy()))
    assert_close(res["ema_var_upd"], row(layer.moving_variance.numpy()))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("momentum, epsilon, center, scale", BN_CASES)
def test_batch_norm2d(training, momentum, epsilon, center, scale):
    r = rng(11)
    N, H, W, C = 3, 4, 5, 3
    x = uniform(r, (N, H, W, C), -2, 3)
    layer, gamma, beta, mean, var = batch_norm_layer(x, r, momentum, epsilon, center, scale)
    y = layer(x, training=training).numpy()
    res = call_dml("nn/layers/batch_norm2d.dml", "forward", {
        "X": nhwc_to_rows(x), "gamma": column(gamma), "beta": column(beta), "C": C, "Hin": H,
        "Win": W, "mode": "train" if training else "test", "ema_mean": column(mean),
        "ema_var": column(var), "momentum": momentum, "epsilon": epsilon, "center": center,
        "scale": scale}, ["out", "ema_mean_upd", "ema_var_upd"])
    assert_close(res["out"], nhwc_to_rows(y))
    assert_close(res["ema_mean_upd"], column(layer.moving_mean.numpy()))
    assert_close(res["ema_var_upd"], column(layer.moving_variance.numpy()))


def test_batch_norm_gradients_match_tensorflow():
    """Train-mode backward (through the batch statistics) against TensorFlow's gradients."""
    r = rng(12)
    N, H, W, C = 3, 2, 3, 2
    x = uniform(r, (N, H, W, C), -2, 3)
    layer, gamma, beta, mean, var = batch_norm_layer(x, r, 0.99, 0.001, True, True)
    xt = tf.constant(x)
    dy = uniform(r, x.shape)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt, training=True) * dy)
    gx, ggamma, gbeta = [g.numpy() for g in tape.gradient(loss, [xt, layer.gamma, layer.beta])]
    res = call_dml("nn/layers/batch_norm2d.dml", "backward", {
        "dout": nhwc_to_rows(dy), "X": nhwc_to_rows(x), "gamma": column(gamma), "C": C,
        "Hin": H, "Win": W, "mode": "train", "ema_mean": column(mean), "ema_var": column(var),
        "epsilon": 0.001}, ["dX", "dgamma", "dbeta"])
    assert_gradient_close(res["dX"], nhwc_to_rows(gx))
    assert_gradient_close(res["dgamma"], column(ggamma))
    assert_gradient_close(res["dbeta"], column(gbeta))


# ---- LayerNormalization ------------------------------------------------------------------------

@pytest.mark.parametrize("shape, epsilon, center, scale", [
    ((5, 6), 0.001, True, True),
    ((4, 3, 5), 1e-6, True, True),      # a sequence: each time step normalized on its own
    ((4, 3, 5), 0.01, False, True),
    ((5, 6), 0.001, True, False),
])
def test_layer_norm(shape, epsilon, center, scale):
    r = rng(13)
    x = uniform(r, shape, -2, 3)
    D = shape[-1]
    layer = keras.layers.LayerNormalization(epsilon=epsilon, center=center, scale=scale)
    layer.build(x.shape)
    gamma = uniform(r, (D,), 0.5, 1.5)
    beta = uniform(r, (D,))
    layer.set_weights(([gamma] if scale else []) + ([beta] if center else []))
    dy = uniform(r, shape)
    y = layer(x).numpy()
    gx = tape_gradients(layer, x, dy)[0]
    res = run("""
source("nn/layers/layer_norm.dml") as layer_norm
out = layer_norm::forward(X, gamma, beta, epsilon, center, scale)
[dX, dgamma, dbeta] = layer_norm::backward(dout, X, gamma, epsilon, center, scale)
""", {"X": x.reshape(shape[0], -1), "gamma": row(gamma), "beta": row(beta),
      "dout": dy.reshape(shape[0], -1), "epsilon": epsilon, "center": center, "scale": scale},
        ["out", "dX"])
    assert_close(res[0], y.reshape(shape[0], -1))
    assert_gradient_close(res[1], gx.reshape(shape[0], -1))


# ---- GroupNormalization ------------------------------------------------------------------------

@pytest.mark.parametrize("shape, groups, center, scale", [
    ((3, 4, 5, 6), 3, True, True),      # images (N, H, W, C)
    ((3, 4, 5, 6), -1, True, False),    # instance normalization
    ((4, 5, 6), 1, False, True),        # sequences, one group
    ((4, 6), 2, True, True),            # vectors
])
def test_group_norm(shape, groups, center, scale):
    r = rng(21)
    x = uniform(r, shape, -2, 3)
    C = shape[-1]
    layer = keras.layers.GroupNormalization(groups, epsilon=0.01, center=center, scale=scale)
    layer.build(x.shape)
    weights = randomize(layer, r, 0.5, 1.5)
    dy = uniform(r, shape)
    y = layer(x).numpy()
    grads = tape_gradients(layer, x, dy)

    def channels_first(a):
        a = np.asarray(a)
        return np.moveaxis(a, -1, 1).reshape(a.shape[0], -1)
    named = dict(zip((["gamma"] if scale else []) + (["beta"] if center else []), weights))
    res = run("""
source("nn/layers/group_norm.dml") as group_norm
out = group_norm::forward(X, gamma, beta, C, S, G, 0.01, center, scale)
[dX, dgamma, dbeta] = group_norm::backward(dout, X, gamma, C, S, G, 0.01, center, scale)
""", {"X": channels_first(x), "dout": channels_first(dy), "C": C, "S": int(np.prod(shape[1:-1])),
      "G": C if groups == -1 else groups, "center": center, "scale": scale,
      "gamma": column(named.get("gamma", np.ones(C))),
      "beta": column(named.get("beta", np.zeros(C)))}, ["out", "dX", "dgamma", "dbeta"])
    assert_close(res[0], channels_first(y))
    assert_gradient_close(res[1], channels_first(grads[0]))
    for position, name in enumerate(named):
        assert_gradient_close(res[2 + ("gamma", "beta").index(name)],
                              column(grads[1 + position]))


# ---- Embedding ---------------------------------------------------------------------------------

def test_embedding():
    r = rng(14)
    N, T, V, D = 4, 6, 10, 3
    ids = r.integers(0, V, (N, T)).astype(np.int32)
    ids[0, 0], ids[0, 1] = 0, V - 1            # both ends of the (0-based) id range
    layer = keras.layers.Embedding(V, D)
    layer.build(ids.shape)
    (E,) = randomize(layer, r)
    y = layer(ids).numpy()
    dy = uniform(r, y.shape)
    idt = tf.constant(ids)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(idt) * dy)
    gE = tf.convert_to_tensor(tape.gradient(loss, layer.embeddings)).numpy()
    res = run("""
source("nn/layers/embedding.dml") as embedding
out = embedding::forward(X, E)
dE = embedding::backward(dout, X, E)
""", {"X": ids, "E": E, "dout": dy.reshape(N, -1)}, ["out", "dE"])
    assert_close(res[0], y.reshape(N, -1))
    assert_gradient_close(res[1], gE)


@pytest.mark.parametrize("bad", [-1, 10, 2.5])
def test_embedding_rejects_ids_outside_the_vocabulary(bad):
    ids = np.array([[1, 2, bad]], dtype=np.float64)
    with pytest.raises(DMLError, match="0-based"):
        call_dml("nn/layers/embedding.dml", "forward", {"X": ids, "E": np.zeros((10, 2))},
                 ["out"])


# ---- Dropout (no Keras parity: the masks come from different generators) ------------------------

DROPOUT_SCRIPT = """
source("nn/layers/dropout.dml") as dropout
[out, mask] = dropout::forward(X, p, seed)
dX = dropout::backward(dout, X, p, mask)
[out2, mask2] = dropout::forward(X, p, seed)
[out3, mask3] = dropout::forward(X, p, seed + 1)
"""


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_argument_is_the_drop_rate(p):
    r = rng(15)
    x = uniform(r, (300, 400), 0.5, 1.5)           # no zeros: a zero output means a dropped cell
    dout = uniform(r, x.shape)
    out, mask, dX, mask2, mask3 = run(DROPOUT_SCRIPT, {"X": x, "dout": dout, "p": p, "seed": 42},
                                      ["out", "mask", "dX", "mask2", "mask3"])
    assert set(np.unique(mask)) <= {0.0, 1.0}
    keep = mask.mean()
    # 120000 cells: the standard deviation of the keep rate is below 0.0015
    assert abs(keep - (1 - p)) < 0.01, f"kept {keep:.4f} of the cells, expected {1 - p}"
    np.testing.assert_allclose(out, x.astype(np.float64) * mask / (1 - p), rtol=1e-12)
    np.testing.assert_allclose(dX, dout.astype(np.float64) * mask / (1 - p), rtol=1e-12)
    assert np.array_equal((out != 0), mask == 1)
    # inverted dropout keeps the expected value
    assert abs(out.mean() / x.mean() - 1) < 0.03
    np.testing.assert_array_equal(mask, mask2)     # same seed, same mask
    assert not np.array_equal(mask, mask3)


def test_dropout_edge_rates():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    res = call_dml("nn/layers/dropout.dml", "forward", {"X": x, "p": 0.0}, ["out", "mask"])
    np.testing.assert_array_equal(res["out"], x)
    res = call_dml("nn/layers/dropout.dml", "forward", {"X": x, "p": 1.0}, ["out", "mask"])
    np.testing.assert_array_equal(res["out"], np.zeros_like(x))
    with pytest.raises(DMLError, match="drop rate"):
        call_dml("nn/layers/dropout.dml", "forward", {"X": x, "p": 1.5}, ["out", "mask"])


# ---- init --------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, args, limit, shapes", [
    ("affine", "7, 5, 3", np.sqrt(6 / 12), [(7, 5), (1, 5)]),
    ("conv2d", "4, 3, 3, 2, 3", np.sqrt(6 / (7 * 6)), [(4, 18), (4, 1)]),
    ("conv2d_depthwise", "3, 2, 3, 3, 3", np.sqrt(6 / (5 * 9)), [(6, 9), (6, 1)]),
    ("conv2d_grouped", "6, 4, 2, 3, 3, 3", np.sqrt(6 / (8 * 9)), [(6, 18), (6, 1)]),
    ("conv2d_transpose", "4, 3, 3, 2, 3", np.sqrt(6 / (7 * 6)), [(3, 24), (4, 1)]),
    ("conv3d_transpose", "4, 3, 2, 3, 2, 3", np.sqrt(6 / (7 * 12)), [(3, 48), (4, 1)]),
    ("conv1d", "5, 4, 3, 3", np.sqrt(6 / (9 * 3)), [(5, 12), (5, 1)]),
])
def test_init_is_glorot_uniform_with_zero_bias(source, args, limit, shapes):
    W, b = run(f'source("nn/layers/{source}.dml") as lib\n[W, b] = lib::init({args})\n', {},
               ["W", "b"])
    assert [W.shape, b.shape] == shapes
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.8 * limit
    assert not b.any()
