"""The generated train.dml against Keras: the same weights, the same batches in the same order,
plain SGD, no dropout: one epoch of the script gives the weights model.fit gives."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize, sample_inputs, sequential
from kerasdml.compiler.compile import compile_model
from kerasdml.runtime.api import run_string
from support.zoo_models import ZOO

L = keras.layers


def small_cnn():
    return sequential((10, 10, 2), L.Conv2D(4, 3, padding="same", activation="relu"),
                      L.MaxPooling2D(2), L.Conv2D(5, 2, strides=2, padding="same",
                                                  activation="tanh"),
                      L.Flatten(), L.Dense(6, activation="relu"),
                      L.Dense(4, activation="softmax"), name="small_cnn")


MODELS = {"mlp": ZOO["mlp"], "small_cnn": small_cnn, **{name: ZOO[name] for name in (
    "batchnorm_mlp", "residual", "inception", "separable", "autoencoder", "pooling",
    "strided_same_convs", "mlp_activations", "merges", "embedding_lstm", "gru", "simple_rnn",
    "conv1d_text")}}
_SOFTMAX = ("mlp", "small_cnn", "inception", "conv1d_text", "mlp_activations")


def _targets(model, batch, rng):
    shape = (batch, *model.outputs[0].shape[1:])
    if model.name in _SOFTMAX:
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], batch)]
    return rng.normal(0, 1, shape).astype("float32")


def train_like_keras(model, batches=2, batch_size=4, learning_rate=0.05):
    """(script's weights, Keras' weights) after one epoch over `batches` batches."""
    loss = "categorical_crossentropy" if model.name in _SOFTMAX else "mean_squared_error"
    model.compile(loss=loss, optimizer=keras.optimizers.SGD(learning_rate))
    rng = np.random.default_rng(2)
    vocabulary = next((layer.input_dim for layer in model.layers
                       if isinstance(layer, L.Embedding)), None)
    x = sample_inputs(model, batch=batches * batch_size, vocabulary=vocabulary)[0]
    y = _targets(model, batches * batch_size, rng)
    compiled = compile_model(model)
    bound = {"X": compiled.inputs[0].rows(x), "y": compiled.target.rows(y), **compiled.weights}
    names = [p.variable for p in compiled.parameters]
    got = run_string(compiled.script("train", bound=True), inputs=bound,
                     args={"epochs": 1, "batch_size": batch_size, "shuffle": False},
                     outputs=names + ["history"])
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return got, compile_model(model).weights, compiled


def moderate(model, seed=5):
    """Random weights, halved: no softmax output saturates below Keras' clipping at 1e-7,
    where Keras' cross-entropy gradient vanishes."""
    return randomize(model, seed, scale=0.5)


@pytest.mark.parametrize("name", list(MODELS))
def test_one_epoch_of_sgd_gives_keras_weights(name):
    model = moderate(MODELS[name]())
    got, expected, compiled = train_like_keras(model)
    for param in compiled.parameters:
        np.testing.assert_allclose(got[param.variable], expected[param.variable], atol=1e-4,
                                   rtol=1e-4, err_msg=f"{param.layer}/{param.weight}")
    assert np.isfinite(got["history"]).all()


def test_batch_norm_moving_statistics_are_updated():
    model = moderate(ZOO["batchnorm_mlp"]())
    got, expected, compiled = train_like_keras(model)
    stats = [p for p in compiled.parameters if not p.trainable]
    assert {p.role for p in stats} == {"moving_mean", "moving_variance"}
    for param in stats:
        assert not np.allclose(got[param.variable], compiled.weights[param.variable])
        np.testing.assert_allclose(got[param.variable], expected[param.variable], atol=1e-4)


def test_loss_per_epoch_is_the_keras_loss():
    model = randomize(ZOO["mlp"](), seed=1)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.0))
    x = sample_inputs(model, batch=8)[0]
    y = _targets(model, 8, np.random.default_rng(0))
    compiled = compile_model(model)
    got = run_string(compiled.script("train", bound=True),
                     inputs={"X": x, "y": y, **compiled.weights},
                     args={"epochs": 2, "batch_size": 8}, outputs=["history"])["history"][:, 0]
    expected = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(got, [expected, expected], rtol=1e-5)


def frozen_parts():
    """A frozen Dense, a frozen BatchNormalization (inference mode in training, as in Keras)
    and a frozen nested model between trainable layers."""
    base = sequential((6,), L.Dense(5, activation="tanh", name="inner"), name="base")
    base.trainable = False
    inputs = keras.Input((6,))
    x = L.Dense(6, name="first")(inputs)
    x = base(x)
    frozen_norm = L.BatchNormalization(name="frozen_norm")
    frozen_norm.trainable = False
    x = frozen_norm(x)
    frozen_dense = L.Dense(4, name="frozen_dense")
    frozen_dense.trainable = False
    x = frozen_dense(L.BatchNormalization(name="norm")(x))
    return keras.Model(inputs, L.Dense(2, name="last")(x), name="frozen_parts")


def test_frozen_layers_stay_as_keras_leaves_them():
    model = moderate(frozen_parts())
    got, expected, compiled = train_like_keras(model)
    frozen = {p.layer for p in compiled.parameters if not p.trainable and p.role in
              ("kernel", "bias", "gamma", "beta")}
    assert frozen == {"base/inner", "frozen_norm", "frozen_dense"}
    for param in compiled.parameters:
        np.testing.assert_allclose(got[param.variable], expected[param.variable], atol=1e-4,
                                   rtol=1e-4, err_msg=f"{param.layer}/{param.weight}")
        if param.layer in frozen:
            np.testing.assert_array_equal(got[param.variable], compiled.weights[param.variable])
