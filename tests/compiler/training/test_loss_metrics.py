"""Metrics that are a loss's mean over the samples (the cross-entropies by name and as
keras.metrics classes, with from_logits and label_smoothing), the top-k accuracies, exact
Accuracy and the class forms of the regression metrics: Keras2DML.fit's history against
model.fit's on the same weights, float32 and float64, validation and two outputs too.

Keras 3's TensorFlow backend takes a cross-entropy *metric* from the logits of a softmax or
sigmoid output as it takes the loss; on unscaled 0..255 pixels most predictions saturate, where
a metric from the clipped probabilities would differ by far."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.compiler import Keras2DML, compile_model
from kerasdml.compiler.training.config import TrainingConfigError, training_config
from support.fit_parity import fit_both
from support.keras_models import keras, randomize, sequential

L = keras.layers
M = keras.metrics
RNG = np.random.default_rng(31)
N = 48
PIXELS = RNG.integers(0, 256, (N, 16)).astype("float32")  # unscaled: the softmax saturates
CLASSES = RNG.integers(0, 4, N)
ONE_HOT = np.eye(4, dtype="float32")[CLASSES]
BITS = RNG.integers(0, 2, (N, 3)).astype("float32")
SETTINGS = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
VALIDATION = slice(0, 32)  # whole batches: Keras 3.15 means per-output losses unweighted
# float32: Keras sums the batches' values in float32 (kerasdml in float64 at single precision)
TOLERANCE = {"float32": dict(rtol=1e-6, atol=1e-7), "float64": dict(rtol=1e-11, atol=1e-12)}


def pixel_model(units: int, activation, floatx: str, scale: float = 0.3,
                **compile_args) -> keras.Model:
    """One Dense layer on the raw pixels: logits of tens, so p(true class) < 1e-7 for many."""
    model = sequential((16,), L.Dense(units, activation=activation), dtype=floatx)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, scale, (16, units)).astype(floatx),
                       rng.normal(0, 1, units).astype(floatx)])
    model.compile(**{"optimizer": keras.optimizers.SGD(1e-5), **compile_args})
    return model


def fit_like_keras(model, x, y, floatx: str, **options) -> dict:
    """Keras2DML.fit and model.fit from the same weights, validation data too: the same
    history. Returns Keras' history."""
    x = x.astype(floatx)
    y = [_typed(t, floatx) for t in y] if isinstance(y, list) else _typed(y, floatx)
    validation = (x[VALIDATION], [t[VALIDATION] for t in y] if isinstance(y, list)
                  else y[VALIDATION])
    precision = "double" if floatx == "float64" else "single"
    return fit_both(model, x, y, validation, {**SETTINGS, **options}, TOLERANCE[floatx],
                    precision=precision)[1]


def _typed(y, floatx: str):
    return y.astype(floatx) if y.dtype.kind == "f" else y


def saturated(model, x, classes) -> int:
    """Samples whose true class has a probability under 1e-7 (clipping would change them)."""
    p = model.predict(x, verbose=0)
    return int((p[np.arange(len(x)), classes] < 1e-7).sum())


def test_categorical_crossentropy_metrics_on_a_saturated_softmax_are_keras(floatx):
    model = pixel_model(4, "softmax", floatx, loss="categorical_crossentropy",
                        metrics=["categorical_crossentropy", "accuracy",
                                 M.CategoricalCrossentropy(label_smoothing=0.1, name="smoothed")])
    assert saturated(model, PIXELS, CLASSES) >= N // 3
    history = fit_like_keras(model, PIXELS, ONE_HOT, floatx)
    # taken from the logits: far above what clipping at 1e-7 allows (-log(1e-7) = 16.1)
    assert max(history["categorical_crossentropy"]) > 20
    assert max(history["val_categorical_crossentropy"]) > 20
    assert history["smoothed"] != history["categorical_crossentropy"]


def test_sparse_crossentropy_metrics_on_a_saturated_softmax_are_keras(floatx):
    model = pixel_model(4, "softmax", floatx, loss="sparse_categorical_crossentropy",
                        metrics=["sparse_categorical_crossentropy", "accuracy",
                                 M.SparseCategoricalCrossentropy(name="scce")])
    history = fit_like_keras(model, PIXELS, CLASSES, floatx)
    assert max(history["sparse_categorical_crossentropy"]) > 20


def test_binary_crossentropy_metrics_on_saturated_sigmoids_are_keras(floatx):
    model = pixel_model(3, "sigmoid", floatx, loss="binary_crossentropy",
                        metrics=["binary_crossentropy", M.BinaryCrossentropy(
                            label_smoothing=0.2, name="smoothed"), "binary_accuracy"])
    history = fit_like_keras(model, PIXELS, BITS, floatx)
    assert max(history["binary_crossentropy"]) > 10


def test_a_crossentropy_metric_takes_the_logits_where_the_loss_does_not(floatx):
    """A softmax output trained on KL divergence: only the metric reads the logits (the
    gradient still goes through the softmax), in training and validation."""
    model = pixel_model(4, "softmax", floatx, loss="kl_divergence",
                        metrics=["categorical_crossentropy", "kl_divergence"])
    history = fit_like_keras(model, PIXELS, ONE_HOT, floatx)
    assert max(history["val_categorical_crossentropy"]) > 20
    script = compile_model(model).train_script
    assert "softmax::backward" in script


@pytest.mark.parametrize("units,loss,metric,smoothing", [
    (4, keras.losses.CategoricalCrossentropy, M.CategoricalCrossentropy, 0.3),
    (3, keras.losses.BinaryCrossentropy, M.BinaryCrossentropy, 0.1)], ids=["categorical", "binary"])
def test_from_logits_metrics_of_a_linear_output(floatx, units, loss, metric, smoothing):
    model = pixel_model(units, None, floatx, scale=0.01, loss=loss(from_logits=True),
                        metrics=[metric(from_logits=True, name="plain"),
                                 metric(from_logits=True, label_smoothing=smoothing,
                                        name="smoothed")])
    fit_like_keras(model, PIXELS, ONE_HOT if units == 4 else BITS, floatx)


X = RNG.normal(size=(N, 6)).astype("float32")
VALUES = np.maximum(X[:, :2] * [1.5, -0.5] + 0.2, 0).astype("float32")  # a third are 0


def mlp(units: int, activation, floatx: str, **compile_args) -> keras.Model:
    model = randomize(sequential((6,), L.Dense(5, activation="tanh"),
                                 L.Dense(units, activation=activation), dtype=floatx), scale=0.7)
    model.compile(**{"optimizer": keras.optimizers.SGD(0.05), **compile_args})
    return model


# float32 only: TensorFlow's in_top_k takes no float64 predictions (Keras fails there)
@pytest.mark.parametrize("loss, y", [("categorical_crossentropy", ONE_HOT),
                                     ("sparse_categorical_crossentropy", CLASSES)])
def test_top_k_accuracies_count_the_target_among_the_k_largest(loss, y):
    floatx = "float32"
    sparse = "sparse_" if loss.startswith("sparse") else ""
    model = mlp(4, "softmax", floatx, loss=loss,
                metrics=[f"{sparse}top_k_categorical_accuracy", "accuracy",
                         getattr(M, f"{sparse.title().rstrip('_')}TopKCategoricalAccuracy")(k=2),
                         getattr(M, f"{sparse.title().rstrip('_')}TopKCategoricalAccuracy")(
                             k=3, name="top_3")])
    history = fit_like_keras(model, X, y, floatx)
    # the two of one name report as Keras reports them; k=5 of 4 classes counts every row
    assert history[f"{sparse}top_k_categorical_accuracy"] == [1.0, 1.0]
    assert 0 < history[f"{sparse}top_k_categorical_accuracy_1"][0] < \
        history["top_3"][0] < 1


@pytest.mark.parametrize("precision", ["single", "double"])
def test_top_k_of_a_saturated_softmax_counts_its_ties_at_zero_in(precision):
    """Keras' float32 softmax gives 0 for the probabilities below 2^-125, where kerasdml's
    are tiny but positive: in_top_k counts the target among tied zeros as in the top k."""
    model = pixel_model(4, "softmax", "float32", loss="categorical_crossentropy",
                        metrics=[M.TopKCategoricalAccuracy(k=2), M.TopKCategoricalAccuracy(
                            k=3, name="top_3")])
    p = model.predict(PIXELS, verbose=0)
    assert ((p[np.arange(N), CLASSES] == 0) & ((p == 0).sum(axis=1) >= 2)).sum() >= 5
    settings = {**SETTINGS, "epochs": 1}
    validation = (PIXELS[VALIDATION], ONE_HOT[VALIDATION])
    estimator = Keras2DML(model, precision=precision, **settings).fit(
        PIXELS, ONE_HOT, validation_data=validation)
    history = model.fit(PIXELS, ONE_HOT, validation_data=validation, **settings).history
    for name in ("top_k_categorical_accuracy", "top_3", "val_top_k_categorical_accuracy"):
        np.testing.assert_allclose(estimator.history_[name], history[name], rtol=1e-7,
                                   err_msg=name)


def test_class_forms_of_the_regression_metrics_and_exact_accuracy(floatx):
    """MeanSquaredError() and the other classes report as their names; Accuracy() counts the
    exact matches (a relu output's zeros against the targets' zeros)."""
    model = mlp(2, "relu", floatx, loss="mse",
                metrics=[M.MeanSquaredError(), M.MeanAbsoluteError(), M.Accuracy(),
                         M.CosineSimilarity(), M.LogCoshError(), M.Poisson(),
                         M.MeanSquaredLogarithmicError(), M.Hinge()])
    history = fit_like_keras(model, X, VALUES, floatx)
    assert 0 < history["accuracy"][0] < 1


def test_two_outputs_report_each_outputs_crossentropy_under_its_name(floatx):
    pixels = keras.Input((16,), name="pixels", dtype=floatx)
    labels = L.Dense(4, activation="softmax", name="labels")(pixels)
    bits = L.Dense(3, activation="sigmoid", name="bits")(pixels)
    model = keras.Model(pixels, [labels, bits])
    rng = np.random.default_rng(9)
    model.set_weights([rng.normal(0, s, shape).astype(floatx)
                       for s, shape in ((0.3, (16, 4)), (1, (4,)), (0.3, (16, 3)), (1, (3,)))])
    model.compile(optimizer=keras.optimizers.SGD(1e-5),
                  loss={"labels": "categorical_crossentropy", "bits": "binary_crossentropy"},
                  metrics={"labels": ["categorical_crossentropy", "categorical_accuracy"],
                           "bits": [M.BinaryCrossentropy(name="bce"), "binary_accuracy"]})
    history = fit_like_keras(model, PIXELS, [ONE_HOT, BITS], floatx)
    assert "val_labels_categorical_crossentropy" in history and "bits_bce" in history
    assert max(history["labels_categorical_crossentropy"]) > 20


def test_crossentropy_and_top_k_metrics_of_a_sequence_output_are_per_step(floatx):
    """A tagger's (T, C) softmax: Keras takes these metrics at every step over the classes."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(N, 5, 4)).astype("float32")
    tags = np.eye(3, dtype="float32")[rng.integers(0, 3, (N, 5))]
    model = randomize(sequential((5, 4), L.Dense(3, activation="softmax"), dtype=floatx))
    top_k = [M.TopKCategoricalAccuracy(k=2)] if floatx == "float32" else []  # Keras: no float64
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse",
                  metrics=["categorical_crossentropy", *top_k])
    fit_like_keras(model, x, tags, floatx)


REFUSED = {
    "sparse_metric_of_one_hot_targets": (
        dict(loss="categorical_crossentropy", metrics=["sparse_categorical_crossentropy"]),
        "takes class ids as targets"),
    "one_hot_metric_of_class_ids": (
        dict(loss="sparse_categorical_crossentropy", metrics=[M.TopKCategoricalAccuracy()]),
        "takes rows of the output's shape"),
    "axis": (dict(loss="categorical_crossentropy",
                  metrics=[M.CategoricalCrossentropy(axis=0)]), "axis=0 is not supported"),
    "ignore_class": (dict(loss="sparse_categorical_crossentropy",
                          metrics=[M.SparseCategoricalCrossentropy(ignore_class=0)]),
                     "ignore_class=0"),
    "sorted_ids": (dict(loss="sparse_categorical_crossentropy",
                        metrics=[M.SparseTopKCategoricalAccuracy(from_sorted_ids=True)]),
                   "from_sorted_ids=True"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_is_refused_says_why(case):
    arguments, message = REFUSED[case]
    with pytest.raises(TrainingConfigError, match=message):
        training_config(None, optimizer="sgd", **arguments)


@pytest.mark.parametrize("sparse", [False, True])
def test_crossentropy_metrics_of_a_masked_tagger_count_its_masked_in_steps(sparse, floatx):
    """Embedding(mask_zero) ids padded with 0: Keras weights these metrics by the mask, as the
    loss, in training and validation."""
    rng = np.random.default_rng(8)
    lengths = rng.integers(2, 7, N)
    ids = (rng.integers(1, 7, (N, 6)) * (np.arange(6)[None, :] < lengths[:, None]))
    tags = rng.integers(0, 3, (N, 6))
    model = randomize(sequential((6,), L.Embedding(7, 3, mask_zero=True),
                                 L.LSTM(4, return_sequences=True),
                                 L.Dense(3, activation="softmax"), dtype=floatx), scale=0.5)
    name = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    top_k = [(M.SparseTopKCategoricalAccuracy if sparse else M.TopKCategoricalAccuracy)(k=2)] \
        if floatx == "float32" else []  # Keras: no float64 in_top_k
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=name, metrics=[name, *top_k])
    y = tags if sparse else np.eye(3, dtype="float32")[tags]
    fit_like_keras(model, ids.astype("float32"), y, floatx)
