"""Exporting trained DML parameters into a .keras file that real Keras loads."""
import zipfile

import numpy as np
import pytest

from support.keras_models import keras, randomize, save, sequential
from kerasdml.compiler import compile_model
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.training.export import as_keras_file, export_keras

L = keras.layers

MODELS = {
    "cnn_flatten_dense": lambda: sequential(
        (6, 5, 2), L.Conv2D(3, (3, 2), padding="same", activation="relu"),
        L.BatchNormalization(), L.MaxPooling2D(2), L.Flatten(), L.Dense(4), name="cnn"),
    "depthwise_transpose": lambda: sequential(
        (5, 5, 2), L.DepthwiseConv2D(3, depth_multiplier=2), L.Conv2DTranspose(3, 2, strides=2),
        L.GlobalAveragePooling2D(), name="dwt"),
    "lstm_gru": lambda: sequential(
        (4, 3), L.LSTM(5, return_sequences=True), L.GRU(2), L.Dense(1), name="rnn"),
    "conv1d_embedding": lambda: sequential(
        (7,), L.Embedding(11, 4), L.Conv1D(3, 3), L.Flatten(), L.Dense(2), name="text",
        dtype="int32"),
}


def compiled(tmp_path, name):
    model = randomize(MODELS[name]())
    path = save(model, tmp_path)
    return model, path, compile_model(path)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_file_loads_in_keras_with_the_new_weights(tmp_path, name):
    model, path, dml = compiled(tmp_path, name)
    trained = {variable: value * 2.0 + 0.25 for variable, value in dml.weights.items()}
    target = export_keras(path, dml, trained, tmp_path / "out" / "trained.keras")
    loaded = keras.models.load_model(target)
    assert len(loaded.weights) == len(model.weights)
    for original, variable in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(variable.numpy(), original.numpy() * 2.0 + 0.25, rtol=1e-6,
                                   err_msg=variable.path)
    assert [p.name for p in tmp_path.joinpath("out").iterdir()] == ["trained.keras"]


def test_untouched_parameters_keep_their_values(tmp_path):
    model, path, dml = compiled(tmp_path, "cnn_flatten_dense")
    bias = dml.parameters[-1]
    assert (bias.layer, bias.weight) == (model.layers[-1].name, "bias")
    loaded = keras.models.load_model(export_keras(path, dml, {bias.variable: np.zeros((1, 4))},
                                                  tmp_path / "t.keras"))
    for index, (original, variable) in enumerate(zip(model.weights, loaded.weights)):
        expected = np.zeros(4) if index == len(model.weights) - 1 else original.numpy()
        np.testing.assert_array_equal(variable.numpy(), expected, err_msg=variable.path)


@pytest.mark.parametrize("trained,message", [
    ({"nope": np.zeros((1, 1))}, "no such parameter"),
    (None, r"trained value is \(2, 2\)"),
], ids=["unknown", "wrong_shape"])
def test_bad_values_are_refused_and_nothing_is_written(tmp_path, trained, message):
    _, path, dml = compiled(tmp_path, "cnn_flatten_dense")
    trained = trained or {dml.parameters[0].variable: np.zeros((2, 2))}
    with pytest.raises(CompileError, match=message):
        export_keras(path, dml, trained, tmp_path / "t.keras")
    assert not (tmp_path / "t.keras").exists()


def test_a_model_object_and_a_legacy_h5_become_keras_archives(tmp_path):
    model = randomize(MODELS["cnn_flatten_dense"]())
    from_object = as_keras_file(model, tmp_path / "a")
    h5 = save(model, tmp_path, "h5")
    from_h5 = as_keras_file(h5, tmp_path / "b")
    for archive in (from_object, from_h5):
        assert zipfile.is_zipfile(archive)
        loaded = keras.models.load_model(archive)
        for a, b in zip(model.weights, loaded.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    keras_file = save(model, tmp_path)
    assert as_keras_file(keras_file, tmp_path) == type(from_object)(keras_file)
