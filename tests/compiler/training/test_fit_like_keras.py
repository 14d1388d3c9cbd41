"""Keras2DML.fit against model.fit for what Keras' compile and fit arguments decide: the rows
validation_split holds out, the settings of loss and metric objects, the names the history
reports; and Keras' fit keywords that kerasdml does not take, refused with what to do."""
from __future__ import annotations

import re

import numpy as np
import pytest

from kerasdml.compiler import Keras2DML
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.training.config import TrainingConfigError
from kerasdml.compiler.training.objectives import loss_from_keras, metrics_from_keras
from support.keras_models import keras, randomize, sequential

L = keras.layers
RNG = np.random.default_rng(3)
X = RNG.normal(size=(48, 6)).astype("float32")
CLASSES = RNG.integers(0, 3, 48)
VALUES = RNG.normal(size=(48, 3)).astype("float32")
SETTINGS = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)


def mlp(outputs=3, activation="softmax", **compile_args) -> keras.Model:
    model = randomize(sequential((6,), L.Dense(5, activation="tanh"),
                                 L.Dense(outputs, activation=activation)), scale=0.5)
    model.compile(**compile_args)
    return model


def two_outputs(**compile_args) -> keras.Model:
    features = keras.Input((6,), name="features")
    trunk = L.Dense(5, activation="tanh")(features)
    model = keras.Model(features, [L.Dense(3, activation="softmax", name="labels")(trunk),
                                   L.Dense(3, name="values")(trunk)])
    model = randomize(model, scale=0.5)
    model.compile(**compile_args)
    return model


def assert_fits_like_keras(model, y, tmp_path, fit=None, x=X, **options) -> Keras2DML:
    """The same history and weights as model.fit with the same settings (validation_split is
    a constructor parameter of Keras2DML and a fit() argument of Keras)."""
    settings = {**SETTINGS, **options}
    estimator = Keras2DML(model, **settings).fit(x, y, **(fit or {}))
    history = model.fit(x, y, **settings, **(fit or {})).history
    assert set(estimator.history_) == set(history)
    for name, values in history.items():
        np.testing.assert_allclose(estimator.history_[name], values, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    trained = keras.models.load_model(estimator.export(tmp_path / "trained.keras"),
                                      compile=False)
    for ours, theirs in zip(trained.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    return estimator


# --- validation_split ---------------------------------------------------------------------------

@pytest.mark.parametrize("fraction", [0.2, 0.3])
def test_validation_split_holds_out_the_rows_keras_holds_out(fraction, tmp_path):
    """48 examples: Keras trains on floor(48 * 0.8) = 38 (0.3: 33), not 48 - int(48 * f) = 39
    (34)."""
    model = mlp(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    assert_fits_like_keras(model, CLASSES, tmp_path, validation_split=fraction)


def test_validation_data_replaces_validation_split_as_in_keras(tmp_path):
    model = mlp(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    assert_fits_like_keras(model, CLASSES, tmp_path, validation_split=0.25,
                           fit=dict(validation_data=(X[:8], CLASSES[:8])))


def test_too_few_examples_to_split_are_refused_as_keras_refuses_them():
    model = mlp(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="not sufficient to split it"):
        model.fit(X[:1], CLASSES[:1], validation_split=0.5, verbose=0)
    with pytest.raises(CompileError, match=re.escape(
            "the training data has 1 examples, which is not sufficient to split it into a "
            "validation and training set as specified by validation_split=0.5: give more data "
            "or another validation_split")):
        Keras2DML(model, validation_split=0.5, verbose=0).fit(X[:1], CLASSES[:1])


# --- loss objects keep their settings --------------------------------------------------------

def test_a_live_loss_object_keeps_its_settings(tmp_path):
    """Keras' saved compile config drops Huber's delta: the live object's is used."""
    model = mlp(3, "linear", optimizer=keras.optimizers.SGD(0.1),
                loss=keras.losses.Huber(delta=0.3))
    estimator = assert_fits_like_keras(model, VALUES, tmp_path)
    assert estimator._compiled().loss.arguments == (("delta", 0.3),)


@pytest.mark.parametrize("form", ["list", "dict"])
def test_live_loss_objects_of_several_outputs_keep_their_settings(form, tmp_path):
    losses = ["sparse_categorical_crossentropy", keras.losses.Huber(delta=0.3)]
    model = two_outputs(optimizer=keras.optimizers.SGD(0.1), loss=losses if form == "list"
                        else dict(zip(("labels", "values"), losses)))
    estimator = assert_fits_like_keras(model, [CLASSES, VALUES], tmp_path)
    assert estimator._compiled().training.heads[1].loss.arguments == (("delta", 0.3),)


# --- a cross-entropy at every position of an output -------------------------------------------

def test_a_tagger_takes_its_cross_entropy_and_accuracy_at_every_step(tmp_path):
    """A sequence tagger's softmax per step, sparse labels per step (N, T): Keras means the
    cross-entropy and the accuracy over every step, not over whole rows of T * C columns."""
    rng = np.random.default_rng(5)
    model = randomize(sequential((5, 3), L.LSTM(4, return_sequences=True),
                                 L.Dense(3, activation="softmax")), scale=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, tags = rng.normal(size=(48, 5, 3)).astype("float32"), rng.integers(0, 3, (48, 5))
    estimator = assert_fits_like_keras(model, tags, tmp_path, x=x, validation_split=0.25)
    keras_accuracy = model.evaluate(x, tags, verbose=0, return_dict=True)["accuracy"]
    assert estimator.predict_classes(x).shape == (48, 5)
    np.testing.assert_allclose(estimator.score(x, tags), keras_accuracy, atol=1e-6)


def test_a_segmentation_takes_its_cross_entropy_at_every_pixel(tmp_path):
    """An image output of class logits per pixel, one-hot targets (N, H, W, C): the loss reads
    the pixels' classes in Keras' channels-last order, not DML's channels-first rows."""
    rng = np.random.default_rng(6)
    model = randomize(sequential((4, 4, 2), L.Conv2D(4, 3, padding="same", activation="relu"),
                                 L.Conv2D(3, 1)), scale=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["categorical_accuracy"])
    x = rng.normal(size=(48, 4, 4, 2)).astype("float32")
    masks = np.eye(3, dtype="float32")[rng.integers(0, 3, (48, 4, 4))]
    assert_fits_like_keras(model, masks, tmp_path, x=x, validation_split=0.25)

def _masked_tagger(embed: bool, bidirectional: bool, time_distributed: bool) -> keras.Model:
    """Ids with 0 as padding (Embedding mask_zero) or feature rows of zeros (Masking), an LSTM
    per step and a softmax per step: Keras' loss and metrics count only the masked-in steps."""
    if embed:
        layers = [L.Embedding(7, 3, mask_zero=True)]
    else:
        layers = [L.Masking(0.0)]
    lstm = L.LSTM(4, return_sequences=True)
    layers.append(L.Bidirectional(lstm) if bidirectional else lstm)
    dense = L.Dense(3, activation="softmax")
    layers.append(L.TimeDistributed(dense) if time_distributed else dense)
    return randomize(sequential((6,) if embed else (6, 2), *layers), scale=0.5)


def _padded(rng, embed: bool):
    """48 sequences of 6 steps, each padded after 2..6 real steps."""
    lengths = rng.integers(2, 7, 48)
    real = np.arange(6)[None, :] < lengths[:, None]
    if embed:
        return (rng.integers(1, 7, (48, 6)) * real).astype("float32")
    return (rng.normal(size=(48, 6, 2)) * real[..., None]).astype("float32")


@pytest.mark.parametrize("embed, bidirectional, time_distributed, sparse, optimizer", [
    (True, True, True, True, "sgd"),
    (True, False, False, False, "sgd"),
    (False, False, True, True, "adam"),
    (False, True, False, False, "sgd"),
])
def test_a_masked_tagger_weights_its_loss_and_metrics_by_the_mask(
        embed, bidirectional, time_distributed, sparse, optimizer, tmp_path):
    """Keras weights a masked output's per-step loss by the mask: each batch's loss is
    sum(mask * loss) / sum(mask), and the accuracy counts the masked-in steps of the epoch.
    Adam only without an Embedding (Keras' Adam squares an Embedding's gradient slice by
    slice: test_masking.py)."""
    rng = np.random.default_rng(8)
    model = _masked_tagger(embed, bidirectional, time_distributed)
    model.compile(optimizer=keras.optimizers.SGD(0.1) if optimizer == "sgd"
                  else keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy" if sparse
                  else "categorical_crossentropy", metrics=["accuracy"])
    x, tags = _padded(rng, embed), rng.integers(0, 3, (48, 6))
    y = tags if sparse else np.eye(3, dtype="float32")[tags]
    estimator = assert_fits_like_keras(model, y, tmp_path, x=x, validation_split=0.25)
    keras_accuracy = model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    np.testing.assert_allclose(estimator.score(x, y), keras_accuracy, atol=1e-6)



def test_a_masked_regression_per_step_means_its_loss_over_the_masked_in_steps(tmp_path):
    """mse and mae on a masked output of two values per step: Keras means each step's values
    first (the losses' last axis), then weights the steps by the mask."""
    rng = np.random.default_rng(9)
    model = randomize(sequential((6, 2), L.Masking(0.0), L.GRU(4, return_sequences=True),
                                 L.Dense(2)), scale=0.5)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    x = _padded(rng, embed=False)
    assert_fits_like_keras(model, rng.normal(size=(48, 6, 2)).astype("float32"), tmp_path, x=x,
                           validation_split=0.25)


def test_metrics_of_a_masked_output_are_refused_where_batches_are_merged():
    model = _masked_tagger(True, False, False)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(CompileError, match="carries a Keras mask, whose metrics count the "
                                           "masked-in positions; train_algo='looped_minibatch'"):
        Keras2DML(model, train_algo="looped_minibatch", verbose=0).fit(
            _padded(np.random.default_rng(1), True), np.zeros((48, 6)))

# --- metrics ------------------------------------------------------------------------------------

def test_binary_accuracy_takes_its_threshold(tmp_path):
    model = mlp(1, "sigmoid", optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                metrics=[keras.metrics.BinaryAccuracy(threshold=0.7), "accuracy"])
    estimator = assert_fits_like_keras(model, (CLASSES > 0).astype("float32"), tmp_path)
    script = estimator.get_training_script()
    assert "> 0.7)" in script and "> 0.5)" in script
    assert estimator.history_["binary_accuracy"] != estimator.history_["accuracy"]


def test_two_names_of_one_metric_are_both_reported(tmp_path):
    model = mlp(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy",
                metrics=["categorical_accuracy", "acc"])
    estimator = assert_fits_like_keras(model, np.eye(3)[CLASSES], tmp_path)
    assert set(estimator.history_) == {"loss", "categorical_accuracy", "acc"}


def test_log_cosh_is_a_metric_too(tmp_path):
    """Keras' LogCoshError metric ("log_cosh_error") beside another loss (it was refused)."""
    model = mlp(3, "linear", optimizer=keras.optimizers.SGD(0.1), loss="huber",
                metrics=["log_cosh_error", keras.metrics.LogCoshError(), "mse"])
    assert_fits_like_keras(model, VALUES, tmp_path, validation_split=0.25)

def test_metric_settings_kerasdml_does_not_model_are_refused():
    spec = {"class_name": "CategoricalAccuracy",
            "config": {"name": "ca", "dtype": "float32", "k": 2}}
    with pytest.raises(TrainingConfigError, match=re.escape(
            "metric CategoricalAccuracy: k=2 is not supported (kerasdml computes it with "
            "Keras' defaults)")):
        metrics_from_keras([spec], loss_from_keras("categorical_crossentropy"), 3)


def test_weighted_metrics_are_refused():
    model = mlp(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                weighted_metrics=["accuracy"])
    with pytest.raises(TrainingConfigError, match=re.escape(
            "weighted_metrics=['accuracy'] is not supported: kerasdml trains on unweighted "
            "samples; compile the model with these in metrics= instead")):
        Keras2DML(model, verbose=0).fit(X, CLASSES)


# --- Keras fit keywords kerasdml does not take -----------------------------------------------

_UNWEIGHTED = "kerasdml trains on unweighted samples"
REFUSED = {
    "class_weight": ({0: 1.0, 1: 2.0, 2: 1.0},
                     f"fit(): class_weight= is not supported: {_UNWEIGHTED}"),
    "sample_weight": (np.ones(48), f"fit(): sample_weight= is not supported: {_UNWEIGHTED}"),
    "callbacks": ([], "fit(): callbacks= is not supported: kerasdml runs no Keras callbacks "
                      "(checkpoints: weights_dir= in Keras2DML(...) and fit(..., resume=True))"),
    "initial_epoch": (1, "fit(): initial_epoch= is not supported: to continue training, give "
                         "weights_dir= to Keras2DML(...) and call fit(..., resume=True)"),
    "steps_per_epoch": (2, "fit(): steps_per_epoch= is not supported: an epoch is one pass "
                           "over every example given"),
    "validation_freq": (2, "fit(): validation_freq= is not supported: validation runs after "
                           "every epoch"),
    "epochs": (3, "fit() does not take epochs=: it is a parameter of the estimator; pass "
                  "epochs= to Keras2DML(...) (or set_params)"),
    "validation_split": (0.2, "fit() does not take validation_split=: it is a parameter of "
                              "the estimator; pass validation_split= to Keras2DML(...) "
                              "(or set_params)"),
    "bogus": (1, "fit() got an unexpected keyword argument 'bogus'"),
}


@pytest.mark.parametrize("keyword", sorted(REFUSED))
def test_keras_fit_keywords_kerasdml_does_not_take_are_refused(keyword):
    value, message = REFUSED[keyword]
    estimator = Keras2DML(mlp(optimizer="sgd", loss="sparse_categorical_crossentropy"),
                          verbose=0)
    with pytest.raises(CompileError, match=f"^{re.escape(message)}$") as raised:
        estimator.fit(X, CLASSES, **{keyword: value})
    assert isinstance(raised.value, TypeError)  # what Python raises for such a keyword
    assert not hasattr(estimator, "weights_")


@pytest.mark.parametrize("validation_data, message", [
    ((X[:8], CLASSES[:8], np.ones(8)), "validation_data=(x, y, sample_weight) is not "
                                       f"supported: {_UNWEIGHTED}; give validation_data=(x, y)"),
    ((X[:8],), "validation_data must be a tuple (x, y) of features and labels, got tuple of 1"),
], ids=["sample_weight", "one_array"])
def test_validation_data_other_than_a_pair_is_refused(validation_data, message):
    estimator = Keras2DML(mlp(optimizer="sgd", loss="sparse_categorical_crossentropy"),
                          verbose=0)
    with pytest.raises(CompileError, match=f"^{re.escape(message)}$"):
        estimator.fit(X, CLASSES, validation_data=validation_data)


# --- ties ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("labels", ["sparse", "one-hot"])
def test_accuracy_of_tied_probabilities_takes_the_first_class_as_keras_argmax(labels, tmp_path):
    # a zero last layer gives every class the same probability: Keras' argmax picks the first,
    # DML's rowIndexMax the last
    model = sequential((6,), L.Dense(3, activation="softmax", kernel_initializer="zeros"))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy"
                  if labels == "sparse" else "categorical_crossentropy", metrics=["accuracy"])
    y = np.zeros(48, dtype="int64") if labels == "sparse" else np.tile([1.0, 0, 0], (48, 1))
    estimator = assert_fits_like_keras(model, y, tmp_path, validation_split=0.25)
    assert estimator.history_["accuracy"] == [1.0, 1.0]


# --- Keras' own keywords of fit, predict and evaluate -----------------------------------------

def test_keras_keywords_of_fit_predict_and_evaluate_are_taken(tmp_path):
    """Keras code names the features x= (model.fit(x=x_train, y=y_train)), passes verbose=0
    to predict and evaluate, and unpacks evaluate's list (return_dict=False)."""
    model = mlp(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    estimator = Keras2DML(model, **SETTINGS).fit(x=X, y=CLASSES)
    history = model.fit(x=X, y=CLASSES, **SETTINGS).history
    for name, values in history.items():
        np.testing.assert_allclose(estimator.history_[name], values, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(estimator.predict(x=X, verbose=0, batch_size=7),
                               model.predict(x=X, verbose=0, batch_size=7), atol=1e-5)
    loss, accuracy = estimator.evaluate(x=X, y=CLASSES, verbose=0, return_dict=False)
    np.testing.assert_allclose([loss, accuracy], model.evaluate(x=X, y=CLASSES, verbose=0),
                               atol=1e-5)
    assert estimator.score(x=X, y=CLASSES) == accuracy
    plain = mlp(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    only_loss = Keras2DML(plain, **SETTINGS).fit(X, CLASSES)
    plain.fit(X, CLASSES, **SETTINGS)
    np.testing.assert_allclose(only_loss.evaluate(X, CLASSES, return_dict=False),
                               plain.evaluate(X, CLASSES, verbose=0), atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda e: e.evaluate(X, CLASSES, sample_weight=np.ones(48)),
     f"evaluate(): sample_weight= is not supported: {_UNWEIGHTED}"),
    (lambda e: e.predict(X, steps=2), "predict(): steps= is not supported: scoring takes "
                                      "every example given"),
    (lambda e: e.predict(X, x=X), "predict() got the features twice, as X and as x="),
    (lambda e: e.fit(y=CLASSES), "fit() needs the features: fit(X, ...) or x="),
], ids=["evaluate_sample_weight", "predict_steps", "twice", "none"])
def test_keras_scoring_keywords_kerasdml_does_not_take_are_refused(call, message):
    model = mlp(optimizer="sgd", loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=0, verbose=0).fit(X, CLASSES)
    with pytest.raises(CompileError, match=f"^{re.escape(message)}$"):
        call(estimator)


# --- several outputs: each output's loss is the mean over the batches ---------------------------

@pytest.mark.parametrize("eager", [False, True])
def test_each_output_loss_is_the_mean_of_its_batches_as_keras_reports_it(eager, tmp_path):
    """40 examples in batches of 16 (the last of 8): Keras' TensorFlow backend weighs each
    batch's <output>_loss by the batch's static size, None, so the last batch counts as much
    as a whole one, in fit, validation and evaluate (batches of 32); `loss` is the rows' mean.
    Compiled with run_eagerly=True, the size is known: the means over the rows."""
    model = two_outputs(optimizer=keras.optimizers.SGD(0.1),
                        loss=["sparse_categorical_crossentropy", "mse"],
                        metrics=[["accuracy"], ["mae"]], run_eagerly=eager)
    targets = [CLASSES[:40], VALUES[:40]]
    estimator = assert_fits_like_keras(model, targets, tmp_path, x=X[:40], fit=dict(
        validation_data=(X[:24], [CLASSES[:24], VALUES[:24]])))
    for name, value in model.evaluate(X[:40], targets, verbose=0, return_dict=True).items():
        np.testing.assert_allclose(estimator.evaluate(X[:40], targets)[name], value,
                                   rtol=1e-5, err_msg=name)


# --- optimizer settings Keras' config leaves out ------------------------------------------------

@pytest.mark.parametrize("given", ["compiled", "optimizer="])
def test_weights_excluded_from_weight_decay_are_refused(given):
    """exclude_from_weight_decay is not in the optimizer's config: kerasdml would decay the
    biases that Keras spares (1.8e-3 apart after two epochs of AdamW)."""
    optimizer = keras.optimizers.AdamW(0.01, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    message = ("optimizer AdamW: exclude_from_weight_decay(...) is not supported: kerasdml "
               "would decay the weights it excludes; compile without the exclusion (or with "
               "weight_decay=None)")
    if given == "compiled":
        estimator = Keras2DML(mlp(optimizer=optimizer, loss="sparse_categorical_crossentropy"),
                              **SETTINGS)
    else:
        estimator = Keras2DML(mlp(optimizer="sgd", loss="sparse_categorical_crossentropy"),
                              optimizer=optimizer, **SETTINGS)
    with pytest.raises(TrainingConfigError, match=f"^{re.escape(message)}$"):
        estimator.fit(X, CLASSES)


def test_metrics_of_one_output_by_its_name_are_taken_as_keras_takes_them(tmp_path):
    """compile(metrics={"out": ["accuracy"]}) on a model with one output: Keras reports
    `accuracy`; kerasdml read "out" as a metric's name."""
    model = randomize(sequential((6,), L.Dense(5, activation="tanh"),
                                 L.Dense(3, activation="softmax", name="out")), scale=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics={"out": ["accuracy", "sparse_categorical_crossentropy"]})
    assert_fits_like_keras(model, CLASSES, tmp_path, validation_split=0.25)


def test_batch_size_none_is_keras_default_of_32(tmp_path):
    model = mlp(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    assert_fits_like_keras(model, CLASSES, tmp_path, batch_size=None)


def test_what_fit_returns_has_keras_history_attribute():
    """Keras code keeps fit's History: `history = model.fit(...)`, then history.history."""
    model = mlp(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, **SETTINGS)
    assert not hasattr(estimator, "history")
    history = estimator.fit(X, CLASSES)
    keras_history = model.fit(X, CLASSES, **SETTINGS)
    np.testing.assert_allclose(history.history["loss"], keras_history.history["loss"],
                               rtol=1e-5)
