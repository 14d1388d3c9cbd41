"""Small Keras models written as real .keras files for the spark.ml stages' tests, and the
shared local Spark (tests/conftest.py) with Arrow, which scoring needs."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(spark):
    pytest.importorskip("pyarrow")
    return spark


def _keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="session")
def classifier_file(tmp_path_factory):
    """An MLP over 6 features with a 4-class softmax."""
    keras = _keras()
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")], name="mlp")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    path = tmp_path_factory.mktemp("models") / "mlp.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def two_input_file(tmp_path_factory):
    """Two inputs (3 and 5 features) concatenated into a linear 2-value regression."""
    keras = _keras()
    keras.utils.set_random_seed(8)
    a, b = keras.Input((3,), name="a"), keras.Input((5,), name="b")
    merged = keras.layers.Concatenate()([a, keras.layers.Dense(4, activation="tanh")(b)])
    model = keras.Model([a, b], keras.layers.Dense(2)(merged), name="two_inputs")
    path = tmp_path_factory.mktemp("models") / "two_inputs.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def image_file(tmp_path_factory):
    """A small convolutional classifier of 6x5 RGB images."""
    keras = _keras()
    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((6, 5, 3)),
                              keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")],
                             name="tiny_cnn")
    path = tmp_path_factory.mktemp("models") / "tiny_cnn.keras"
    model.save(path)
    return path



@pytest.fixture(scope="session")
def mobilenet_file(tmp_path_factory):
    """A tiny MobileNet-style classifier of 8x8 RGB images (depthwise and separable
    convolutions, support.zoo_models.mobilenet_style)."""
    _keras()
    from support.keras_models import randomize
    from support.zoo_models import mobilenet_style

    path = tmp_path_factory.mktemp("models") / "mobilenet_style.keras"
    randomize(mobilenet_style(), seed=2, scale=0.5).save(path)
    return path
