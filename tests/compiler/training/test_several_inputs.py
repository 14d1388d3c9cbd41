"""Keras2DML trains models with several inputs, given as Keras' fit takes them (a list in the
model's input order, or a dict by input name), to model.fit's weights."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler import Keras2DML
from kerasdml.compiler.training.data import DataError

L = keras.layers


def two_input_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(6, 6, 1), name="image")
    numbers = keras.Input(shape=(4,), name="numbers")
    a = L.Flatten()(L.Conv2D(2, 3, activation="relu")(image))
    b = L.Dense(5, activation="tanh")(numbers)
    out = L.Dense(3, activation="softmax")(L.Concatenate()([a, b]))
    model = keras.Model([image, numbers], out)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    return model


def data(count: int = 24):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (count, 6, 6, 1)).astype("float32")
    numbers = rng.normal(size=(count, 4)).astype("float32")
    return images, numbers, np.eye(3)[rng.integers(0, 3, count)]


@pytest.mark.parametrize("form", ["list", "dict"])
def test_two_inputs_train_like_keras_fit(form, tmp_path):
    model = two_input_model()
    images, numbers, y = data()
    X = [images, numbers] if form == "list" else {"numbers": numbers, "image": images}
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0).fit(X, y)
    model.fit([images, numbers], y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    trained = keras.models.load_model(estimator.export(tmp_path / "trained.keras"))
    for ours, theirs in zip(trained.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(estimator.predict(X), model.predict([images, numbers], verbose=0),
                               atol=1e-5)


def test_validation_split_cuts_every_input():
    images, numbers, y = data()
    estimator = Keras2DML(two_input_model(), epochs=1, batch_size=8, verbose=0,
                          validation_split=0.25).fit([images, numbers], y)
    assert len(estimator.history_["val_loss"]) == 1


@pytest.mark.parametrize("X, message", [
    (lambda i, n: i, "the model has 2 inputs"),
    (lambda i, n: {"image": i}, "dict with keys \\['image'\\]"),
    (lambda i, n: [i, n[:5]], "different numbers of examples"),
], ids=["one array", "missing key", "counts differ"])
def test_inputs_that_do_not_fit_the_model_are_refused(X, message):
    images, numbers, y = data()
    with pytest.raises(DataError, match=message):
        Keras2DML(two_input_model(), verbose=0).fit(X(images, numbers), y)


def test_a_compiled_model_predicts_from_a_dict_by_input_name(tmp_path):
    """compile_model(...).predict takes the inputs as Keras' model.predict does, a dict by
    input name among them (a model built on keras.Model({"image": ..., "numbers": ...}))."""
    from kerasdml.compiler import compile_model
    from support.keras_models import save

    model = two_input_model()
    images, numbers, _ = data(5)
    compiled = compile_model(save(model, tmp_path))
    expected = model.predict([images, numbers], verbose=0)
    got = compiled.predict({"numbers": numbers, "image": images})
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with pytest.raises(DataError, match="dict with keys \\['image'\\]"):
        compiled.predict({"image": images})


def test_a_model_built_on_a_dict_of_inputs_takes_them_by_its_keys(tmp_path):
    """keras.Model({"pixels": image, ...}) takes its data by the dict's keys, not by the Input
    layers' names (Keras' predict and fit refuse the names): so do predict and fit here."""
    from kerasdml.compiler import compile_model
    from support.keras_models import save

    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(6, 6, 1), name="image")
    numbers = keras.Input(shape=(4,), name="numbers")
    a = L.Flatten()(L.Conv2D(2, 3, activation="relu")(image))
    out = L.Dense(3, activation="softmax")(L.Concatenate()([a, L.Dense(5)(numbers)]))
    model = keras.Model({"pixels": image, "extra": numbers}, out)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    images, values, y = data()
    X = {"pixels": images, "extra": values}
    np.testing.assert_allclose(compile_model(save(model, tmp_path)).predict(X),
                               model.predict(X, verbose=0), atol=1e-5)
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0).fit(X, y)
    model.fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    trained = keras.models.load_model(estimator.export(tmp_path / "trained.keras"))
    for ours, theirs in zip(trained.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(estimator.predict(X), model.predict(X, verbose=0), atol=1e-5)
    with pytest.raises(DataError, match="the model's inputs are \\['extra', 'pixels'\\]"):
        estimator.predict({"pixels": images})
