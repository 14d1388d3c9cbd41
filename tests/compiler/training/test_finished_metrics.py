"""Metrics that Keras finishes at the end of an epoch from state kept over its batches
(Precision, Recall, AUC, F1Score/FBetaScore: counts; RootMeanSquaredError: a sum of squares):
Keras2DML.fit's history against model.fit's on the same weights, float32 and float64, with
validation data; the same sums under paramserv and parallel batches; what is refused."""
from __future__ import annotations

import re

import numpy as np
import pytest

from kerasdml.compiler import Keras2DML
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import CompileError
from support.fit_parity import fit_both
from support.keras_models import keras, randomize, sequential

L = keras.layers
M = keras.metrics
RNG = np.random.default_rng(11)
N = 90
X = RNG.normal(size=(N, 6)).astype("float32")
BITS = (X[:, :1] + 0.6 * RNG.normal(size=(N, 1)) > 0.2).astype("float32")
CLASSES = np.argmax(X[:, :3] + 0.8 * RNG.normal(size=(N, 3)), axis=1)
ONE_HOT = np.eye(3, dtype="float32")[CLASSES]
VALUES = (X[:, :2] * [1.5, -0.5] + 0.3).astype("float32")
SETTINGS = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
VALIDATION = slice(0, 40)
# float32: Keras keeps its counts and ratios in float32 (kerasdml in float64)
TOLERANCE = {"float32": dict(rtol=2e-6, atol=2e-7), "float64": dict(rtol=1e-10, atol=1e-12)}


def mlp(outputs: int, activation, floatx: str = "float32", **compile_args) -> keras.Model:
    model = randomize(sequential((6,), L.Dense(5, activation="tanh"),
                                 L.Dense(outputs, activation=activation), dtype=floatx),
                      scale=0.7)
    model.compile(**compile_args)
    return model


def fit_like_keras(model, y, floatx: str = "float32", **options) -> Keras2DML:
    """Keras2DML.fit and model.fit from the same weights: the same history, validation too."""
    x, y = X.astype(floatx), y.astype(floatx)
    return fit_both(model, x, y, (x[VALIDATION], y[VALIDATION]), {**SETTINGS, **options},
                    TOLERANCE[floatx])[0]


def test_binary_classifier_precision_recall_auc_f1_like_keras(floatx):
    model = mlp(1, "sigmoid", floatx, optimizer=keras.optimizers.SGD(0.3),
                loss="binary_crossentropy",
                metrics=["accuracy", "precision", "recall", "auc",
                         M.AUC(curve="PR", name="pr_auc"),
                         M.AUC(num_thresholds=7, summation_method="minoring", name="auc_7"),
                         M.AUC(curve="PR", summation_method="majoring", name="pr_majoring"),
                         M.Precision(thresholds=0.3, name="precision_03"),
                         M.Recall(thresholds=[0.7], name="recall_07"),
                         M.F1Score(average="micro", threshold=0.5, name="f1")])
    estimator = fit_like_keras(model, BITS, floatx)
    # the metrics are not trivially 0 or 1: the data has both kinds of mistakes
    assert 0.2 < estimator.history_["precision"][-1] < 0.95
    assert 0.2 < estimator.history_["auc"][-1] < 0.99


def test_multi_class_metrics_count_every_position_as_keras(floatx):
    """On a softmax's one-hot targets Precision, Recall and AUC count all N * 3 entries; class_id
    counts one column; F1Score and FBetaScore count per class (threshold None: each row's
    largest)."""
    model = mlp(3, "softmax", floatx, optimizer=keras.optimizers.SGD(0.3),
                loss="categorical_crossentropy",
                metrics=["accuracy", M.Precision(), M.Recall(), M.Recall(class_id=2),
                         M.Precision(class_id=0, thresholds=0.4, name="precision_0"), M.AUC(),
                         M.AUC(curve="PR", name="pr_auc"), M.F1Score(average="macro"),
                         M.F1Score(average="micro", name="f1_micro"),
                         M.FBetaScore(beta=2.0, average="weighted", threshold=0.3)])
    fit_like_keras(model, ONE_HOT, floatx)


def test_root_mean_squared_error_is_the_root_of_the_epochs_mean(floatx):
    model = mlp(2, None, floatx, optimizer=keras.optimizers.SGD(0.05), loss="mse",
                metrics=["root_mean_squared_error", "mae"])
    estimator = fit_like_keras(model, VALUES, floatx)
    # not the mean of the batches' roots, which is smaller
    assert estimator.history_["root_mean_squared_error"][0] > 0.1


def test_two_outputs_report_their_finished_metrics_under_their_names():
    """Each output's counts sit after the outputs' losses and the other metrics' sums."""
    features = keras.Input((6,), name="features")
    trunk = L.Dense(5, activation="tanh")(features)
    model = randomize(keras.Model(features, [
        L.Dense(3, activation="softmax", name="labels")(trunk),
        L.Dense(2, name="values")(trunk)]), scale=0.7)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss={"labels": "categorical_crossentropy", "values": "mse"},
                  metrics={"labels": ["accuracy", "auc", M.Recall(class_id=1)],
                           "values": ["mae", "root_mean_squared_error"]})
    targets = [ONE_HOT, VALUES]
    # batches of equal size: with a shorter last batch (90 rows, batches of 16) Keras 3.15's
    # per-output losses differ from kerasdml's by about 3e-3 (these metrics still agree)
    settings = {**SETTINGS, "batch_size": 18}
    estimator = Keras2DML(model, **settings).fit(X, targets)
    history = model.fit(X, targets, **settings).history
    assert set(estimator.history_) == set(history)
    for name, values in history.items():
        np.testing.assert_allclose(estimator.history_[name], values, **TOLERANCE["float32"],
                                   err_msg=name)


def test_auc_from_logits_takes_the_sigmoid_of_a_linear_output():
    model = mlp(1, None, optimizer=keras.optimizers.SGD(0.2),
                loss=keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[M.AUC(from_logits=True)])
    fit_like_keras(model, BITS)


def _fixed_model_metrics(model, x, y) -> dict:
    """Each metric of a model whose weights do not move, by Keras' metric objects."""
    predictions = model.predict(x, verbose=0)
    values = {}
    for name, metric in (("precision", M.Precision()), ("auc", M.AUC()),
                         ("f1_score", M.F1Score(average="weighted")),
                         ("root_mean_squared_error", M.RootMeanSquaredError())):
        metric.update_state(y, predictions)
        values[name] = float(metric.result())
    return values


@pytest.mark.parametrize("algo", ["allreduce_parallel_batches", "looped_minibatch",
                                  "paramserv"])
def test_parallel_batches_and_paramserv_sum_the_same_counts(algo):
    """With a learning rate of 0 every algorithm sees the same predictions, whatever batches
    its workers take: the epoch's value is Keras' metric of the whole training set."""
    model = mlp(3, "softmax", optimizer=keras.optimizers.SGD(0.0),
                loss="categorical_crossentropy",
                metrics=["precision", "auc", M.F1Score(average="weighted"),
                         "root_mean_squared_error"])
    options = dict(parallel_batches=3) if algo != "paramserv" else dict(workers=2)
    estimator = Keras2DML(model, train_algo=algo, epochs=1, batch_size=10, seed=1, verbose=0,
                          **options).fit(X, ONE_HOT)
    for name, value in _fixed_model_metrics(model, X, ONE_HOT).items():
        np.testing.assert_allclose(estimator.history_[name], [value], rtol=1e-6, err_msg=name)


def test_one_paramserv_worker_reports_minibatchs_history():
    model = mlp(1, "sigmoid", optimizer=keras.optimizers.SGD(0.3), loss="binary_crossentropy",
                metrics=["precision", "recall", "auc", "root_mean_squared_error"])
    options = dict(epochs=2, batch_size=10, shuffle=False, seed=1, verbose=0)
    reference = Keras2DML(model, **options).fit(X, BITS)
    trained = Keras2DML(model, train_algo="paramserv", workers=1, **options).fit(X, BITS)
    assert trained.history_.keys() == reference.history_.keys()
    for name, values in reference.history_.items():
        np.testing.assert_allclose(trained.history_[name], values, atol=1e-10, err_msg=name)


def test_progress_lines_show_the_finished_metrics(capsys):
    """The last step line of an epoch shows what the history holds (numpy finishes the
    running counts there)."""
    model = mlp(1, "sigmoid", optimizer=keras.optimizers.SGD(0.3), loss="binary_crossentropy",
                metrics=["precision", "auc", "root_mean_squared_error"])
    estimator = Keras2DML(model, epochs=1, batch_size=30, shuffle=False, verbose=1,
                          display=3).fit(X, BITS)
    step_line = [line for line in capsys.readouterr().err.splitlines()
                 if line.startswith("step 3/3")][0]
    for name in ("precision", "auc", "root_mean_squared_error"):
        assert f"- {name}: {estimator.history_[name][0]:.4f}" in step_line, name


def test_the_train_script_sums_counts_and_finishes_them_at_the_epochs_end():
    model = mlp(1, "sigmoid", optimizer="sgd", loss="binary_crossentropy",
                metrics=["precision", "auc"])
    script = compile_model(model).train_script
    assert 'source("nn/metrics/confusion.dml") as confusion' in script
    assert "epoch_metrics = matrix(0, rows=1, cols=405)" in script
    assert re.search(r"batch_metrics = cbind\(confusion::threshold_counts\(\w+, y_batch, 0.5\), "
                     r"confusion::curve_counts\(\w+, y_batch, 200\)\)", script)
    assert 'history[e, 3] = confusion::auc(epoch_metrics[1, 4:405], "ROC", "interpolation")' \
        in script


REFUSED = {
    "F1Score() reports one value per class": (M.F1Score(), "average=None is not supported"),
    "so does the name": ("f1_score", "average=None is not supported"),
    "several thresholds": (M.Precision(thresholds=[0.3, 0.6]),
                           "thresholds=[0.3, 0.6] is not supported"),
    "top_k": (M.Recall(top_k=2), "top_k=2 is not supported"),
    "multi_label": (M.AUC(multi_label=True), "multi_label=True is not supported"),
    "PRGAIN": (M.AUC(curve="PRGAIN"), "curve='PRGAIN' is not supported; supported: ROC, PR"),
    "explicit thresholds": (M.AUC(thresholds=[0.2, 0.5]), r"thresholds=\[.*\] is not supported"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_settings_kerasdml_does_not_compute_are_refused_by_name(case):
    metric, message = REFUSED[case]
    model = mlp(3, "softmax", optimizer="sgd", loss="categorical_crossentropy",
                metrics=[metric])
    with pytest.raises(CompileError, match=message if "\\[" in message else
                       re.escape(message)):
        Keras2DML(model, verbose=0).fit(X, ONE_HOT)


def test_counts_need_targets_of_the_outputs_shape():
    model = mlp(3, "softmax", optimizer="sgd", loss="sparse_categorical_crossentropy",
                metrics=["precision"])
    with pytest.raises(CompileError, match="not the class ids"):
        Keras2DML(model, verbose=0).fit(X, CLASSES)


def test_counts_of_an_output_with_a_keras_mask_are_refused():
    """Keras takes the mask as sample weights of the counts, which kerasdml does not weight."""
    model = randomize(keras.Sequential([keras.Input((5,)), L.Embedding(6, 3, mask_zero=True),
                                        L.GRU(4, return_sequences=True),
                                        L.Dense(2, activation="sigmoid")]))
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["auc"])
    ids = RNG.integers(0, 6, (8, 5)).astype("float32")
    with pytest.raises(CompileError, match="carries a Keras mask, which Keras' auc takes as "
                                           "sample weights"):
        Keras2DML(model, verbose=0).fit(ids, RNG.integers(0, 2, (8, 5, 2)).astype("float32"))
