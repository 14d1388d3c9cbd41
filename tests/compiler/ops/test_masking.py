"""Keras masks (Embedding(mask_zero=True), Masking): the compiled model predicts what Keras
predicts on padded batches of mixed lengths (padding at the end, in the middle, and a row of
nothing but padding), trains as model.fit does, and refuses, naming the layer, every use of a
mask that is not built."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize, save
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError, UnsupportedLayerError
from kerasdml.compiler.frontend import read_graph

L = keras.layers
ATOL = 1e-5
STEPS, VOCABULARY = 6, 7
# rows: padding at the end, padding in the middle and at the end, all padding, no padding,
# padding at the start
TOKENS = np.array([[3, 1, 4, 0, 0, 0], [2, 0, 5, 1, 0, 0], [0, 0, 0, 0, 0, 0],
                   [1, 2, 3, 4, 5, 6], [0, 0, 6, 2, 5, 1]], dtype="int32")


def _padded_floats(mask_value=0.0):
    x = np.random.default_rng(4).normal(size=(5, STEPS, 3)).astype("float32")
    keep = (TOKENS != 0)[:, :, None]
    x = np.where(keep, x, np.float32(mask_value))
    x[0, 1, 0] = mask_value   # one feature at the mask value: the step still counts
    return x


def _tokens(*layers, name, steps=STEPS):
    """Embedding(mask_zero=True) on the tokens, then `layers`."""
    x = keras.Input((steps,), dtype="int32")
    y = L.Embedding(VOCABULARY, 3, mask_zero=True)(x)
    for layer in layers:
        y = layer(y)
    return keras.Model(x, y, name=name)


def _floats(*layers, name, mask_value=0.0, steps=STEPS):
    x = keras.Input((steps, 3))
    y = L.Masking(mask_value)(x)
    for layer in layers:
        y = layer(y)
    return keras.Model(x, y, name=name)


def _rnn(cell, **kwargs):
    return getattr(L, cell)(4, **kwargs)


MODELS = {
    **{f"embedding_{cell}": (lambda c=cell: _tokens(_rnn(c), L.Dense(2), name="e")) for cell in
       ("LSTM", "GRU", "SimpleRNN")},
    **{f"embedding_{cell}_sequences": (lambda c=cell: _tokens(_rnn(c, return_sequences=True),
                                                             name="s"))
       for cell in ("LSTM", "GRU", "SimpleRNN")},
    **{f"embedding_{cell}_go_backwards": (lambda c=cell: _tokens(
        _rnn(c, return_sequences=True, go_backwards=True), name="b"))
       for cell in ("LSTM", "GRU", "SimpleRNN")},
    "embedding_SimpleRNN_average": lambda: _tokens(_rnn("SimpleRNN", return_sequences=True),
                                                   L.GlobalAveragePooling1D(), name="avg"),
    "embedding_LSTM_average_keepdims": lambda: _tokens(
        _rnn("LSTM", return_sequences=True), L.GlobalAveragePooling1D(keepdims=True), name="kd"),
    "embedding_average": lambda: _tokens(L.GlobalAveragePooling1D(), name="avg_embedding"),
    **{f"embedding_bidirectional_{cell}_{mode}_{'seq' if seq else 'last'}": (
        lambda c=cell, m=mode, s=seq: _tokens(
            L.Bidirectional(_rnn(c, return_sequences=s), merge_mode=m), name="bi"))
       for cell in ("LSTM", "GRU") for mode in ("concat", "sum") for seq in (False, True)},
    "embedding_bidirectional_LSTM_stacked": lambda: _tokens(
        L.Bidirectional(_rnn("LSTM", return_sequences=True)), L.Bidirectional(_rnn("GRU")),
        L.Dense(2), name="stacked"),
    "embedding_bidirectional_no_merge": lambda: _tokens(
        L.Bidirectional(_rnn("GRU", return_sequences=True), merge_mode=None), name="two"),
    # layers Keras passes the mask through
    "mask_through_dropout_dense": lambda: _tokens(
        L.Dropout(0.3), L.SpatialDropout1D(0.2), L.Dense(5, activation="relu"),
        L.LayerNormalization(), L.Activation("tanh"), _rnn("LSTM"), name="through"),
    "mask_through_time_distributed": lambda: _tokens(
        _rnn("GRU", return_sequences=True), L.TimeDistributed(L.Dense(3)),
        _rnn("SimpleRNN"), name="time_distributed"),
    "mask_through_time_distributed_folded": lambda: _tokens(
        L.TimeDistributed(L.LayerNormalization()), _rnn("LSTM"),
        name="time_distributed_folded"),
    "lstm_return_state": lambda: _state_model(return_sequences=True),
    "embedding_self_attention_block": lambda: _self_attention_block(),
    "concatenated_masks_GRU": lambda: _concatenated_masks(),
    "embedding_RNN_LSTMCell": lambda: _tokens(L.RNN(L.LSTMCell(4), return_sequences=True),
                                              _rnn("GRU"), name="rnn_cell"),
    "embedding_self_attention_LSTM": lambda: _tokens(
        _rnn("GRU", return_sequences=True), _SelfAttention(), _rnn("LSTM"), name="attended"),
    "logical_ops": lambda: _logical_ops(),
    # zero_output_for_mask zeroes a masked last step's output, not the states
    **{f"{cell}_zero_output_last_with_state": (lambda c=cell: _state_model(
        c, zero_output_for_mask=True)) for cell in ("LSTM", "GRU")},
    "lstm_zero_output_for_mask": lambda: _tokens(
        L.LSTM(4, return_sequences=True, zero_output_for_mask=True), name="zero"),
    # layers without supports_masking drop the mask in Keras: later layers see every step
    "mask_dropped_by_conv1d": lambda: _tokens(L.Conv1D(4, 2, padding="same"), _rnn("LSTM"),
                                              name="conv"),
    "mask_dropped_by_global_max": lambda: _tokens(_rnn("GRU", return_sequences=True),
                                                  L.GlobalMaxPooling1D(), name="max"),
    "masking_LSTM": lambda: _floats(_rnn("LSTM"), name="masking"),
    "masking_GRU_sequences": lambda: _floats(_rnn("GRU", return_sequences=True), name="mgru"),
    "masking_bidirectional_SimpleRNN": lambda: _floats(
        L.Bidirectional(_rnn("SimpleRNN", return_sequences=True)), L.GlobalAveragePooling1D(),
        name="mbi"),
    "masking_value_LSTM": lambda: _floats(_rnn("LSTM", return_sequences=True), name="value",
                                          mask_value=-1.0),
    "masking_output": lambda: _floats(name="masked_output"),
    # lengths the model leaves open, read from the batch
    "open_length_embedding_GRU_backwards_average": lambda: _tokens(
        _rnn("GRU", return_sequences=True, go_backwards=True), L.GlobalAveragePooling1D(),
        name="open", steps=None),
    "open_length_embedding_bidirectional_LSTM": lambda: _tokens(
        L.Bidirectional(_rnn("LSTM")), name="open_bi", steps=None),
    "masking_open_length_LSTM": lambda: _floats(_rnn("LSTM"), name="open_masking", steps=None),
}


def _self_attention_block():
    """A transformer encoder block on padded tokens: Keras' attention mask from the tokens'
    mask (a row of nothing but padding attends evenly), the residual Add passing the one mask
    on, and an LSTM reading it after the block."""
    x = keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 4, mask_zero=True)(x)
    attended = L.MultiHeadAttention(2, 3)(y, y)
    y = L.LayerNormalization()(L.Add()([y, attended]))
    y = L.LayerNormalization()(L.Add()([y, L.Dense(4, activation="relu")(y)]))
    return keras.Model(x, [attended, _rnn("LSTM")(y)], name="self_attention")


class _SelfAttention:
    """Attention([x, x]) as one more layer of _tokens' chain."""

    def __call__(self, x):
        return L.Attention()([x, x])


def _concatenated_masks():
    """A masked and an unmasked sequence's features concatenated: Keras records the GRU's mask
    as keras.ops calls (zeros_like, ones_like, logical_or, concatenate, any): every step
    counts."""
    x = keras.Input((STEPS,), dtype="int32")
    masked = L.Embedding(VOCABULARY, 3, mask_zero=True)(x)
    plain = L.Embedding(VOCABULARY, 2)(x)
    return keras.Model(x, _rnn("GRU")(L.Concatenate()([masked, plain])), name="concatenated")


def _logical_ops():
    """keras.ops.logical_and / logical_or of comparisons, cast to floats, as a gate."""
    x = keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 3)(x)
    both = keras.ops.logical_and(keras.ops.greater(y, 0.0), keras.ops.less(y, 0.5))
    either = keras.ops.logical_or(keras.ops.greater(y, 0.4), keras.ops.less(y, -0.4))
    gates = [keras.ops.cast(g, "float32") for g in (both, either)]
    return keras.Model(x, L.Concatenate()([L.Multiply()([y, g]) for g in gates]),
                       name="logical")


def _state_model(cell="LSTM", **kwargs):
    x = keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 3, mask_zero=True)(x)
    outputs = getattr(L, cell)(4, return_state=True, **kwargs)(y)
    return keras.Model(x, outputs, name="state")


def _inputs(model, name):
    if not name.startswith("masking"):
        return TOKENS
    return _padded_floats(-1.0 if name == "masking_value_LSTM" else 0.0)


@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=5, scale=0.7)
    assert_predicts_like_keras(model, [_inputs(model, name)], atol=ATOL)


@pytest.mark.parametrize("name", ["embedding_LSTM", "masking_bidirectional_SimpleRNN",
                                  "lstm_return_state"])
def test_legacy_h5_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=6, scale=0.7)
    assert_predicts_like_keras(model, [_inputs(model, name)], atol=ATOL, fmt="h5")


def test_a_row_of_padding_keeps_the_initial_state_and_the_mask_changes_the_result(tmp_path):
    model = randomize(_tokens(_rnn("LSTM"), name="zeros"), seed=5, scale=0.7)
    unmasked = randomize(keras.Sequential([keras.Input((STEPS,), dtype="int32"),
                                           L.Embedding(VOCABULARY, 3), _rnn("LSTM")],
                                          name="unmasked"), seed=5, scale=0.7)
    got = compile_model(save(model, tmp_path)).predict(TOKENS)
    plain = compile_model(save(unmasked, tmp_path)).predict(TOKENS)
    assert np.all(got[2] == 0.0)          # nothing counted: the zero initial state
    assert np.abs(got - plain).max() > 1e-2
    np.testing.assert_allclose(got[3], plain[3], atol=1e-12)   # a row without padding


def test_without_a_mask_the_scripts_compute_none(tmp_path):
    model = keras.Sequential([keras.Input((STEPS,), dtype="int32"), L.Embedding(VOCABULARY, 3),
                              _rnn("LSTM")], name="plain")
    scripts = compile_model(save(model, tmp_path), loss="mean_squared_error", optimizer="sgd")
    assert "masking::" not in scripts.predict_script + scripts.train_script


@pytest.mark.parametrize("functional", [True, False], ids=["functional", "sequential"])
def test_the_mask_is_computed_once(functional, tmp_path):
    """A functional file records Keras' mask computation (not_equal) and the LSTM's `mask`
    argument: the Embedding's own mask is then left out; a Sequential file records neither."""
    layers = [L.Embedding(VOCABULARY, 3, mask_zero=True), _rnn("LSTM")]
    model = (_tokens(*layers[1:], name="once") if functional else
             keras.Sequential([keras.Input((STEPS,), dtype="int32"), *layers], name="once"))
    script = compile_model(save(model, tmp_path)).predict_script
    assert script.count("!= 0") + script.count("masking::step_mask") == 1


# --- training --------------------------------------------------------------------------------

def _classifier(cell):
    return _tokens(_rnn(cell), L.Dense(3, activation="softmax"), name=f"classifier_{cell}")


TRAINED = {
    "LSTM": lambda: _classifier("LSTM"),
    "GRU": lambda: _classifier("GRU"),
    "SimpleRNN_average": lambda: _tokens(_rnn("SimpleRNN", return_sequences=True),
                                         L.GlobalAveragePooling1D(),
                                         L.Dense(3, activation="softmax"), name="avg"),
    "bidirectional_LSTM": lambda: _tokens(L.Bidirectional(_rnn("LSTM", return_sequences=True)),
                                          L.Bidirectional(_rnn("GRU")),
                                          L.Dense(3, activation="softmax"), name="bi"),
    "masking_LSTM": lambda: _floats(_rnn("LSTM"), L.Dense(3, activation="softmax"),
                                    name="masking"),
    "open_length_GRU": lambda: _tokens(_rnn("GRU"), L.Dense(3, activation="softmax"),
                                       name="open", steps=None),
    "self_attention_LSTM": lambda: _attention_classifier(),
}


def _attention_classifier():
    """Self-attention over padded tokens (the attention mask from the tokens' mask), a residual
    Add, then an LSTM reading the mask."""
    x = keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 4, mask_zero=True)(x)
    y = L.LayerNormalization()(L.Add()([y, L.MultiHeadAttention(2, 3)(y, y)]))
    return keras.Model(x, L.Dense(3, activation="softmax")(_rnn("LSTM")(y)),
                       name="attention_classifier")


def _training_data(name):
    rng = np.random.default_rng(8)
    lengths = rng.integers(0, STEPS + 1, 24)
    tokens = rng.integers(1, VOCABULARY, (24, STEPS))
    tokens[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    tokens[::5, 1] = 0   # padding in the middle
    if not name.startswith("masking"):
        return tokens.astype("int32"), rng.integers(0, 3, 24)
    x = rng.normal(size=(24, STEPS, 3)).astype("float32") * (tokens != 0)[:, :, None]
    return x, rng.integers(0, 3, 24)


@pytest.mark.parametrize("name", list(TRAINED))
def test_two_epochs_give_keras_weights(name, tmp_path):
    """With SGD with momentum where an Embedding trains: Keras' Adam on TensorFlow gets an
    Embedding's gradient as one slice per occurrence of an index and squares the slices before
    summing them, where kerasdml's Adam squares their sum (the gradient model.fit applies)."""
    model = randomize(TRAINED[name](), seed=3, scale=0.5)
    x, y = _training_data(name)
    optimizer = (None if name.startswith("masking") else
                 keras.optimizers.SGD(0.1, momentum=0.9))
    assert_trains_like_keras(model, x, y, tmp_path, optimizer)


def test_training_weights_a_masked_output_by_its_mask(tmp_path):
    """Keras weights the loss of an output that carries a mask by it (a mean over the steps it
    keeps; test_fit_like_keras.py compares the numbers); predicting it is unchanged."""
    model = _tokens(_rnn("GRU", return_sequences=True), L.Dense(2, name="tags"), name="tagger")
    compiled = compile_model(save(model, tmp_path), loss="mean_squared_error", optimizer="sgd")
    assert compiled.predict(TOKENS).shape == (5, STEPS, 2)
    assert 'removeEmpty(target=pred_tags_positions, margin="rows"' in compiled.train_script


# --- refusals --------------------------------------------------------------------------------

REFUSED = {
    "BatchNormalization": (lambda x: L.BatchNormalization(name="refused")(x), "statistics"),
    "Softmax": (lambda x: L.Softmax(name="refused")(x), "negative"),
    "Dot": (lambda x: L.Dot(axes=2, name="refused")([x, x]), "merge"),
    "Concatenate": (lambda x: L.Concatenate(axis=1, name="refused")([x, x]), "steps"),
    "GlobalAveragePooling1D": (lambda x: L.GlobalAveragePooling1D(
        data_format="channels_first", name="refused")(x), "channels_first"),
    "TimeDistributed": (lambda x: L.TimeDistributed(L.Softmax(), name="refused")(x),
                        "one step at a time"),
}


@pytest.mark.parametrize("class_name", list(REFUSED))
def test_a_mask_a_layer_would_use_otherwise_is_refused(class_name, tmp_path):
    build, reason = REFUSED[class_name]
    x = keras.Input((STEPS,), dtype="int32")
    y = build(L.Embedding(VOCABULARY, 3, mask_zero=True)(x))
    with pytest.raises(UnsupportedLayerError) as caught:
        read_graph(save(keras.Model(x, y, name="refusal"), tmp_path))
    layer, = caught.value.layers
    assert (layer.name, layer.class_name) == ("refused", class_name)
    assert "mask" in layer.reason and reason in layer.reason


@pytest.mark.parametrize("class_name", ["Softmax", "BatchNormalization", "Dot"])
def test_the_same_layers_without_a_mask_compile(class_name, tmp_path):
    build, _ = REFUSED[class_name]
    x = keras.Input((STEPS,), dtype="int32")
    y = build(L.Embedding(VOCABULARY, 3)(x))
    read_graph(save(keras.Model(x, y, name="unmasked"), tmp_path))


def test_masking_is_a_mask_and_the_input_with_masked_steps_zeroed(tmp_path):
    model = keras.Sequential([keras.Input((STEPS, 3)), L.Masking(), _rnn("LSTM")], name="seq")
    graph = read_graph(save(model, tmp_path))
    assert [n.op for n in graph.nodes] == ["input", "step_mask", "masking", "lstm"]
    assert graph.nodes[-1].inputs[-1] == graph.nodes[1].output


# --- masks of several inputs -----------------------------------------------------------------

OTHER_TOKENS = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [4, 5, 6, 0], [1, 1, 1, 1], [0, 2, 3, 0]],
                        dtype="int32")


def _two_padded_inputs():
    """Cross-attention between two padded sequences (the query's mask and the value's), and
    a Concatenate of a masked and an unmasked sequence's features feeding an LSTM (Keras
    records the combined mask as keras.ops calls: every step counts)."""
    x, other = keras.Input((STEPS,), dtype="int32"), keras.Input((4,), dtype="int32")
    y = L.Embedding(VOCABULARY, 4, mask_zero=True)(x)
    z = L.Embedding(VOCABULARY, 4, mask_zero=True)(other)
    crossed = L.MultiHeadAttention(2, 3)(z, y)
    joined = L.Concatenate()([y, L.Dense(2)(L.Embedding(VOCABULARY, 4)(x))])
    return keras.Model([x, other], [crossed, _rnn("GRU")(joined)], name="two_padded")


def test_masks_of_two_inputs_predict_like_keras(assert_predicts_like_keras):
    model = randomize(_two_padded_inputs(), seed=5, scale=0.7)
    assert_predicts_like_keras(model, [TOKENS, OTHER_TOKENS], atol=ATOL)


def test_a_merge_of_different_masks_ors_them():
    from kerasdml.compiler.ops.masking import mask_name
    x, other = keras.Input((STEPS,), dtype="int32"), keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 3, mask_zero=True)(x)
    z = L.Embedding(VOCABULARY, 3, mask_zero=True)(other)
    model = keras.Model([x, other], L.GlobalAveragePooling1D()(L.Add(name="both")([y, z])))
    model = randomize(model, seed=5, scale=0.7)
    graph = read_graph(_saved(model))
    ored, = [n for n in graph.nodes if n.name == mask_name("both")]
    assert ored.op == "maximum" and len(ored.inputs) == 2
    shifted = np.roll(TOKENS, 1, axis=1)
    np.testing.assert_allclose(compile_model(_saved(model)).predict([TOKENS, shifted]),
                               model.predict([TOKENS, shifted], verbose=0), atol=ATOL)


def _saved(model):
    import tempfile
    from pathlib import Path
    return save(model, Path(tempfile.mkdtemp(prefix="masks.")))


def _luong_seq2seq():
    """keras.io-style seq2seq with attention on padded tokens: Attention and AdditiveAttention
    over the encoder's steps (the value's mask takes 1e9 from the scores of padding; the
    query's zeroes the outputs of padding steps), their outputs' masks read by an LSTM."""
    source, target = keras.Input((STEPS,), dtype="int32"), keras.Input((4,), dtype="int32")
    encoded = L.LSTM(4, return_sequences=True)(L.Embedding(VOCABULARY, 3, mask_zero=True)(source))
    decoded = L.GRU(4, return_sequences=True)(L.Embedding(VOCABULARY, 3, mask_zero=True)(target))
    context = L.Attention()([decoded, encoded])
    keyed = L.AdditiveAttention()([decoded, encoded, L.Dense(4)(encoded)])
    y = L.Concatenate()([decoded, context, keyed])
    return keras.Model([source, target], [y, L.Dense(3, activation="softmax")(L.LSTM(3)(y))],
                       name="luong")


def test_attention_layers_with_masks_predict_like_keras(assert_predicts_like_keras):
    model = randomize(_luong_seq2seq(), seed=5, scale=0.7)
    assert_predicts_like_keras(model, [TOKENS, OTHER_TOKENS], atol=ATOL)


def test_attention_layers_with_masks_train_like_keras(tmp_path):
    full = _luong_seq2seq()
    model = randomize(keras.Model(full.inputs, full.outputs[1], name="luong_classifier"),
                      seed=3, scale=0.5)
    tokens, labels = _training_data("luong")
    other = np.random.default_rng(9).integers(1, VOCABULARY, (24, 4)).astype("int32")
    other[::3, 2:] = 0
    assert_trains_like_keras(model, [tokens, other], labels, tmp_path,
                             keras.optimizers.SGD(0.1, momentum=0.9))


def test_a_causal_attention_over_a_masked_value_is_refused(tmp_path):
    x = keras.Input((STEPS,), dtype="int32")
    y = L.Embedding(VOCABULARY, 3, mask_zero=True)(x)
    model = keras.Model(x, L.Attention(name="causal")([y, y], use_causal_mask=True))
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(model, tmp_path))
    assert [(p.layer, p.attribute) for p in caught.value.problems] == [("causal",
                                                                         "use_causal_mask")]
