"""Keras' weight constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm), which Keras' optimizers
apply after every update: the training script applies them there too and trains to Keras'
weights; a norm whose groups of values are neither rows nor columns of the DML layout is
refused by name for training (prediction does not use constraints)."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize, save
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError

L = keras.layers
C = keras.constraints


def constrained_cnn():
    """A filter norm (axis=[0, 1, 2]) and a non-negative bias on a Conv2D, unit columns on the
    Dense after the Flatten (whose kernel rows the weights file permutes), MinMaxNorm and
    MaxNorm over a Dense kernel and over a whole bias."""
    x = keras.Input((6, 6, 2))
    y = L.Conv2D(3, 3, activation="relu", kernel_constraint=C.MaxNorm(0.8, axis=[0, 1, 2]),
                 bias_constraint=C.NonNeg(), name="filters")(x)
    y = L.Dense(5, activation="tanh", kernel_constraint=C.UnitNorm())(L.Flatten()(y))
    y = L.Dense(4, kernel_constraint=C.MinMaxNorm(0.2, 0.9, rate=0.7),
                bias_constraint=C.MaxNorm(0.3))(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="constrained")


def test_constraints_train_like_keras(tmp_path):
    model = randomize(constrained_cnn(), seed=3, scale=0.5)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 6, 6, 2)).astype("float32"), rng.integers(0, 3, 16)
    script = compile_model(save(model, tmp_path), loss="sparse_categorical_crossentropy",
                           optimizer="adam").train_script
    assert script.count("_norms = sqrt(") == 4 and "filters_b = max(filters_b, 0)" in script
    assert_trains_like_keras(model, x, y, tmp_path)


def test_a_norm_over_other_groups_is_refused_for_training_only(tmp_path):
    model = keras.Sequential([keras.Input((6, 6, 2)),
                              L.Conv2D(3, 3, kernel_constraint=C.MaxNorm(1.0), name="rows")])
    compiled = compile_model(save(model, tmp_path), loss="mean_squared_error", optimizer="sgd")
    assert compiled.predict(np.zeros((2, 6, 6, 2))).shape == (2, 4, 4, 3)
    with pytest.raises(UnsupportedAttributeError) as caught:
        compiled.train_script
    problem, = caught.value.problems
    assert (problem.layer, problem.attribute) == ("rows", "kernel_constraint")
