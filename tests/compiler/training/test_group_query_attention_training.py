"""Training parity of GroupQueryAttention: two epochs of Keras2DML give the weights model.fit
gives (to 1e-4) for transformer blocks whose key/value heads are shared by groups of query
heads (self- and cross-attention, causal, padded tokens, the layer's regularizers), and its
attention dropout trains as MultiHeadAttention's does (its masks are drawn by kerasdml, so
only a rate that keeps every probability is compared weight by weight)."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, encoder_block, keras, randomize
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(13)


def grouped_block(shared_heads=2, dropout=0.0, causal=False):
    return encoder_block(lambda x: L.GroupQueryAttention(4, 4, shared_heads, dropout=dropout)(
        x, x, use_causal_mask=causal), "grouped_block")


def grouped_cross_attention():
    """Queries from one sequence, keys and values from another (keys of their own width), one
    key/value head for two query heads, without biases."""
    q, v = keras.Input((4, 5)), keras.Input((6, 5))
    k = L.Dense(3)(v)
    y = L.GroupQueryAttention(3, 2, 1, use_bias=False)(q, v, key=k, use_causal_mask=True)
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model([q, v], L.Dense(3, activation="softmax")(y), name="grouped_cross")


def regularized_grouped_attention():
    """The layer's kernel and bias penalties and bias constraint on every projection."""
    x = keras.Input((5, 4))
    y = L.GroupQueryAttention(3, 4, 2, kernel_regularizer=keras.regularizers.L2(0.05),
                              bias_regularizer=keras.regularizers.L1(0.01),
                              bias_constraint=keras.constraints.NonNeg())(x, x)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="regularized_grouped")


def padded_tokens():
    x = keras.Input((6,), dtype="int32")
    y = L.Embedding(7, 8, mask_zero=True)(x)
    y = L.LayerNormalization()(L.Add()([y, L.GroupQueryAttention(2, 4, 2)(y, y)]))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="padded_grouped")


def _tokens(count):
    tokens = RNG.integers(1, 7, (count, 6)).astype("int32")
    tokens[::3, 4:] = 0      # padding at the end
    tokens[1::5, :] = 0      # rows of nothing but padding
    return tokens


CASES = {"grouped_block": (grouped_block, lambda: RNG.normal(size=(24, 6, 8))),
         "one_shared_head_causal": (lambda: grouped_block(1, causal=True),
                                    lambda: RNG.normal(size=(16, 6, 8))),
         # the dropout path with a mask that keeps all: Keras' and the DML's scale is 1 / (1 - 1e-9)
         "grouped_block_attention_dropout": (lambda: grouped_block(dropout=1e-9),
                                             lambda: RNG.normal(size=(16, 6, 8))),
         "grouped_cross_attention": (grouped_cross_attention,
                                     lambda: [RNG.normal(size=(16, 4, 5)),
                                              RNG.normal(size=(16, 6, 5))]),
         "regularized_grouped_attention": (regularized_grouped_attention,
                                           lambda: RNG.normal(size=(16, 5, 4))),
         "padded_tokens": (padded_tokens, lambda: _tokens(24))}


def _float32(x):
    return [_float32(part) for part in x] if isinstance(x, list) else (
        x if x.dtype.kind == "i" else x.astype("float32"))


@pytest.mark.parametrize("name", list(CASES))
def test_two_epochs_give_keras_weights(name, tmp_path):
    build, data = CASES[name]
    model = randomize(build(), seed=3, scale=0.5)
    x = _float32(data())
    y = RNG.integers(0, 3, (x[0] if isinstance(x, list) else x).shape[0])
    assert_trains_like_keras(model, x, y, tmp_path)


def test_attention_dropout_trains_as_keras_does():
    """Dropout of the attention probabilities in training only: the loss falls about as far as
    Keras' own fit takes it, and the prediction script draws no masks."""
    x = np.random.default_rng(5).normal(size=(32, 6, 8)).astype("float32")
    y = np.argmax(x[:, :, :3].mean(axis=1), axis=1)
    model = randomize(grouped_block(dropout=0.1), seed=3, scale=0.5)
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=8, batch_size=8, shuffle=False, seed=7,
                          verbose=0).fit(x, y)
    losses = estimator.history_["loss"]
    keras.utils.set_random_seed(7)
    keras_losses = model.fit(x, y, epochs=8, batch_size=8, shuffle=False, verbose=0).history
    assert losses[-1] < 0.7 * losses[0], losses
    assert losses[-1] < keras_losses["loss"][-1] + 0.15, (losses, keras_losses)
    assert "dropout::forward" in estimator.get_training_script()
    assert "dropout::" not in estimator.get_prediction_script()
