"""ConvLSTM2D and ConvLSTM1D through the generated predict.dml against Keras on the same weights, in double
precision: keras.io's next-frame video prediction model at a small size and the layer's
variants; what stays refused, refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize, save, sequential
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import (CompileError, UnsupportedAttributeError,
                                      UnsupportedLayerError)

L = keras.layers
RNG = np.random.default_rng(11)
FRAMES = (4, 8, 8, 1)   # T, H, W, C
DOUBLE = "float64"


def next_frame_model(filters=4, activation="relu"):
    """keras.io's "Next-frame video prediction with convolutional LSTMs" at a small size."""
    x = keras.Input(FRAMES, dtype=DOUBLE)
    y = x
    for kernel in ((5, 5), (3, 3)):
        y = L.ConvLSTM2D(filters, kernel, padding="same", return_sequences=True,
                         activation=activation, dtype=DOUBLE)(y)
        y = L.BatchNormalization(dtype=DOUBLE)(y)
    y = L.ConvLSTM2D(filters, (1, 1), padding="same", return_sequences=True,
                     activation=activation, dtype=DOUBLE)(y)
    y = L.Conv3D(1, (3, 3, 3), activation="sigmoid", padding="same", dtype=DOUBLE)(y)
    return keras.Model(x, y, name="next_frame")


def one_layer(batch_size=None, **config):
    config = {"filters": 3, "kernel_size": (3, 3), **config}
    return keras.Sequential([keras.Input((4, 6, 7, 2), batch_size, dtype=DOUBLE),
                             L.ConvLSTM2D(**config, dtype=DOUBLE)], name="conv_lstm")


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_next_frame_model_predicts_like_keras(activation, assert_predicts_like_keras):
    model = randomize(next_frame_model(activation=activation), seed=3, scale=0.5)
    assert_predicts_like_keras(model, [RNG.normal(size=(3, *FRAMES))])


@pytest.mark.parametrize("config", [
    dict(padding="same", return_sequences=True),
    dict(padding="valid", return_sequences=True, activation="relu"),
    dict(padding="valid"),
    dict(padding="same", kernel_size=(2, 3), activation="relu"),
    dict(padding="same", kernel_size=(2, 2), return_sequences=True, go_backwards=True),
    dict(padding="valid", go_backwards=True, use_bias=False, recurrent_activation="tanh"),
    dict(padding="same", activation="linear", recurrent_activation="relu",
         return_sequences=True),
], ids=["same_sequences", "valid_relu_sequences", "valid_last", "same_even_kernel_relu",
        "same_even_kernel_backwards", "valid_backwards_no_bias", "linear_relu_gates"])
def test_variants_predict_like_keras(config, assert_predicts_like_keras):
    model = randomize(one_layer(**config), seed=5, scale=0.5)
    assert_predicts_like_keras(model, [RNG.normal(size=(3, 4, 6, 7, 2))])


def sequence_layer(**config):
    config = {"filters": 3, "kernel_size": 3, **config}
    return keras.Sequential([keras.Input((4, 7, 2), dtype=DOUBLE),
                             L.ConvLSTM1D(**config, dtype=DOUBLE)], name="conv_lstm1d")


@pytest.mark.parametrize("config", [
    dict(padding="same", return_sequences=True),
    dict(padding="valid", activation="relu"),
    dict(padding="same", kernel_size=2, go_backwards=True, return_sequences=True),
    dict(padding="valid", filters=1, go_backwards=True),
], ids=["same_sequences", "valid_relu_last", "same_even_kernel_backwards", "one_filter_last"])
def test_conv_lstm1d_predicts_like_keras(config, assert_predicts_like_keras):
    model = randomize(sequence_layer(**config), seed=5, scale=0.5)
    assert_predicts_like_keras(model, [RNG.normal(size=(3, 4, 7, 2))])


def test_conv_lstm1d_without_a_recorded_input_shape_is_refused(tmp_path):
    model = sequence_layer()
    with pytest.raises(UnsupportedAttributeError, match="input shape.*recorded"):
        compile_model(save(model, tmp_path, "h5"))


def test_dropout_is_ignored_in_prediction(assert_predicts_like_keras):
    model = randomize(one_layer(dropout=0.3, recurrent_dropout=0.2), seed=5, scale=0.5)
    assert_predicts_like_keras(model, [RNG.normal(size=(3, 4, 6, 7, 2))])


@pytest.mark.parametrize("config, attribute", [
    (dict(strides=2), "strides"),
    (dict(dilation_rate=2), "dilation_rate"),
    (dict(stateful=True, batch_size=3), "stateful"),
    (dict(return_state=True), "return_state"),
    (dict(activation="elu"), "activation"),
    (dict(recurrent_activation="hard_sigmoid"), "recurrent_activation"),
], ids=["strides", "dilation", "stateful", "return_state", "elu", "hard_sigmoid"])
def test_refused_by_attribute(config, attribute, tmp_path):
    with pytest.raises(UnsupportedAttributeError, match=attribute):
        compile_model(save(one_layer(**config), tmp_path))


def test_initial_state_is_refused(tmp_path):
    x, h = keras.Input((4, 6, 7, 2)), keras.Input((4, 5, 3))
    y = L.ConvLSTM2D(3, 3, name="r")(x, initial_state=[h, h])
    with pytest.raises(CompileError, match="initial_state"):
        compile_model(save(keras.Model([x, h], y, name="initial_state"), tmp_path))


def test_dropout_is_refused_in_training(tmp_path):
    model = one_layer(recurrent_dropout=0.2)
    model.compile(loss="mse", optimizer="sgd")
    compiled = compile_model(save(model, tmp_path))
    assert "conv_lstm2d::forward" in compiled.predict_script
    with pytest.raises(UnsupportedAttributeError, match="recurrent_dropout.*training"):
        compiled.train_script


def test_conv_lstm_3d_is_refused_by_name(tmp_path):
    model = sequential((3, 4, 4, 4, 1), L.ConvLSTM3D(2, 2))
    with pytest.raises(UnsupportedLayerError, match="ConvLSTM3D"):
        compile_model(save(model, tmp_path))
