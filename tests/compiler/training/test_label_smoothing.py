"""label_smoothing of CategoricalCrossentropy and BinaryCrossentropy: the targets are smoothed
inside the loss as Keras smooths them (towards 1/K, towards 1/2), so training reports Keras' loss
and reaches its weights, while the accuracy is taken against the targets as given."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(31)
X = RNG.normal(size=(32, 6)).astype("float32")
CLASSES = RNG.integers(0, 3, 32)

# name -> (last layer, loss, targets)
CASES = {
    "categorical": (lambda: L.Dense(3, activation="softmax"),
                    keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                    np.eye(3, dtype="float32")[CLASSES]),
    "categorical_logits": (lambda: L.Dense(3),
                           keras.losses.CategoricalCrossentropy(from_logits=True,
                                                                label_smoothing=0.2),
                           np.eye(3, dtype="float32")[CLASSES]),
    "binary": (lambda: L.Dense(2, activation="sigmoid"),
               keras.losses.BinaryCrossentropy(label_smoothing=0.2),
               (RNG.random((32, 2)) > 0.5).astype("float32")),
    "binary_logits": (lambda: L.Dense(2), keras.losses.BinaryCrossentropy(from_logits=True,
                                                                           label_smoothing=0.1),
                      (RNG.random((32, 2)) > 0.5).astype("float32")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_trains_like_keras_loss_and_weights(name, tmp_path):
    last, loss, y = CASES[name]
    model = randomize(keras.Sequential([keras.Input((6,)), L.Dense(5, activation="tanh"),
                                        last()]), seed=6, scale=0.5)
    metric = name.split("_")[0] + "_accuracy"
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=[metric])
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0).fit(X, y)
    history = model.fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(estimator.history_["loss"], history["loss"], rtol=1e-5)
    np.testing.assert_allclose(estimator.history_[metric], history[metric], atol=1e-6)
    exported = keras.models.load_model(estimator.export(tmp_path / "out.keras"))
    for got, expected in zip(exported.weights, model.weights):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5, rtol=1e-5,
                                   err_msg=expected.path)
