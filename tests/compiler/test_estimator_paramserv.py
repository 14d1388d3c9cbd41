"""Keras2DML(train_algo="paramserv"): the generated train.dml calls DML's paramserv.

One BSP worker per batch makes the same updates as minibatch (same batches, mean gradients,
dropout seeds, optimizer state), so the weights must agree; more workers must still learn."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize, sequential
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(5)
X = RNG.normal(size=(120, 6)).astype("float32")
CLASSES = (X @ RNG.normal(size=(6, 3))).argmax(axis=1)


def mlp(optimizer="adam", dropout=True):
    layers = [L.Dense(16, activation="relu")] + ([L.Dropout(0.2)] if dropout else [])
    model = randomize(sequential((6,), *layers, L.Dense(3, activation="softmax"), name="mlp"),
                      scale=0.5)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def fitted(model, **options):
    estimator = Keras2DML(model, epochs=3, batch_size=10, seed=3, shuffle=False, verbose=0,
                          **options)
    return estimator.fit(X, CLASSES, validation_data=(X[:30], CLASSES[:30]))


@pytest.mark.parametrize("optimizer", ["adam", keras.optimizers.SGD(0.05, momentum=0.9),
                                       keras.optimizers.Nadam(keras.optimizers.schedules.
                                                              ExponentialDecay(0.01, 5, 0.9))])
def test_one_bsp_worker_makes_minibatchs_updates(optimizer):
    model = mlp(optimizer)
    reference = fitted(model)
    trained = fitted(model, train_algo="paramserv", workers=1)
    for name, weights in reference.weights_.items():
        np.testing.assert_allclose(trained.weights_[name], weights, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(trained.history_["loss"], reference.history_["loss"], atol=1e-10)
    assert trained.history_.keys() == reference.history_.keys()


@pytest.mark.parametrize("options", [dict(workers=2), dict(workers=2, sync="ASP"),
                                     dict(workers=3, frequency=2), dict(workers=2, frequency="epoch")])
def test_several_workers_learn(options):
    estimator = Keras2DML(mlp(keras.optimizers.Adam(0.02), dropout=False), epochs=8, batch_size=20,
                          seed=1, verbose=0, train_algo="paramserv",
                          **options).fit(X, CLASSES)
    assert estimator.history_["loss"][-1] < estimator.history_["loss"][0]
    assert estimator.score(X, CLASSES) > 0.75


def test_generated_script_calls_paramserv_with_the_update_and_aggregation_functions():
    script = Keras2DML(mlp(), train_algo="paramserv").get_training_script()
    assert 'upd=".defaultNS::gradients", agg=".defaultNS::aggregation"' in script
    assert "gradients = function(list[unknown] model, list[unknown] hyperparams," in script


@pytest.mark.parametrize("options, message", [
    (dict(sync="SSP"), "sync must be 'BSP' or 'ASP'"),
    (dict(frequency="daily"), "frequency must be"),
    (dict(workers=0), "workers must be a number >= 1"),
])
def test_bad_paramserv_settings(options, message):
    with pytest.raises(CompileError, match=message):
        Keras2DML(mlp(), train_algo="paramserv", verbose=0, **options).fit(X, CLASSES)


def test_batch_normalization_is_refused_with_a_reason():
    model = sequential((6,), L.Dense(8), L.BatchNormalization(), L.Dense(3, activation="softmax"))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(CompileError, match="BatchNormalization"):
        Keras2DML(model, train_algo="paramserv").get_training_script()
