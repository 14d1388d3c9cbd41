"""Keras2DML trained from a Spark DataFrame (fit(df), score(df)) on a real local Spark: the
training set is larger than the driver's memory budget and never reaches the driver (the Spark
runtime's count of collected matrices says so), and the result is the one numpy data gives."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

keras = pytest.importorskip("keras")

ROWS, WIDTH, CLASSES = 1200, 40, 3
BUDGET = 100_000          # bytes: the features alone are 384,000


@pytest.fixture(scope="module")
def data(spark):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, WIDTH))
    y = (X @ rng.normal(size=(WIDTH, CLASSES))).argmax(axis=1)
    df = spark.createDataFrame([(X[i].tolist(), int(y[i])) for i in range(ROWS)],
                               ["features", "label"])
    return X, y, df


_MODEL: list = []


def _model():
    """One softmax regression for every test (its weights and names the same in each)."""
    if not _MODEL:
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((WIDTH,)),
                                  keras.layers.Dense(CLASSES, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
        _MODEL.append(model)
    return _MODEL[0]


def _estimator(runtime, **options):
    from kerasdml.compiler.estimator import Keras2DML

    settings = dict(epochs=1, batch_size=200, seed=5, learning_rate=0.5, verbose=0)
    return Keras2DML(_model(), spark=runtime, **{**settings, **options})


def test_fit_on_a_dataframe_larger_than_the_budget_never_collects_it(spark, data):
    from kerasdml.runtime.spark.runtime import SparkRuntime

    X, y, df = data
    assert X.nbytes > 3 * BUDGET
    runtime = SparkRuntime(spark.sparkContext, block=300, memory_budget=BUDGET)
    from_df = _estimator(runtime, shuffle=False).fit(df, validation_data=df.limit(200))
    seen = runtime.collected
    assert 0 < seen.largest <= BUDGET            # batches and outputs, never the data set
    assert seen.largest < X.nbytes // 3
    from_numpy = _estimator(None, shuffle=False).fit(X, y)
    for name, weight in from_numpy.weights_.items():      # the same batches in the same order
        np.testing.assert_allclose(from_df.weights_[name], weight, rtol=1e-9, atol=1e-12)
    assert from_df.score(df) == pytest.approx(from_numpy.score(X, y))
    assert set(from_df.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_shuffled_epochs_train(spark, data):
    from kerasdml.runtime.spark.runtime import SparkRuntime

    X, y, df = data
    runtime = SparkRuntime(spark.sparkContext, block=300, memory_budget=BUDGET)
    estimator = _estimator(runtime, epochs=2).fit(df.repartition(3))
    assert runtime.collected.largest <= BUDGET
    assert estimator.history_["loss"][1] < estimator.history_["loss"][0]
    assert estimator.score(X, y) > 0.6               # chance is 1/3


def _label_renamed(df):
    return df.withColumnRenamed("label", "target")


def _text_features(df):
    from pyspark.sql import functions as F
    return df.withColumn("features", F.lit("pixels"))


@pytest.mark.parametrize("options, change, message", [
    ({}, _label_renamed, "column 'label' is missing"),
    ({}, _text_features, "column 'features' is string"),
    ({"train_algo": "batch"}, None, "train_algo='batch' reads the whole training set"),
    ({"validation_split": 0.1}, None, "validation_split takes the last rows"),
], ids=["missing-label", "text-features", "batch-algo", "validation-split"])
def test_bad_training_frames_fail_before_training(spark, data, options, change, message):
    from kerasdml.compiler.training.data import DataError

    df = data[2].limit(10)
    with pytest.raises(DataError, match=message):
        _estimator(None, **options).fit(change(df) if change else df)
