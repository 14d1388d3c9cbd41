"""Keras2DML trains models with several outputs as model.fit does: one loss per output (a list
in output order or a dict by output name), Keras' loss_weights, per-output metrics reported
under Keras' names (labels_loss, values_mae), targets given as a list or a dict."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler import Keras2DML, compile_model
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.training.config import TrainingConfigError, training_config
from kerasdml.compiler.training.data import DataError

L = keras.layers


def classify_and_regress(**compile_args) -> keras.Model:
    """A classification head and a regression head on one trunk; the regression head's output
    is read by the classification head too, so its gradient is the sum of both."""
    keras.utils.set_random_seed(0)
    features = keras.Input((9,), name="features")
    x = L.Dense(8, activation="relu")(features)
    values = L.Dense(2, name="values")(L.Dense(4, activation="tanh")(x))
    labels = L.Dense(3, activation="softmax", name="labels")(L.Concatenate()([x, values]))
    model = keras.Model(features, [labels, values])
    model.compile(**compile_args)
    return model


def data(count: int = 40):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(count, 9)).astype("float32"), rng.integers(0, 3, count),
            rng.normal(size=(count, 2)).astype("float32"))


# factories: a Keras optimizer serves one model
FORMS = {
    "dicts_sgd": lambda: dict(optimizer=keras.optimizers.SGD(0.1),
                      loss={"labels": "sparse_categorical_crossentropy", "values": "mse"},
                      loss_weights={"labels": 1.0, "values": 0.5},
                      metrics={"labels": ["accuracy"], "values": ["mae"]}),
    "lists_adam": lambda: dict(optimizer=keras.optimizers.Adam(0.01),
                       loss=["categorical_crossentropy", keras.losses.Huber()],
                       loss_weights=[0.3, 2.0], metrics=[["accuracy"], ["mae", "mse"]]),
}


def keras_targets(form, labels, values):
    return [np.eye(3)[labels] if form == "lists_adam" else labels, values]


@pytest.mark.parametrize("form", list(FORMS))
def test_two_outputs_train_like_keras_fit(form, tmp_path):
    features, labels, values = data()
    y = keras_targets(form, labels, values)
    model = classify_and_regress(**FORMS[form]())
    estimator = Keras2DML(model, epochs=2, batch_size=10, shuffle=False, verbose=0)
    estimator.fit(features, y if form == "lists_adam" else {"values": y[1], "labels": y[0]})
    history = model.fit(features, y, epochs=2, batch_size=10, shuffle=False, verbose=0).history
    trained = keras.models.load_model(estimator.export(tmp_path / "trained.keras"))
    for ours, theirs in zip(trained.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert set(estimator.history_) == set(history)
    for name, values_per_epoch in history.items():
        np.testing.assert_allclose(estimator.history_[name], values_per_epoch, atol=1e-5,
                                   err_msg=name)
    predicted = estimator.predict(features[:5])
    assert isinstance(predicted, list) and len(predicted) == 2
    for ours, theirs in zip(predicted, model.predict(features[:5], verbose=0)):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_evaluate_and_validation_report_every_output_like_keras():
    features, labels, values = data()
    model = classify_and_regress(**FORMS["dicts_sgd"]())
    estimator = Keras2DML(model, epochs=1, batch_size=10, shuffle=False, verbose=0,
                          validation_split=0.25).fit(features, [labels, values])
    history = model.fit(features, [labels, values], epochs=1, batch_size=10, shuffle=False,
                        verbose=0, validation_split=0.25).history
    for name, value in history.items():
        np.testing.assert_allclose(estimator.history_[name], value, atol=1e-5, err_msg=name)
    # Keras means an output's loss over its batches (of 32, and of all in one)
    for batch_size in (None, len(features)):
        ours = estimator.evaluate(features, [labels, values], batch_size=batch_size)
        theirs = model.evaluate(features, [labels, values], verbose=0, return_dict=True,
                                batch_size=batch_size)
        assert set(ours) == set(theirs)
        for name in theirs:
            np.testing.assert_allclose(ours[name], theirs[name], atol=1e-4, err_msg=name)


def test_the_script_weighs_each_output_loss():
    script = compile_model(classify_and_regress(**FORMS["dicts_sgd"]())).train_script
    assert "loss = loss_labels + 0.5 * loss_values" in script
    assert "columns 2:3: output 'values' (mean_squared_error, weight 0.5)" in script
    # the regression output's gradient: the loss's plus the classification head's
    assert "dvalues = dvalues_1 + dvalues_2" in script


@pytest.mark.parametrize("compile_args, message", [
    (dict(loss={"labels": "mse", "values": "mse", "other": "mae"}), "loss is a dict with keys"),
    (dict(loss={"labels": "mse"}), "loss is a dict with keys \\['labels'\\]"),
    (dict(loss=["mse", "mse"], loss_weights=[1.0]), "give loss_weights as a list"),
    (dict(loss=["mse", None]), "output 'values' has no loss"),
    (dict(loss=["mse", "mse"], metrics={"other": ["mae"]}), "metrics is a dict with keys"),
], ids=["unknown output", "dict misses an output", "weights too few", "no loss", "unknown metric key"])
def test_losses_that_do_not_fit_the_outputs_are_refused(compile_args, message):
    with pytest.raises(TrainingConfigError, match=message):
        training_config(None, optimizer="sgd", outputs=("labels", "values"), **compile_args)


def test_targets_that_do_not_fit_the_outputs_are_refused():
    features, labels, values = data()
    estimator = Keras2DML(classify_and_regress(**FORMS["dicts_sgd"]()), verbose=0)
    with pytest.raises(DataError, match="the model has 2 outputs \\(labels, values\\)"):
        estimator.fit(features, labels)
    with pytest.raises(DataError, match="y is a dict with keys \\['labels'\\]"):
        estimator.fit(features, {"labels": labels})


def test_score_needs_one_output():
    features, labels, values = data()
    estimator = Keras2DML(classify_and_regress(**FORMS["dicts_sgd"]()), epochs=1,
                          verbose=0).fit(features, [labels, values])
    with pytest.raises(CompileError, match="score answers for a model with one output"):
        estimator.score(features, [labels, values])


@pytest.mark.parametrize("form", list(FORMS))
def test_one_paramserv_worker_per_batch_trains_two_outputs_as_minibatch(form):
    """paramserv's labels are the outputs' targets side by side, cut apart as minibatch's are."""
    features, labels, values = data()
    y = keras_targets(form, labels, values)
    model = classify_and_regress(**FORMS[form]())
    options = dict(epochs=2, batch_size=10, shuffle=False, seed=1, verbose=0)
    reference = Keras2DML(model, **options).fit(features, y)
    trained = Keras2DML(model, train_algo="paramserv", workers=1, **options).fit(features, y)
    for name, weights in reference.weights_.items():
        np.testing.assert_allclose(trained.weights_[name], weights, rtol=0, atol=1e-10, err_msg=name)
    assert trained.history_.keys() == reference.history_.keys()
    for name, values_per_epoch in reference.history_.items():
        np.testing.assert_allclose(trained.history_[name], values_per_epoch, atol=1e-10, err_msg=name)


def test_two_paramserv_workers_train_two_outputs():
    features, labels, values = data(80)
    model = classify_and_regress(**FORMS["dicts_sgd"]())
    estimator = Keras2DML(model, epochs=5, batch_size=20, seed=1, verbose=0, train_algo="paramserv",
                          workers=2).fit(features, {"labels": labels, "values": values})
    for name in ("loss", "labels_loss", "values_loss"):
        assert estimator.history_[name][-1] < estimator.history_[name][0], name


def test_one_loss_serves_every_output_as_in_keras():
    features, labels, values = data()
    targets = [np.eye(3)[labels], values]
    model = classify_and_regress(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    estimator = Keras2DML(model, epochs=1, batch_size=20, shuffle=False, verbose=0)
    estimator.fit(features, targets)
    history = model.fit(features, targets, epochs=1, batch_size=20, shuffle=False,
                        verbose=0).history
    for name, value in history.items():
        np.testing.assert_allclose(estimator.history_[name], value, atol=1e-5, err_msg=name)
