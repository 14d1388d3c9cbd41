"""Tests of the kernels behind DML's DNN builtins (kerasdml.runtime.local.dnn).

Every test here runs twice: on the numpy kernels and on the native ones (runtime/local/native),
which must meet the same references.

* agreement with Apache SystemDS, exact to rtol 1e-12, on fixtures it computed
  (tests/runtime/local/fixtures/dnn/, made by make_fixtures.dml there; no Java needed here);
* agreement with TensorFlow (forward and GradientTape gradients, computed by TF
  in float64), to 1e-5;
* float32 in -> float32 out;
* central-difference gradient checks of the backward kernels;
* error messages for shapes SystemDS refuses.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

from kerasdml.runtime.errors import DMLRuntimeError  # noqa: E402
from kerasdml.runtime.local import dnn  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "dnn"


pytestmark = pytest.mark.usefixtures("kernels")   # numpy and native kernels (conftest.py)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def load(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)


def conv_args(N, C, H, W, F, kh, kw, sh, sw, ph, pw):
    return dict(input_shape=[N, C, H, W], filter_shape=[F, C, kh, kw],
                stride=[sh, sw], padding=[ph, pw])


def pool_args(N, C, H, W, kh, kw, sh, sw, ph, pw):
    return dict(input_shape=[N, C, H, W], pool_size=[kh, kw], stride=[sh, sw], padding=[ph, pw])


def out_size(H, k, s, p):
    return (H + 2 * p - k) // s + 1


def fixture_params():
    """(case folder, builtin) pairs, one per SystemDS output file."""
    kinds = {
        "conv": ("conv2d", "conv2d_backward_filter", "conv2d_backward_data"),
        "pool": ("max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward"),
        "bias": ("bias_add", "bias_multiply"),
    }
    out = []
    for case in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for builtin in kinds[case.name.split("_")[0]]:
            out.append(pytest.param(case, builtin, id=f"{builtin}-{case.name}"))
    return out


def run_fixture(case: Path, builtin: str, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(kerasdml's result, SystemDS's result) for one fixture."""
    P = [int(v) for v in load(case / "params.csv")[0]]
    X = load(case / "X.csv").astype(dtype)
    kind = case.name.split("_")[0]
    fn = getattr(dnn, builtin)
    if kind == "conv":
        a = conv_args(*P)
        W = load(case / "W.csv").astype(dtype)
        dout = load(case / "dout.csv").astype(dtype)
        first, second = {"conv2d": (X, W), "conv2d_backward_filter": (X, dout),
                         "conv2d_backward_data": (W, dout)}[builtin]
        got = fn(first, second, **a)
    elif kind == "pool":
        a = pool_args(*P)
        if builtin.endswith("_backward"):
            got = fn(X, load(case / "dout.csv").astype(dtype), **a)
        else:
            got = fn(X, **a)
    else:
        got = fn(X, load(case / "b.csv").astype(dtype))
    return got, load(case / f"{builtin}.csv")


# --------------------------------------------------------------------------
# 1. exact agreement with SystemDS
# --------------------------------------------------------------------------

@pytest.mark.parametrize("case, builtin", fixture_params())
def test_matches_systemds(case, builtin):
    got, expected = run_fixture(case, builtin)
    assert got.dtype == np.float64
    assert got.shape == expected.shape
    assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_fixtures_cover_every_builtin():
    names = {p.values[1] for p in fixture_params()}
    assert names == set(dnn.__all__)


def test_max_pool_pads_with_minus_double_max():
    # A window lying wholly in the padding: SystemDS outputs -Double.MAX_VALUE.
    X = -np.arange(1.0, 10.0).reshape(1, 9)
    Y = dnn.max_pool(X, **pool_args(1, 1, 3, 3, 2, 2, 2, 2, 2, 2))
    assert Y[0, 0] == -np.finfo(np.float64).max
    # a partly padded window takes the real maximum, even though it is negative
    assert dnn.max_pool(X, **pool_args(1, 1, 3, 3, 2, 2, 1, 1, 1, 1))[0, 0] == -1.0


def test_max_pool_backward_ties_go_to_first_maximum():
    # all cells equal: every 2x2 window (stride 1) gives its whole dout to its top-left cell
    X = np.ones((1, 16))
    dout = np.arange(1.0, 10.0).reshape(1, 9)
    dX = dnn.max_pool_backward(X, dout, **pool_args(1, 1, 4, 4, 2, 2, 1, 1, 0, 0))
    expected = np.zeros((4, 4))
    expected[:3, :3] = dout.reshape(3, 3)
    assert_allclose(dX.reshape(4, 4), expected, rtol=0, atol=0)


def test_max_pool_backward_accumulates_overlapping_windows():
    # all four 2x2 windows of a 3x3 image pick the centre: it gets the sum 1+2+3+4
    X = np.array([[1, 2, 3, 4, 9, 5, 6, 7, 8]], dtype=float)
    dX = dnn.max_pool_backward(X, np.array([[1.0, 2, 3, 4]]), **pool_args(1, 1, 3, 3, 2, 2, 1, 1, 0, 0))
    assert_allclose(dX, [[0, 0, 0, 0, 10, 0, 0, 0, 0]], rtol=0, atol=0)


def test_avg_pool_divisor_counts_padding():
    X = np.arange(1.0, 10.0).reshape(1, 9)
    Y = dnn.avg_pool(X, **pool_args(1, 1, 3, 3, 2, 2, 1, 1, 1, 1))
    assert Y[0, 0] == 0.25               # one real cell (1.0) divided by 4
    assert Y[0, 5] == (1 + 2 + 4 + 5) / 4


# --------------------------------------------------------------------------
# 2. agreement with TensorFlow / Keras
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


CONV_CASES = [
    #            N  C  H  W  F kh kw sh sw ph pw
    pytest.param(1, 1, 5, 5, 2, 3, 3, 1, 1, 0, 0, id="b1_c1_5x5_k3_s1_p0"),
    pytest.param(7, 3, 8, 9, 4, 4, 3, 2, 2, 1, 1, id="b7_c3_8x9_k4x3_s2_p1"),
    pytest.param(3, 3, 7, 7, 5, 5, 5, 1, 1, 2, 2, id="b3_c3_7x7_k5_s1_p2"),
    pytest.param(2, 2, 9, 6, 3, 2, 2, 2, 1, 0, 1, id="b2_c2_9x6_k2_s2x1_p0x1"),
    pytest.param(4, 1, 28, 28, 8, 5, 5, 1, 1, 2, 2, id="b4_c1_28x28_k5_p2_lenet"),
    pytest.param(2, 3, 6, 6, 2, 1, 1, 3, 3, 0, 0, id="b2_c3_6x6_k1_s3_p0"),
]


# TF runs in float64 here: its float32 sums over a whole batch (the filter
# gradient adds N*Ho*Wo products) drift by more than the 1e-5 tolerance.
TF_DTYPE = np.float64


def _nhwc(tf, rows, N, C, H, W):
    return tf.constant(rows.reshape(N, C, H, W).transpose(0, 2, 3, 1).astype(TF_DTYPE))


def _rows(t):
    """NHWC tensor -> N x (C*H*W) rows."""
    a = t.numpy().astype(np.float64)
    return a.transpose(0, 3, 1, 2).reshape(a.shape[0], -1)


def _kernel(tf, Wm, F, C, kh, kw):
    return tf.constant(Wm.reshape(F, C, kh, kw).transpose(2, 3, 1, 0).astype(TF_DTYPE))


def _conv_setup(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw, seed=0):
    rng = np.random.default_rng(seed)
    Ho, Wo = out_size(H, kh, sh, ph), out_size(W, kw, sw, pw)
    X = rng.standard_normal((N, C * H * W))
    Wm = rng.standard_normal((F, C * kh * kw))
    dout = rng.standard_normal((N, F * Ho * Wo))
    a = conv_args(N, C, H, W, F, kh, kw, sh, sw, ph, pw)

    def tf_conv(x, k):
        return tf.nn.conv2d(x, k, strides=[1, sh, sw, 1],
                            padding=[[0, 0], [ph, ph], [pw, pw], [0, 0]])
    return X, Wm, dout, a, (Ho, Wo), tf_conv


@pytest.mark.parametrize("N, C, H, W, F, kh, kw, sh, sw, ph, pw", CONV_CASES)
def test_conv2d_matches_tf(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw):
    X, Wm, _, a, _, tf_conv = _conv_setup(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw)
    expected = _rows(tf_conv(_nhwc(tf, X, N, C, H, W), _kernel(tf, Wm, F, C, kh, kw)))
    assert_allclose(dnn.conv2d(X, Wm, **a), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("N, C, H, W, F, kh, kw, sh, sw, ph, pw", CONV_CASES)
def test_conv2d_backward_filter_matches_tf(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw):
    X, Wm, dout, a, (Ho, Wo), tf_conv = _conv_setup(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw)
    k = tf.Variable(_kernel(tf, Wm, F, C, kh, kw))
    with tf.GradientTape() as tape:
        y = tf_conv(_nhwc(tf, X, N, C, H, W), k)
    g = tape.gradient(y, k, output_gradients=_nhwc(tf, dout, N, F, Ho, Wo))
    expected = g.numpy().astype(np.float64).transpose(3, 2, 0, 1).reshape(F, C * kh * kw)
    assert_allclose(dnn.conv2d_backward_filter(X, dout, **a), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("N, C, H, W, F, kh, kw, sh, sw, ph, pw", CONV_CASES)
def test_conv2d_backward_data_matches_tf(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw):
    X, Wm, dout, a, (Ho, Wo), tf_conv = _conv_setup(tf, N, C, H, W, F, kh, kw, sh, sw, ph, pw)
    x = _nhwc(tf, X, N, C, H, W)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf_conv(x, _kernel(tf, Wm, F, C, kh, kw))
    expected = _rows(tape.gradient(y, x, output_gradients=_nhwc(tf, dout, N, F, Ho, Wo)))
    assert_allclose(dnn.conv2d_backward_data(Wm, dout, **a), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("N, C, H, W, F, k", [
    pytest.param(2, 3, 7, 7, 4, 3, id="b2_c3_7x7_k3"),
    pytest.param(3, 1, 28, 28, 8, 5, id="b3_c1_28x28_k5_lenet"),
])
def test_conv2d_matches_keras_conv2d_same(tf, N, C, H, W, F, k):
    import keras
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, C * H * W))
    Wm = rng.standard_normal((F, C * k * k))
    layer = keras.layers.Conv2D(F, k, padding="same", use_bias=False, dtype="float64")
    x = _nhwc(tf, X, N, C, H, W)
    layer.build(x.shape)
    layer.kernel.assign(_kernel(tf, Wm, F, C, k, k))
    expected = _rows(layer(x))
    p = (k - 1) // 2
    got = dnn.conv2d(X, Wm, **conv_args(N, C, H, W, F, k, k, 1, 1, p, p))
    assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


POOL_CASES = [
    #            N  C  H  W kh kw sh sw
    pytest.param(1, 1, 4, 4, 2, 2, 2, 2, id="b1_c1_4x4_k2_s2"),
    pytest.param(7, 3, 9, 7, 2, 2, 2, 2, id="b7_c3_9x7_k2_s2_odd"),
    pytest.param(7, 3, 9, 8, 3, 3, 2, 2, id="b7_c3_9x8_k3_s2"),
    pytest.param(2, 2, 6, 7, 3, 2, 1, 1, id="b2_c2_6x7_k3x2_s1"),
    pytest.param(3, 4, 10, 10, 2, 3, 3, 2, id="b3_c4_10x10_k2x3_s3x2"),
]


def _tf_pool(tf, kind):
    return tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("N, C, H, W, kh, kw, sh, sw", POOL_CASES)
def test_pool_matches_tf(tf, kind, N, C, H, W, kh, kw, sh, sw):
    X = np.random.default_rng(1).standard_normal((N, C * H * W))
    expected = _rows(_tf_pool(tf, kind)(_nhwc(tf, X, N, C, H, W), [kh, kw], [sh, sw], "VALID"))
    got = getattr(dnn, f"{kind}_pool")(X, **pool_args(N, C, H, W, kh, kw, sh, sw, 0, 0))
    assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("N, C, H, W, kh, kw, sh, sw", POOL_CASES)
def test_pool_backward_matches_tf(tf, kind, N, C, H, W, kh, kw, sh, sw):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((N, C * H * W))
    Ho, Wo = out_size(H, kh, sh, 0), out_size(W, kw, sw, 0)
    dout = rng.standard_normal((N, C * Ho * Wo))
    x = _nhwc(tf, X, N, C, H, W)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = _tf_pool(tf, kind)(x, [kh, kw], [sh, sw], "VALID")
    expected = _rows(tape.gradient(y, x, output_gradients=_nhwc(tf, dout, N, C, Ho, Wo)))
    got = getattr(dnn, f"{kind}_pool_backward")(X, dout, **pool_args(N, C, H, W, kh, kw, sh, sw, 0, 0))
    assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# 2b. the kernels' alternative paths agree: chunking and both data gradients
# --------------------------------------------------------------------------

from kerasdml.runtime.local import conv as conv_module  # noqa: E402
from kerasdml.runtime.local import pointwise  # noqa: E402
from kerasdml.runtime.local.geometry import conv_geom  # noqa: E402

PATH_CASES = [
    #            N  C  H  W  F kh kw sh sw ph pw
    pytest.param((5, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1), id="b5_c3_7x6_k3_s1_p1"),
    pytest.param((5, 2, 8, 8, 9, 5, 5, 1, 1, 2, 2), id="b5_c2_8x8_k5_s1_p2_f9"),
    pytest.param((4, 3, 9, 7, 2, 2, 3, 2, 1, 0, 1), id="b4_c3_9x7_k2x3_s2x1"),
]
CONV_KERNELS = ["conv2d", "conv2d_backward_filter", "conv2d_backward_data"]


def _conv_call(name, params):
    N, C, H, W, F, kh, kw, sh, sw, ph, pw = params
    rng = np.random.default_rng(7)
    X = rng.standard_normal((N, C * H * W))
    Wm = rng.standard_normal((F, C * kh * kw))
    dout = rng.standard_normal((N, F * out_size(H, kh, sh, ph) * out_size(W, kw, sw, pw)))
    first, second = {"conv2d": (X, Wm), "conv2d_backward_filter": (X, dout),
                     "conv2d_backward_data": (Wm, dout)}[name]
    return lambda: getattr(dnn, name)(first, second, **conv_args(*params))


@pytest.mark.parametrize("name", CONV_KERNELS)
@pytest.mark.parametrize("params", PATH_CASES)
def test_one_image_chunks_match_one_chunk(monkeypatch, name, params):
    call = _conv_call(name, params)
    whole = call()                                   # the default: all images in one chunk
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 1)
    assert_allclose(call(), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CONV_KERNELS + ["max_pool", "max_pool_backward"])
def test_worker_threads_give_the_same_bits_as_one_thread(monkeypatch, name):
    if name.startswith("max_pool"):
        rng = np.random.default_rng(8)
        X, dout = np.maximum(rng.standard_normal((9, 2 * 36)), 0), rng.standard_normal((9, 2 * 9))
        a = pool_args(9, 2, 6, 6, 2, 2, 2, 2, 0, 0)
        call = (lambda: dnn.max_pool(X, **a)) if name == "max_pool" else (
            lambda: dnn.max_pool_backward(X, dout, **a))
    else:
        call = _conv_call(name, (9, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1))
    monkeypatch.setenv("KERASDML_KERNEL_THREADS", "1")
    alone = call()
    monkeypatch.setenv("KERASDML_KERNEL_THREADS", "2")
    assert_allclose(call(), alone, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_pointwise_product_cut_by_filters_gives_the_same_bits_on_any_threads(monkeypatch, dtype):
    # 1x1 over 3x3 maps: one chunk of images, cut into blocks of filters (pointwise.py)
    rng = np.random.default_rng(9)
    X, Wm = rng.standard_normal((16, 40 * 9)).astype(dtype), rng.standard_normal((130, 40)).astype(dtype)
    bias = rng.standard_normal((130, 1)).astype(dtype)
    args = conv_args(16, 40, 3, 3, 130, 1, 1, 1, 1, 0, 0)
    g = conv_geom("conv2d", [16, 40, 3, 3], [130, 40, 1, 1], [1, 1], [0, 0])
    assert len(pointwise._filter_blocks(g, pointwise._image_chunks(g))) == 4
    monkeypatch.setenv("KERASDML_KERNEL_THREADS", "1")
    alone = dnn.conv2d(X, Wm, bias=bias, **args)
    monkeypatch.setenv("KERASDML_KERNEL_THREADS", "2")
    assert_allclose(dnn.conv2d(X, Wm, bias=bias, **args), alone, rtol=0, atol=0)
    expected = np.einsum("fc,ncp->nfp", Wm.astype(np.float64), X.reshape(16, 40, 9).astype(np.float64))
    expected += bias.astype(np.float64).reshape(1, 130, 1)
    assert_allclose(alone.reshape(16, 130, 9), expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                    atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("params", PATH_CASES[:2])
def test_data_gradient_col2im_matches_flipped_convolution(monkeypatch, params):
    call = _conv_call("conv2d_backward_data", params)
    monkeypatch.setattr(conv_module, "_ADD_PER_COPY", 1000)      # always the convolution
    flipped = call()
    monkeypatch.setattr(conv_module, "_ADD_PER_COPY", 0)         # never: col2im
    assert_allclose(call(), flipped, rtol=1e-12, atol=1e-12)


def test_chunks_reuse_scratch_buffers_safely():
    # two calls in a row with the same shapes share the scratch buffers: the first result
    # must not change when the second call overwrites them
    call = _conv_call("conv2d", PATH_CASES[0].values[0])
    first = call()
    kept = first.copy()
    call()
    assert_allclose(first, kept, rtol=0, atol=0)


@pytest.mark.parametrize("stride, padding", [((2, 2), (0, 0)), ((1, 1), (0, 0)), ((2, 2), (1, 1))],
                         ids=["tiled", "overlapping", "padded"])
def test_max_pool_backward_keeps_infinite_gradients_in_place(stride, padding):
    # an infinite dout goes to its window's maximum only; no NaN elsewhere
    X = np.arange(16.0).reshape(1, 16)
    a = pool_args(1, 1, 4, 4, 2, 2, *stride, *padding)
    Ho = out_size(4, 2, stride[0], padding[0])
    finite = np.ones((1, Ho * Ho))
    dout = finite.copy()
    dout[0, 0] = np.inf
    got = dnn.max_pool_backward(X, dout, **a)
    expected = dnn.max_pool_backward(X, finite, **a)
    where = expected.reshape(-1) != 0
    first = np.flatnonzero(dnn.max_pool_backward(X, np.eye(1, Ho * Ho), **a))
    assert not np.isnan(got).any()
    assert np.isinf(got.reshape(-1)[first]).all()
    untouched = np.setdiff1d(np.flatnonzero(where), first)
    assert_allclose(got.reshape(-1)[untouched], expected.reshape(-1)[untouched])


# --------------------------------------------------------------------------
# 3. float32 in -> float32 out
# --------------------------------------------------------------------------

@pytest.mark.parametrize("case, builtin", [
    p for p in fixture_params() if "_b7_" in p.values[0].name or "bias" in p.values[0].name])
def test_float32_in_float32_out(case, builtin):
    got, expected = run_fixture(case, builtin, dtype=np.float32)
    assert got.dtype == np.float32
    if builtin.startswith("max_pool") and not builtin.endswith("backward"):
        # the float32 pad value is -finfo(float32).max, not -Double.MAX_VALUE
        expected = np.maximum(expected, -np.finfo(np.float32).max)
    assert_allclose(got, expected, rtol=2e-5, atol=2e-5)


# --------------------------------------------------------------------------
# gradient checks (central differences, float64)
# --------------------------------------------------------------------------

def _numeric_grad(f, A, eps=1e-6):
    g = np.zeros_like(A)
    for idx in np.ndindex(*A.shape):
        old = A[idx]
        A[idx] = old + eps
        up = f()
        A[idx] = old - eps
        down = f()
        A[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def _rel_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300)


GRAD_CONV = [
    pytest.param((2, 2, 5, 4, 3, 3, 3, 1, 1, 1, 1), id="b2_c2_5x4_k3_s1_p1"),
    pytest.param((2, 2, 6, 5, 2, 2, 3, 2, 2, 1, 0), id="b2_c2_6x5_k2x3_s2_p1x0"),
]


@pytest.mark.parametrize("params", GRAD_CONV)
@pytest.mark.parametrize("wrt", ["filter", "data"])
def test_conv2d_backward_numeric_gradient(params, wrt):
    N, C, H, W, F, kh, kw, sh, sw, ph, pw = params
    a = conv_args(*params)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((N, C * H * W))
    Wm = rng.standard_normal((F, C * kh * kw))
    R = rng.standard_normal((N, F * out_size(H, kh, sh, ph) * out_size(W, kw, sw, pw)))
    loss = lambda: float(np.sum(dnn.conv2d(X, Wm, **a) * R))  # noqa: E731
    if wrt == "filter":
        analytic, numeric = dnn.conv2d_backward_filter(X, R, **a), _numeric_grad(loss, Wm)
    else:
        analytic, numeric = dnn.conv2d_backward_data(Wm, R, **a), _numeric_grad(loss, X)
    assert _rel_error(analytic, numeric) < 1e-6


GRAD_POOL = [
    pytest.param((2, 2, 4, 6, 2, 2, 2, 2, 0, 0), id="b2_c2_4x6_k2_s2_p0"),
    pytest.param((2, 2, 5, 5, 3, 3, 1, 1, 1, 1), id="b2_c2_5x5_k3_s1_p1"),
    pytest.param((1, 3, 7, 6, 3, 2, 2, 2, 1, 0), id="b1_c3_7x6_k3x2_s2_p1x0"),
]


@pytest.mark.parametrize("params", GRAD_POOL)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_backward_numeric_gradient(params, kind):
    N, C, H, W, kh, kw, sh, sw, ph, pw = params
    a = pool_args(*params)
    rng = np.random.default_rng(5)
    X = rng.permutation(N * C * H * W).reshape(N, C * H * W) * 0.01 + 0.5   # distinct, > 0
    R = rng.standard_normal((N, C * out_size(H, kh, sh, ph) * out_size(W, kw, sw, pw)))
    fwd, bwd = getattr(dnn, f"{kind}_pool"), getattr(dnn, f"{kind}_pool_backward")
    loss = lambda: float(np.sum(fwd(X, **a) * R))  # noqa: E731
    assert _rel_error(bwd(X, R, **a), _numeric_grad(loss, X)) < 1e-6


# --------------------------------------------------------------------------
# bias
# --------------------------------------------------------------------------

@pytest.mark.parametrize("builtin, op", [("bias_add", np.add), ("bias_multiply", np.multiply)])
def test_bias_broadcasts_over_channel_blocks(builtin, op):
    X = np.arange(24.0).reshape(2, 12)
    b = np.array([[10.0], [20.0], [30.0]])
    expected = op(X.reshape(2, 3, 4), b.reshape(1, 3, 1)).reshape(2, 12)
    assert_allclose(getattr(dnn, builtin)(X, b), expected, rtol=0, atol=0)


# --------------------------------------------------------------------------
# 4. errors
# --------------------------------------------------------------------------

X29 = np.ones((2, 9))
W14 = np.ones((1, 4))
CONV_OK = conv_args(2, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0)
POOL_OK = pool_args(2, 1, 3, 3, 2, 2, 1, 1, 0, 0)


def _with(base, **changes):
    return {**base, **changes}


ERROR_CASES = [
    pytest.param(lambda: dnn.conv2d(np.ones((2, 10)), W14, **CONV_OK),
                 r"conv2d: input is 2x10, but input_shape=\[2, 1, 3, 3\] needs 2x9 \(N rows, C\*H\*W columns\)",
                 id="conv2d-x-columns"),
    pytest.param(lambda: dnn.conv2d(np.ones((3, 9)), W14, **CONV_OK),
                 r"conv2d: input is 3x9, but input_shape=\[2, 1, 3, 3\] needs 2x9", id="conv2d-x-rows"),
    pytest.param(lambda: dnn.conv2d(X29, np.ones((1, 5)), **CONV_OK),
                 r"conv2d: filter is 1x5, but filter_shape=\[1, 1, 2, 2\] needs 1x4 \(F rows, C\*Hf\*Wf columns\)",
                 id="conv2d-w-columns"),
    pytest.param(lambda: dnn.conv2d(X29, np.ones((2, 4)), **CONV_OK),
                 r"conv2d: filter is 2x4, but filter_shape=\[1, 1, 2, 2\] needs 1x4", id="conv2d-w-rows"),
    pytest.param(lambda: dnn.conv2d(X29, np.ones((1, 16)), **_with(CONV_OK, filter_shape=[1, 1, 4, 4])),
                 r"conv2d: the padded image height 3 \(H=3, padding 0\) is smaller than the filter height 4",
                 id="conv2d-filter-too-big"),
    pytest.param(lambda: dnn.conv2d(X29, np.ones((1, 8)), **_with(CONV_OK, filter_shape=[1, 2, 2, 2])),
                 r"conv2d: filter_shape=\[1, 2, 2, 2\] has C=2 channels, but input_shape=\[2, 1, 3, 3\] has C=1",
                 id="conv2d-channels"),
    pytest.param(lambda: dnn.conv2d(X29, W14, **_with(CONV_OK, stride=[0, 1])),
                 r"conv2d: stride values must be positive, got \[0, 1\]", id="conv2d-stride-zero"),
    pytest.param(lambda: dnn.conv2d(X29, W14, **_with(CONV_OK, padding=[-1, 0])),
                 r"conv2d: padding values must not be negative, got \[-1, 0\]", id="conv2d-negative-padding"),
    pytest.param(lambda: dnn.conv2d(X29, W14, **_with(CONV_OK, input_shape=[2, 1, 9])),
                 r"conv2d: input_shape must have 4 values \[N, C, H, W\], got 3: \[2, 1, 9\]",
                 id="conv2d-input-shape-length"),
    pytest.param(lambda: dnn.conv2d(X29, W14, **_with(CONV_OK, stride=[1.5, 1])),
                 r"conv2d: stride must hold integers", id="conv2d-stride-fraction"),
    pytest.param(lambda: dnn.conv2d_backward_filter(X29, np.ones((2, 5)), **CONV_OK),
                 r"conv2d_backward_filter: dout is 2x5, but the output of conv2d for these shapes needs 2x4",
                 id="backward-filter-dout"),
    pytest.param(lambda: dnn.conv2d_backward_data(W14, np.ones((3, 4)), **CONV_OK),
                 r"conv2d_backward_data: dout is 3x4, but the output of conv2d for these shapes needs 2x4",
                 id="backward-data-dout"),
    pytest.param(lambda: dnn.max_pool(X29, **_with(POOL_OK, pool_size=[4, 4])),
                 r"max_pool: the padded image height 3 \(H=3, padding 0\) is smaller than the pool height 4",
                 id="max-pool-too-big"),
    pytest.param(lambda: dnn.max_pool(np.ones((2, 8)), **POOL_OK),
                 r"max_pool: input is 2x8, but input_shape=\[2, 1, 3, 3\] needs 2x9", id="max-pool-x-columns"),
    pytest.param(lambda: dnn.max_pool_backward(X29, np.ones((2, 5)), **POOL_OK),
                 r"max_pool_backward: dout is 2x5, but the output of max_pool for these shapes needs 2x4 "
                 r"\(N rows, C\*Hout\*Wout columns; Hout=2, Wout=2\)",
                 id="max-pool-backward-dout"),
    pytest.param(lambda: dnn.avg_pool(X29, **_with(POOL_OK, pool_size=[0, 2])),
                 r"avg_pool: pool_size values must be positive, got \[0, 2\]", id="avg-pool-zero-size"),
    pytest.param(lambda: dnn.avg_pool_backward(X29, np.ones((2, 3)), **POOL_OK),
                 r"avg_pool_backward: dout is 2x3, but the output of avg_pool for these shapes needs 2x4",
                 id="avg-pool-backward-dout"),
    pytest.param(lambda: dnn.bias_add(X29, np.ones((2, 1))),
                 r"bias_add: input X has 9 columns, not a multiple of the bias's 2 rows", id="bias-add-blocks"),
    pytest.param(lambda: dnn.bias_multiply(np.ones((2, 8)), np.ones((1, 2))),
                 r"bias_multiply: bias must be a column vector \(F x 1\), got 1 x 2", id="bias-multiply-row"),
    pytest.param(lambda: dnn.conv2d(np.ones(9), W14, **CONV_OK),
                 r"conv2d: input must be a matrix, got an array with 1 dimensions", id="conv2d-vector"),
]


@pytest.mark.parametrize("call, message", ERROR_CASES)
def test_error_messages(call, message):
    with pytest.raises(DMLRuntimeError, match=message):
        call()
