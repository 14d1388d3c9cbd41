"""Training parity of the newer layers: two epochs of Keras2DML give the weights model.fit gives
(to 1e-4), for a Transformer encoder block, a BiLSTM classifier and a MobileNetV3-style block
with squeeze-and-excite and hard-swish built from keras.ops."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(11)


def transformer_block():
    x = keras.Input((6, 8))
    attention = L.MultiHeadAttention(2, 4)(x, x)
    y = L.LayerNormalization()(L.Add()([x, attention]))
    hidden = L.Dense(16, activation="gelu")(y)
    y = L.LayerNormalization()(L.Add()([y, L.Dense(8)(hidden)]))
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="transformer")


def bilstm():
    x = keras.Input((5, 4))
    y = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    y = L.Bidirectional(L.GRU(3), merge_mode="ave")(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="bilstm")


def squeeze_excite_block():
    x = keras.Input((6, 6, 3))
    y = L.Conv2D(4, 3, padding="same")(x)
    y = y * keras.ops.relu6(y + 3.0) / 6.0  # hard swish, as MobileNetV3 writes it
    y = L.DepthwiseConv2D(3, padding="same")(y)
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Conv2D(2, 1, activation="relu")(s)
    s = L.Conv2D(4, 1, activation="hard_sigmoid")(s)
    y = L.Multiply()([y, s])
    y = L.Conv2D(3, 1)(y)
    y = L.Add()([x, y])
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="se_block")


CASES = {"transformer_block": (transformer_block, (24, 6, 8)),
         "bilstm": (bilstm, (24, 5, 4)),
         "squeeze_excite_block": (squeeze_excite_block, (16, 6, 6, 3))}


@pytest.mark.parametrize("name", list(CASES))
def test_two_epochs_give_keras_weights(name, tmp_path):
    build, shape = CASES[name]
    model = randomize(build(), seed=3, scale=0.5)
    x = RNG.normal(size=shape).astype("float32")
    y = RNG.integers(0, 3, shape[0])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0).fit(x, y)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    exported = keras.models.load_model(estimator.export(tmp_path / "out.keras"))
    for got, expected in zip(exported.weights, model.weights):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4, rtol=1e-4,
                                   err_msg=expected.path)
