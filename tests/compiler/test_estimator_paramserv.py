"""Keras2DML(train_algo="paramserv"): the generated train.dml calls DML's paramserv.

One BSP worker per batch makes the same updates as minibatch (same batches, mean gradients,
dropout seeds, optimizer state, BatchNorm's moving statistics), so the weights must agree;
more workers must still learn. BatchNorm's moving statistics move by the mean over the workers
of how each worker's batches moved them, at every exchange frequency."""
from __future__ import annotations

import math

import numpy as np
import pytest

from support.keras_models import keras, randomize, sequential
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(5)
X = RNG.normal(size=(120, 6)).astype("float32")
CLASSES = (X @ RNG.normal(size=(6, 3))).argmax(axis=1)


def mlp(optimizer="adam", dropout=True, batch_norm=False):
    layers = [L.Dense(16, activation="relu")] \
        + ([L.BatchNormalization(momentum=0.8)] if batch_norm else []) \
        + ([L.Dropout(0.2)] if dropout else [])
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




def convolution_with_batch_norm():
    """BatchNorm over channels (batch_norm2d) on the features seen as 2 x 3 images."""
    model = randomize(sequential((2, 3, 1), L.Conv2D(4, 2, padding="same"),
                                 L.BatchNormalization(momentum=0.8), L.Flatten(),
                                 L.Dense(3, activation="softmax"), name="conv"), scale=0.5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def assert_same_weights(trained, reference):
    assert trained.weights_.keys() == reference.weights_.keys()
    for name, weights in reference.weights_.items():
        np.testing.assert_allclose(trained.weights_[name], weights, rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("optimizer", ["adam", keras.optimizers.SGD(0.05, momentum=0.9)])
def test_one_bsp_worker_makes_minibatchs_updates_of_batch_norm(optimizer):
    model = mlp(optimizer, batch_norm=True)
    reference = fitted(model)
    trained = fitted(model, train_algo="paramserv", workers=1)
    assert any("ema_mean" in name for name in trained.weights_)
    assert_same_weights(trained, reference)
    np.testing.assert_allclose(trained.history_["loss"], reference.history_["loss"], atol=1e-10)


def test_one_bsp_worker_makes_minibatchs_updates_of_batch_norm_over_channels():
    images = X.reshape(-1, 2, 3, 1)
    model = convolution_with_batch_norm()
    options = dict(epochs=2, batch_size=16, seed=3, shuffle=False, verbose=0)
    reference = Keras2DML(model, **options).fit(images, CLASSES)
    trained = Keras2DML(model, train_algo="paramserv", workers=1, **options).fit(images, CLASSES)
    assert_same_weights(trained, reference)


@pytest.mark.parametrize("frequency", ["epoch", 3])
def test_one_worker_exchanging_less_often_trains_as_minibatch(frequency):
    """Between exchanges the worker updates its model batch by batch as minibatch does, and the
    server takes the mean of the workers' models (modelAvg): with one worker, minibatch's
    weights and statistics."""
    model = mlp(batch_norm=True)
    options = dict(epochs=2, batch_size=10, seed=3, shuffle=False, verbose=0)
    reference = Keras2DML(model, **options).fit(X, CLASSES)
    trained = Keras2DML(model, train_algo="paramserv", workers=1, frequency=frequency,
                        **options).fit(X, CLASSES)
    assert "modelAvg=model_average" in trained.get_training_script()
    assert_same_weights(trained, reference)


# --- BatchNorm's moving statistics at every exchange frequency -------------------------------

MOMENTUM = 0.9
ROWS = 101      # 2 workers: 51 and 50 rows; exchanging every batch 6 and 5 batches of 10


def statistics_model():
    """BatchNorm right after the input: its batch statistics depend on the data only, so the
    moving statistics of any schedule of exchanges can be computed here."""
    model = randomize(sequential((6,), L.BatchNormalization(momentum=MOMENTUM),
                                 L.Dense(3, activation="softmax"), name="statistics"))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def expected_statistics(data, workers, frequency, epochs, batch_size, mean, variance):
    """paramserv's BSP rounds on contiguous partitions: in round r every worker with an r-th
    segment moves the statistics batch by batch from the model's; the model takes their mean.
    Exchanging every batch, a worker's batch is its share of batch_size; otherwise all of it."""
    mean, variance = np.float64(mean), np.float64(variance)
    batches_per_exchange = FREQUENCIES.get(frequency, frequency)
    block = math.ceil(len(data) / workers)
    size = math.ceil(batch_size / workers) if frequency == "batch" else batch_size
    segments = []
    for part in (data[start:start + block] for start in range(0, len(data), block)):
        batches = [part[i:i + size] for i in range(0, len(part), size)]
        per = batches_per_exchange or len(batches)
        segments.append([batches[i:i + per] for i in range(0, len(batches), per)])
    for _ in range(epochs):
        for r in range(max(len(s) for s in segments)):
            moved = []
            for segment in (s[r] for s in segments if r < len(s)):
                m, v = mean, variance
                for batch in segment:
                    m = MOMENTUM * m + (1 - MOMENTUM) * batch.mean(axis=0)
                    v = MOMENTUM * v + (1 - MOMENTUM) * batch.var(axis=0)
                moved.append((m, v))
            mean = np.mean([m for m, _ in moved], axis=0)
            variance = np.mean([v for _, v in moved], axis=0)
    return mean, variance


def statistic(estimator, which: str) -> np.ndarray:
    """The trained moving mean or variance of the model's one BatchNorm layer."""
    found = [value for name, value in estimator.weights_.items() if name.endswith(f"_ema_{which}")]
    assert len(found) == 1
    return found[0].ravel()


FREQUENCIES = {"batch": 1, "epoch": None}


@pytest.mark.parametrize("workers, frequency", [
    (1, "batch"), (2, "batch"), (3, "batch"), (1, 3), (2, 2), (2, 5), (3, 2), (1, "epoch"),
    (2, "epoch")])
def test_moving_statistics_are_the_workers_mean_at_every_frequency(workers, frequency):
    model = statistics_model()
    data = X[:ROWS].astype(np.float64)
    estimator = Keras2DML(model, epochs=2, batch_size=20, shuffle=False, verbose=0,
                          train_algo="paramserv", workers=workers, frequency=frequency)
    estimator.fit(data, CLASSES[:ROWS])
    layer = model.layers[0]
    expected = expected_statistics(data, workers, frequency, 2, 20,
                                   np.asarray(layer.moving_mean), np.asarray(layer.moving_variance))
    np.testing.assert_allclose(statistic(estimator, "mean"), expected[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(statistic(estimator, "var"), expected[1], rtol=0, atol=1e-12)


def test_asp_applies_each_workers_change_of_the_statistics():
    model = statistics_model()
    data = X[:ROWS].astype(np.float64)
    estimator = Keras2DML(model, epochs=1, batch_size=20, shuffle=False, verbose=0,
                          train_algo="paramserv", workers=1, sync="ASP", frequency=2)
    estimator.fit(data, CLASSES[:ROWS])
    layer = model.layers[0]
    mean, _ = expected_statistics(data, 1, 2, 1, 20, np.asarray(layer.moving_mean),
                                  np.asarray(layer.moving_variance))
    np.testing.assert_allclose(statistic(estimator, "mean"), mean, rtol=0, atol=1e-12)


@pytest.mark.parametrize("options", [dict(workers=2), dict(workers=2, sync="ASP"),
                                     dict(workers=2, frequency=3)])
def test_several_workers_learn_with_batch_norm(options):
    estimator = Keras2DML(mlp(keras.optimizers.Adam(0.02), dropout=False, batch_norm=True),
                          epochs=8, batch_size=20, seed=1, verbose=0, train_algo="paramserv",
                          **options).fit(X, CLASSES)
    assert estimator.history_["loss"][-1] < estimator.history_["loss"][0]
    # predict normalises with the moving statistics the workers carried to the server
    assert estimator.score(X, CLASSES) > 0.75


# --- several inputs ---------------------------------------------------------------------------

def two_inputs(open_length: bool = False):
    """A vector input and a 2 x 2 image input (channels first in the script), or a token
    sequence of open length."""
    keras.utils.set_random_seed(2)
    vector = keras.Input((4,), name="vector")
    if open_length:
        other = keras.Input((None,), name="tokens")
        branch = L.GlobalAveragePooling1D()(L.Embedding(7, 3)(other))
    else:
        other = keras.Input((2, 2, 2), name="image")
        branch = L.Flatten()(L.Conv2D(3, 2, activation="relu")(other))
    joined = L.Concatenate()([L.Dense(5, activation="tanh")(vector), branch])
    model = keras.Model([vector, other], L.Dense(3, activation="softmax")(joined))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def two_input_data(open_length: bool = False):
    rng = np.random.default_rng(4)
    vector = rng.normal(size=(len(X), 4))
    other = rng.integers(0, 7, size=(len(X), 5)) if open_length else \
        rng.normal(size=(len(X), 2, 2, 2))
    labels = (vector[:, :3] + X[:, :3]).argmax(axis=1)
    return {"vector": vector, "tokens" if open_length else "image": other}, labels


@pytest.mark.parametrize("open_length", [False, True], ids=["image", "open length"])
def test_one_bsp_worker_trains_two_inputs_as_minibatch(open_length):
    model = two_inputs(open_length)
    inputs, labels = two_input_data(open_length)
    options = dict(epochs=2, batch_size=12, seed=3, shuffle=False, verbose=0)
    reference = Keras2DML(model, **options).fit(inputs, labels)
    trained = Keras2DML(model, train_algo="paramserv", workers=1, **options).fit(inputs, labels)
    assert_same_weights(trained, reference)
    np.testing.assert_allclose(trained.history_["loss"], reference.history_["loss"], atol=1e-10)


def test_two_workers_learn_two_inputs():
    model = two_inputs()
    inputs, labels = two_input_data()
    estimator = Keras2DML(model, epochs=6, batch_size=20, seed=1, verbose=0,
                          train_algo="paramserv", workers=2).fit(list(inputs.values()), labels)
    assert estimator.history_["loss"][-1] < estimator.history_["loss"][0]


def test_the_update_function_cuts_the_inputs_apart():
    script = Keras2DML(two_inputs(True), train_algo="paramserv").get_training_script()
    assert "features = cbind(X_vector, X_tokens)" in script
    assert "vector = features[, 1:4]" in script
    assert 'tokens = features[, 5:5 + as.integer(as.scalar(hyperparams["columns_X_tokens"])) - 1]' \
        in script
    assert "columns_X_tokens=ncol(X_tokens)" in script


# --- on Spark: REMOTE_SPARK workers carry the same changes ------------------------------------

@pytest.mark.slow
def test_spark_workers_move_the_statistics_as_local_ones(spark):
    """Two Spark tasks, 5 batches per exchange (a last round of one worker's one batch), two
    epochs: the statistics the schedule gives, and the LOCAL run's weights."""
    from kerasdml.runtime.paramserv.run import LAST_RUN

    model = statistics_model()
    data = X[:ROWS].astype(np.float64)
    options = dict(epochs=2, batch_size=20, shuffle=False, verbose=0, train_algo="paramserv",
                   workers=2, frequency=5)
    on_spark = Keras2DML(model, spark=spark, **options).fit(data, CLASSES[:ROWS])
    assert LAST_RUN["mode"] == "REMOTE_SPARK" and LAST_RUN["workers"] == 2
    layer = model.layers[0]
    mean, variance = expected_statistics(data, 2, 5, 2, 20, np.asarray(layer.moving_mean),
                                         np.asarray(layer.moving_variance))
    np.testing.assert_allclose(statistic(on_spark, "mean"), mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(statistic(on_spark, "var"), variance, rtol=0, atol=1e-12)
    local = Keras2DML(model, **options).fit(data, CLASSES[:ROWS])
    assert_same_weights(on_spark, local)


SPARK_CASES = {
    "batch norm": lambda: (mlp(batch_norm=True), X, CLASSES, dict(frequency=2)),
    "two inputs": lambda: (two_inputs(), *two_input_data(), dict()),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SPARK_CASES))
def test_spark_workers_train_as_local_ones(case, spark):
    from kerasdml.runtime.paramserv.run import LAST_RUN

    model, features, targets, exchange = SPARK_CASES[case]()
    options = dict(epochs=2, batch_size=10, seed=3, shuffle=False, verbose=0,
                   train_algo="paramserv", workers=2, **exchange)
    local = Keras2DML(model, **options).fit(features, targets)
    on_spark = Keras2DML(model, spark=spark, **options).fit(features, targets)
    assert LAST_RUN["mode"] == "REMOTE_SPARK"
    assert_same_weights(on_spark, local)
    np.testing.assert_allclose(on_spark.history_["loss"], local.history_["loss"], atol=1e-10)
