"""The Keras -> DML parameter conversions, checked numerically against Keras.

The references below compute in DML's layout: a batch is an N x (C*H*W) matrix of channels-first
rows; kernels are the converted 2-D matrices. Each compares with Keras' own output.
"""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import compile_graph, keras, predict, randomize, save, sequential
from kerasdml.compiler.passes import layout

L = keras.layers


def to_rows(x_nhwc):
    """Keras NHWC batch -> DML rows (N, C*H*W)."""
    return np.transpose(x_nhwc, (0, 3, 1, 2)).reshape(len(x_nhwc), -1).astype(np.float64)


def _patches(rows, c, h, w, kh, kw, strides, pad):
    """im2col on channels-first rows: (N, Hout*Wout, C*kh*kw), columns in (c, i, j) order."""
    x = rows.reshape(-1, c, h, w)
    x = np.pad(x, ((0, 0), (0, 0), (pad.top, pad.bottom), (pad.left, pad.right)))
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    view = view[:, :, ::strides[0], ::strides[1]]  # (N, C, Hout, Wout, kh, kw)
    n, _, hout, wout = view.shape[:4]
    return np.transpose(view, (0, 2, 3, 1, 4, 5)).reshape(n, hout * wout, -1), hout, wout


def conv2d_rows(rows, w2d, b, c, h, w, kh, kw, strides, pad):
    """DML's conv2d: W (F, C*kh*kw), b (F, 1) -> (N, F*Hout*Wout)."""
    cols, hout, wout = _patches(rows, c, h, w, kh, kw, strides, pad)
    out = np.einsum("npk,fk->nfp", cols, w2d) + b.reshape(1, -1, 1)
    return out.reshape(len(rows), -1)


def depthwise_rows(rows, w2d, b, c, h, w, kh, kw, strides, pad):
    """W (C*M, kh*kw): output channel c*M + m."""
    cols, hout, wout = _patches(rows, c, h, w, kh, kw, strides, pad)
    cols = cols.reshape(len(rows), hout * wout, c, kh * kw)
    kernel = w2d.reshape(c, -1, kh * kw)  # (C, M, kh*kw)
    out = np.einsum("npck,cmk->ncmp", cols, kernel).reshape(len(rows), -1, hout * wout)
    return (out + b.reshape(1, -1, 1)).reshape(len(rows), -1)


def conv2d_transpose_rows(rows, w2d, b, c, h, w, kh, kw, strides, crop):
    """W (C, F*kh*kw): every input pixel spreads a kh x kw patch per output channel."""
    f = w2d.shape[1] // (kh * kw)
    x = rows.reshape(-1, c, h, w)
    kernel = w2d.reshape(c, f, kh, kw)
    full = np.zeros((len(rows), f, (h - 1) * strides[0] + kh, (w - 1) * strides[1] + kw))
    for i in range(kh):
        for j in range(kw):
            full[:, :, i:i + (h - 1) * strides[0] + 1:strides[0],
                 j:j + (w - 1) * strides[1] + 1:strides[1]] += \
                np.einsum("nchw,cf->nfhw", x, kernel[:, :, i, j])
    pads = [(0, 0), (0, 0), (0, max(-crop.bottom, 0)), (0, max(-crop.right, 0))]
    full = np.pad(full, pads)
    out = full[:, :, crop.top:full.shape[2] - max(crop.bottom, 0),
               crop.left:full.shape[3] - max(crop.right, 0)]
    return (out + b.reshape(1, -1, 1, 1)).reshape(len(rows), -1)


def _single_node_model(layer, shape, tmp_path):
    keras.utils.set_random_seed(0)
    model = randomize(sequential(shape, layer, name="one"), seed=4)
    graph = compile_graph(save(model, tmp_path))
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    node = graph.nodes[1]
    params = layout.dml_parameters(graph)
    kernel, bias = params[(node.name, "kernel")], params[(node.name, "bias")]
    return node, kernel, bias, x, predict(model, [x])[0]


CONV_CASES = [(3, 1, "valid"), (3, 2, "same"), (4, 2, "same"), (2, 1, "same"), (5, 3, "valid")]


@pytest.mark.parametrize("k, s, padding", CONV_CASES, ids=lambda v: str(v))
def test_conv2d_kernel_in_channels_first_rows(k, s, padding, tmp_path):
    node, w2d, b, x, expected = _single_node_model(
        L.Conv2D(4, k, strides=s, padding=padding), (7, 8, 3), tmp_path)
    assert w2d.shape == (4, 3 * k * k) and b.shape == (4, 1)
    got = conv2d_rows(to_rows(x), w2d, b, 3, 7, 8, k, k, (s, s), node.attrs.padding)
    np.testing.assert_allclose(got, to_rows(expected), atol=1e-4)


@pytest.mark.parametrize("k, s, padding", CONV_CASES, ids=lambda v: str(v))
def test_depthwise_kernel_in_channels_first_rows(k, s, padding, tmp_path):
    node, w2d, b, x, expected = _single_node_model(
        L.DepthwiseConv2D(k, strides=s, padding=padding, depth_multiplier=2), (7, 8, 3), tmp_path)
    assert w2d.shape == (6, k * k) and b.shape == (6, 1)  # conv2d_depthwise.dml: (C*M, kh*kw)
    got = depthwise_rows(to_rows(x), w2d, b, 3, 7, 8, k, k, (s, s), node.attrs.padding)
    np.testing.assert_allclose(got, to_rows(expected), atol=1e-4)


@pytest.mark.parametrize("k, s, padding", [(3, 2, "same"), (4, 2, "same"), (3, 2, "valid"),
                                           (2, 3, "valid"), (3, 1, "same")], ids=lambda v: str(v))
def test_conv2d_transpose_kernel_in_channels_first_rows(k, s, padding, tmp_path):
    node, w2d, b, x, expected = _single_node_model(
        L.Conv2DTranspose(2, k, strides=s, padding=padding), (4, 5, 3), tmp_path)
    assert w2d.shape == (3, 2 * k * k) and b.shape == (2, 1)
    got = conv2d_transpose_rows(to_rows(x), w2d, b, 3, 4, 5, k, k, (s, s), node.attrs.padding)
    np.testing.assert_allclose(got, to_rows(expected), atol=1e-4)


def test_conv1d_is_a_conv2d_of_height_one(tmp_path):
    node, w2d, b, x, expected = _single_node_model(
        L.Conv1D(4, 3, strides=2, padding="same"), (9, 3), tmp_path)
    assert w2d.shape == (4, 3 * 1 * 3)
    rows = to_rows(x[:, None])  # (T, C) -> channels-first (C, 1, T)
    pad = node.attrs.padding
    from kerasdml.compiler.ir import Pad2D
    got = conv2d_rows(rows, w2d, b, 3, 1, 9, 1, 3, (1, 2), Pad2D(0, 0, pad.left, pad.right))
    np.testing.assert_allclose(got, to_rows(expected[:, None]), atol=1e-4)


def test_dense_after_flatten_reads_channels_first_rows(tmp_path):
    keras.utils.set_random_seed(0)
    model = randomize(sequential((5, 4, 3), L.Conv2D(6, 3, name="conv"), L.Flatten(),
                                 L.Dropout(0.3), L.Activation("relu"), L.Dense(4, name="head"),
                                 name="flat"))
    graph = compile_graph(save(model, tmp_path))
    assert layout.flatten_dense_pairs(graph) == {"head": (3, 2, 6)}
    params = layout.dml_parameters(graph)
    conv_out = keras.Model(model.inputs, model.get_layer("conv").output)
    x = np.random.default_rng(1).normal(size=(3, 5, 4, 3)).astype("float32")
    features = np.maximum(to_rows(predict(conv_out, [x])[0]), 0)  # channels-first, then relu
    got = features @ params[("head", "kernel")] + params[("head", "bias")]
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-4)
    # the unpermuted kernel would be wrong: the permutation is not the identity
    assert not np.allclose(params[("head", "kernel")], graph.node("head").param("kernel").value)


def test_dense_after_flatten_of_vectors_is_not_permuted(tmp_path):
    model = randomize(sequential((4, 3), L.Flatten(), L.Dense(2, name="head"), name="seq"))
    graph = compile_graph(save(model, tmp_path))
    assert layout.flatten_dense_pairs(graph) == {}
    np.testing.assert_array_equal(layout.dml_parameters(graph)[("head", "kernel")],
                                  graph.node("head").param("kernel").value)


def test_channels_first_permutation_matches_numpy_transpose():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    perm = layout.channels_first_permutation((3, 4, 5))
    np.testing.assert_array_equal(x.reshape(2, -1)[:, perm], to_rows(x))


def test_vector_layouts_and_recurrent_gates(tmp_path):
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 2), name="img")
    y = L.BatchNormalization(name="bn2d")(L.Conv2D(3, 3, name="conv")(x))
    y = L.Reshape((16, 3))(y)
    y = L.LSTM(4, return_sequences=True, name="lstm")(y)
    y = L.GRU(2, name="gru")(y)
    y = L.BatchNormalization(name="bn1d")(L.LayerNormalization(name="ln")(y))
    model = randomize(keras.Model(x, L.Dense(3, name="out")(y), name="vectors"))
    params = layout.dml_parameters(compile_graph(save(model, tmp_path)))
    shapes = {key: value.shape for key, value in params.items()}
    assert shapes[("bn2d", "gamma")] == (3, 1) and shapes[("bn1d", "gamma")] == (1, 2)
    assert shapes[("ln", "beta")] == (1, 2) and shapes[("out", "bias")] == (1, 3)
    assert shapes[("lstm", "kernel")] == (3, 16) and shapes[("lstm", "bias")] == (1, 16)
    assert shapes[("gru", "bias")] == (2, 6) and shapes[("gru", "recurrent_kernel")] == (2, 6)
    np.testing.assert_array_equal(params[("lstm", "recurrent_kernel")],
                                  model.get_layer("lstm").get_weights()[1])  # Keras gate order
    assert all(v.dtype == np.float64 and v.ndim == 2 for v in params.values())
