"""GroupQueryAttention: key/value heads shared by groups of query heads, compiled onto the
attention op of MultiHeadAttention. Real Keras models (self- and cross-attention, one
key/value head, as many as query heads, proper groups, causal, attention_mask, Keras masks,
transformer encoder blocks) saved as .keras and legacy .h5 files predict what Keras predicts on
the same weights; what is not built is refused by name."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from support.keras_models import keras, randomize, sample_inputs, save
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError
from kerasdml.compiler.frontend import read_graph

L = keras.layers
ATOL = 1e-5
STEPS, VOCABULARY = 6, 7
# rows: padding at the end, in the middle and at the end, all padding, none, at the start
TOKENS = np.array([[3, 1, 4, 0, 0, 0], [2, 0, 5, 1, 0, 0], [0, 0, 0, 0, 0, 0],
                   [1, 2, 3, 4, 5, 6], [0, 0, 6, 2, 5, 1]], dtype="int32")


def _self_attention(query_heads, shared_heads, causal=False, use_bias=True, dropout=0.0):
    x = keras.Input((5, 6))
    y = L.GroupQueryAttention(3, query_heads, shared_heads, use_bias=use_bias,
                              dropout=dropout, name="gqa")(x, x, use_causal_mask=causal)
    return keras.Model(x, y, name="self_gqa")


def _cross_attention(causal=False):
    """Keys of their own width; more key steps than query steps."""
    q, v, k = keras.Input((4, 6)), keras.Input((7, 6)), keras.Input((7, 3))
    y = L.GroupQueryAttention(2, 4, 2)(q, v, key=k, use_causal_mask=causal)
    return keras.Model([q, v, k], y, name="cross_gqa")


def _cross_attention_on_values():
    q, v = keras.Input((4, 5)), keras.Input((6, 5))
    y = L.GroupQueryAttention(4, 6, 3, use_bias=False)(q, v)
    return keras.Model([q, v], y, name="cross_values_gqa")


def _masked_attention():
    x, mask = keras.Input((4, 6)), keras.Input((4, 4))
    y = L.GroupQueryAttention(3, 4, 2)(x, x, attention_mask=mask, use_causal_mask=True)
    return keras.Model([x, mask], y, name="masked_gqa")


def _encoder_block(query_heads=4, shared_heads=2, causal=False):
    """A transformer encoder block with GroupQueryAttention in MultiHeadAttention's place."""
    x = keras.Input((6, 8))
    attended = L.GroupQueryAttention(4, query_heads, shared_heads)(x, x, use_causal_mask=causal)
    y = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, attended]))
    hidden = L.Dense(16, activation="gelu")(y)
    y = L.LayerNormalization(epsilon=1e-6)(L.Add()([y, L.Dense(8)(hidden)]))
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="gqa_encoder")


def _padded_block(causal=False):
    """Self-attention on padded tokens: Keras' attention mask from the tokens' mask (a row of
    nothing but padding attends evenly), the query's mask passed on to the pooling."""
    x = keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 8, mask_zero=True)(x)
    attended = L.GroupQueryAttention(2, 4, 2)(y, y, use_causal_mask=causal)
    y = L.LayerNormalization()(L.Add()([y, attended]))
    return keras.Model(x, [attended, L.GlobalAveragePooling1D()(y)], name="padded_gqa")


def _padded_cross():
    """Cross-attention between two padded sequences: the query's and the value's masks."""
    x, other = keras.Input((STEPS,), dtype="int32"), keras.Input((4,), dtype="int32")
    values = L.Embedding(VOCABULARY, 4, mask_zero=True)(x)
    queries = L.Embedding(VOCABULARY, 4, mask_zero=True)(other)
    return keras.Model([x, other], L.GroupQueryAttention(3, 2, 1)(queries, values),
                       name="padded_cross_gqa")


MODELS = {
    "grouped": lambda: _self_attention(4, 2),
    "one_shared_head": lambda: _self_attention(4, 1),
    "a_head_each": lambda: _self_attention(3, 3),
    "grouped_causal": lambda: _self_attention(6, 2, causal=True),
    "grouped_without_bias": lambda: _self_attention(4, 2, use_bias=False),
    # Keras computes the probabilities explicitly when there is dropout; prediction ignores it
    "grouped_dropout": lambda: _self_attention(4, 2, dropout=0.3),
    "cross": _cross_attention,
    "cross_causal": lambda: _cross_attention(causal=True),
    "cross_on_values": _cross_attention_on_values,
    "masked": _masked_attention,
    "encoder_block": _encoder_block,
    "encoder_block_one_shared_head_causal": lambda: _encoder_block(4, 1, causal=True),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=5, scale=0.7)
    inputs = sample_inputs(model, batch=4)
    if name == "masked":
        inputs[1] = (np.random.default_rng(2).uniform(size=inputs[1].shape) > 0.3).astype(
            "float32")
        inputs[1][:, :, 0] = 1.0  # every query step sees at least one key step
        inputs[1][0] = 0.0        # but the first sample's steps see none: even attention
    assert_predicts_like_keras(model, inputs, atol=ATOL)


@pytest.mark.parametrize("name", ["grouped", "cross", "encoder_block"])
def test_legacy_h5_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=6, scale=0.7)
    assert_predicts_like_keras(model, sample_inputs(model, batch=4), atol=ATOL, fmt="h5")


def test_a_model_in_memory_predicts_like_keras():
    model = randomize(_cross_attention(), seed=7, scale=0.7)
    inputs = sample_inputs(model, batch=3)
    got = compile_model(model).predict_arrays(inputs)
    np.testing.assert_allclose(got[0], model.predict(inputs, verbose=0), atol=ATOL)


@pytest.mark.parametrize("causal", [False, True])
def test_keras_masks_predict_like_keras(causal, assert_predicts_like_keras):
    model = randomize(_padded_block(causal), seed=5, scale=0.7)
    assert_predicts_like_keras(model, [TOKENS], atol=ATOL)


def test_masks_of_query_and_value_predict_like_keras(assert_predicts_like_keras):
    model = randomize(_padded_cross(), seed=5, scale=0.7)
    other = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [4, 5, 6, 1], [0, 0, 0, 0], [2, 2, 2, 0]],
                     dtype="int32")
    assert_predicts_like_keras(model, [TOKENS, other], atol=ATOL)


def test_the_key_value_heads_are_shared_not_repeated_as_weights(tmp_path):
    """The key and value parameters keep Keras' (D, G, d) shapes: G = 2 heads for 4 query
    heads."""
    graph = read_graph(save(randomize(_self_attention(4, 2), seed=5), tmp_path))
    node, = [n for n in graph.nodes if n.op == "attention"]
    shapes = {p.name: p.value.shape for p in node.params}
    assert node.attrs.heads == 4 and node.attrs.kv_heads == 2
    assert shapes["key_kernel"] == shapes["value_kernel"] == (6, 2, 3)
    assert shapes["key_bias"] == shapes["value_bias"] == (2, 3)
    assert shapes["query_kernel"] == (6, 4, 3) and shapes["output_kernel"] == (4, 3, 6)


def test_a_keras_file_without_layer_names_finds_the_weights(tmp_path):
    """Files that do not name each layer's weights group key it by Keras' Python class name
    (grouped_query_attention), not the exported name GroupQueryAttention."""
    import zipfile
    model = randomize(_self_attention(4, 2), seed=5)
    path = save(model, tmp_path)
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(contents["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        def drop_names(_, item):
            if isinstance(item, h5py.Group) and "name" in item.attrs:
                del item.attrs["name"]
        h5.visititems(drop_names)
        assert "grouped_query_attention" in h5["layers"]
    contents["model.weights.h5"] = weights.read_bytes()
    unnamed = tmp_path / "unnamed.keras"
    with zipfile.ZipFile(unnamed, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    x = sample_inputs(model, batch=3)[0]
    np.testing.assert_allclose(compile_model(str(unnamed)).predict(x),
                               model.predict(x, verbose=0), atol=ATOL)


def _refused(tmp_path, build) -> tuple:
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(build(), tmp_path))
    problem, = caught.value.problems
    return problem.layer, problem.attribute


def _one_layer(call, **options):
    def build():
        x = keras.Input((5, 6))
        y = call(L.GroupQueryAttention(3, 4, 2, name="refused", **options), x)
        return keras.Model(x, y[0] if isinstance(y, tuple) else y, name="refusal")
    return build


@pytest.mark.parametrize("options,attribute", [
    (dict(use_gate=True), "use_gate"),
    (dict(sliding_window=2), "sliding_window"),
])
def test_options_not_built_are_refused_by_name(options, attribute, tmp_path):
    build = _one_layer(lambda layer, x: layer(x, x), **options)
    assert _refused(tmp_path, build) == ("refused", attribute)


def test_attention_scores_are_refused_by_name(tmp_path):
    build = _one_layer(lambda layer, x: layer(x, x, return_attention_scores=True))
    assert _refused(tmp_path, build) == ("refused", "return_attention_scores")
