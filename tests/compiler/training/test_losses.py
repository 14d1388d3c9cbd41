"""Keras2DML.fit against model.fit for each of Keras' losses beyond the cross-entropies and the
squared, absolute and Huber errors (dml_lib/nn/losses; their values and gradients alone are in
tests/dml_lib/test_parity_losses.py): the history and the weights after two epochs."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from test_fit_like_keras import CLASSES, VALUES, assert_fits_like_keras, mlp

RNG = np.random.default_rng(11)
ONE_HOT = np.eye(3, dtype="float32")[CLASSES]
DISTRIBUTIONS = RNG.dirichlet(np.ones(3), 48).astype("float32")
COUNTS = RNG.poisson(2.0, (48, 3)).astype("float32")
SIGNED = np.where(RNG.random((48, 3)) < 0.5, -1.0, 1.0).astype("float32")
BINARY = (SIGNED > 0).astype("float32")

# loss (a name or an object) -> (output activation, targets)
CASES = {
    "log_cosh": ("linear", VALUES * 3),
    "kl_divergence": ("softmax", DISTRIBUTIONS),
    "kld": ("softmax", ONE_HOT),
    "poisson": ("softplus", COUNTS),
    "hinge": ("tanh", SIGNED),
    "hinge_binary_labels": ("tanh", BINARY),
    "squared_hinge": ("linear", SIGNED),
    "categorical_hinge": ("linear", ONE_HOT),
    "cosine_similarity": ("linear", VALUES),
    "mape": ("linear", VALUES + 4),     # gradients of 100 / |y|: a smaller rate below
    "mean_squared_logarithmic_error": ("relu", np.abs(VALUES)),
}
RATE = {"mape": 0.002}
LOSS_OF = {"hinge_binary_labels": "hinge", "cosine_similarity": keras.losses.CosineSimilarity()}


@pytest.mark.parametrize("case", list(CASES))
def test_a_loss_trains_as_in_keras(case, tmp_path):
    activation, y = CASES[case]
    model = mlp(3, activation, optimizer=keras.optimizers.SGD(RATE.get(case, 0.2)),
                loss=LOSS_OF.get(case, case))
    assert_fits_like_keras(model, y, tmp_path, validation_split=0.25)


# metric (a name or an object, as Keras takes them) -> (the loss trained, output activation,
# targets)
METRIC_CASES = {
    "kl_divergence": ("categorical_crossentropy", "softmax", DISTRIBUTIONS),
    "poisson": ("mse", "softplus", COUNTS),
    "hinge": ("mse", "tanh", SIGNED),
    "squared_hinge": ("mse", "tanh", BINARY),
    "categorical_hinge": ("categorical_crossentropy", "softmax", ONE_HOT),
    "cosine_similarity": ("mse", "linear", VALUES),
    "mape": ("mse", "linear", VALUES + 4),
    "msle": ("mse", "relu", np.abs(VALUES)),
    "log_cosh_error": ("huber", "linear", VALUES * 40),     # |errors| in the hundreds too
}
METRIC_OF = {"cosine_similarity": keras.metrics.CosineSimilarity(name="cos")}


@pytest.mark.parametrize("case", list(METRIC_CASES))
def test_a_loss_is_a_metric_as_in_keras(case, tmp_path):
    loss, activation, y = METRIC_CASES[case]
    model = mlp(3, activation, optimizer=keras.optimizers.SGD(0.05), loss=loss,
                metrics=[METRIC_OF.get(case, case)])
    assert_fits_like_keras(model, y, tmp_path, validation_split=0.25)


# --- on an output of several axes: at every position, as Keras takes them -----------------------

L = keras.layers


def _tagger(activation: str) -> keras.Model:
    from support.keras_models import randomize, sequential
    return randomize(sequential((5, 3), L.LSTM(4, return_sequences=True),
                                L.Dense(3, activation=activation)), scale=0.5)


SEQUENCE_CASES = {   # loss, metrics, output activation, targets (48, 5, 3)
    "kl_divergence": ("kl_divergence", ["cosine_similarity"], "softmax",
                      RNG.dirichlet(np.ones(3), (48, 5)).astype("float32")),
    "categorical_hinge": ("categorical_hinge", ["categorical_accuracy"], "linear",
                          np.eye(3, dtype="float32")[RNG.integers(0, 3, (48, 5))]),
    "cosine_similarity": ("cosine_similarity", ["kl_divergence"], "softmax",
                          RNG.dirichlet(np.ones(3), (48, 5)).astype("float32")),
    "mse_with_accuracy": ("mse", ["categorical_accuracy", "categorical_hinge"], "softmax",
                          np.eye(3, dtype="float32")[RNG.integers(0, 3, (48, 5))]),
}


@pytest.mark.parametrize("case", list(SEQUENCE_CASES))
def test_a_loss_over_the_last_axis_is_taken_at_every_step(case, tmp_path):
    """Losses and metrics that sum, pick or normalise over the last axis give Keras' values on
    a (T, C) output only step by step (whole rows of T * C would mix the steps)."""
    loss, metrics, activation, y = SEQUENCE_CASES[case]
    model = _tagger(activation)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=metrics)
    x = RNG.normal(size=(48, 5, 3)).astype("float32")
    assert_fits_like_keras(model, y, tmp_path, x=x, validation_split=0.25)
