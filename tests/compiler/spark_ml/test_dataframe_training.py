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


def test_paramserv_trains_on_spark_workers_from_the_dataframe(spark, data):
    from kerasdml.runtime.paramserv.run import LAST_RUN
    from kerasdml.runtime.spark.runtime import SparkRuntime

    X, y, df = data
    runtime = SparkRuntime(spark.sparkContext, block=300, memory_budget=BUDGET)
    estimator = _estimator(runtime, epochs=2, train_algo="paramserv", workers=2)
    estimator.fit(df.repartition(2), validation_data=df.limit(100))
    assert LAST_RUN["mode"] == "REMOTE_SPARK" and LAST_RUN["workers"] == 2
    assert runtime.collected.largest <= BUDGET       # validation outputs, not the data
    assert estimator.history_["loss"][1] < estimator.history_["loss"][0]
    assert estimator.score(X, y) > 0.6               # chance is 1/3


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


def test_kerasdml_fit_trains_on_parquet(spark, data, tmp_path, capsys):
    from kerasdml.compiler.cli import main

    X, y, df = data
    df.limit(400).write.parquet(str(tmp_path / "train.parquet"))
    model = tmp_path / "model.keras"
    _model().save(model)
    common = ["fit", str(model), "--data", str(tmp_path / "train.parquet"), "--master",
              "local[2]", "--batch-size", "200", "--quiet"]
    assert main(common + ["-o", str(tmp_path / "trained.keras")]) == 0
    assert "wrote" in capsys.readouterr().out
    keras.models.load_model(tmp_path / "trained.keras")
    assert main(common + ["--label-col", "digit", "-o", str(tmp_path / "no.keras")]) == 1
    assert "column 'digit' is missing" in capsys.readouterr().err
    assert not (tmp_path / "no.keras").exists()


def test_the_parquet_example_trains_the_lenet_with_paramserv(spark, tmp_path, monkeypatch, capsys):
    import runpy
    from pathlib import Path

    root = Path(__file__).parents[3]
    mnist = root.parent / "shared" / "data" / "mnist.npz"
    if not mnist.is_file():
        pytest.skip(f"needs {mnist}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["mnist_lenet_parquet.py", str(mnist), "--rows", "200",
                                     "--test-rows", "100", "--workers", "2"])
    runpy.run_path(str(root / "examples" / "mnist_lenet_parquet.py"), run_name="__main__")
    assert "epoch(s) of paramserv" in capsys.readouterr().out
    keras.models.load_model(tmp_path / "mnist_lenet_parquet.keras")
