"""The stages inside spark.ml: a Pipeline with KerasDMLEstimator fits and scores, saves and loads
with spark.ml's writers (scripts and weights inside the folder), and a streaming DataFrame is
scored as the batch one is."""
from __future__ import annotations

import numpy as np
import pytest

from support.scoring_data import keras_predict, rows

pytestmark = pytest.mark.slow

pytest.importorskip("pyspark")
from pyspark.ml import Pipeline, PipelineModel  # noqa: E402

from kerasdml.compiler.spark_ml import KerasDMLEstimator, KerasDMLModel  # noqa: E402

SCHEMA = "id long, features array<float>, label double"


def _labelled(spark, count=60, seed=5):
    x = rows(count, 6, seed)
    labels = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    return x, spark.createDataFrame([(i, x[i].tolist(), float(labels[i])) for i in range(count)],
                                    SCHEMA)


def _probabilities(df):
    return np.array([r.probability for r in sorted(df.collect(), key=lambda r: r.id)])


def test_a_fitted_pipeline_saves_and_loads_with_its_scripts(spark, classifier_file, tmp_path):
    x, df = _labelled(spark)
    estimator = KerasDMLEstimator(model=str(classifier_file), epochs=2, batchSize=20, seed=1,
                                  probabilityCol="probability")
    fitted = Pipeline(stages=[estimator]).fit(df)
    scorer = fitted.stages[0]
    assert isinstance(scorer, KerasDMLModel)
    trained = keras_predict(scorer.getModel(), x)
    assert not np.allclose(trained, keras_predict(classifier_file, x))  # training moved it
    scored = _probabilities(fitted.transform(df))
    np.testing.assert_allclose(scored, trained, atol=1e-5)

    fitted.write().overwrite().save(str(tmp_path / "pipeline"))
    stage = next((tmp_path / "pipeline" / "stages").iterdir())
    assert {"predict.dml", "weights.h5"} <= {p.name for p in (stage / "dml").iterdir()}
    loaded = PipelineModel.load(str(tmp_path / "pipeline"))
    assert loaded.stages[0].getProbabilityCol() == "probability"
    np.testing.assert_array_equal(_probabilities(loaded.transform(df)), scored)


def test_a_keras_model_object_is_saved_into_the_folder(spark, classifier_file, tmp_path):
    import keras

    x, df = _labelled(spark, 10)
    scorer = KerasDMLModel(model=keras.models.load_model(classifier_file),
                           probabilityCol="probability")
    scorer.write().save(str(tmp_path / "scorer"))
    with pytest.raises(FileExistsError):
        scorer.write().save(str(tmp_path / "scorer"))
    loaded = KerasDMLModel.load(str(tmp_path / "scorer"))
    np.testing.assert_array_equal(_probabilities(loaded.transform(df)),
                                  _probabilities(scorer.transform(df)))


def test_a_streaming_source_is_scored_as_the_batch_one(spark, classifier_file, tmp_path):
    x, df = _labelled(spark, 30)
    incoming = tmp_path / "incoming"
    df.limit(12).write.parquet(str(incoming / "part1"))  # two files arrive in the folder
    df.subtract(df.limit(12)).write.parquet(str(incoming / "part2"))
    stream = spark.readStream.schema(SCHEMA).parquet(str(incoming / "*"))
    scorer = KerasDMLModel(model=str(classifier_file), probabilityCol="probability")
    scored = scorer.transform(stream)
    assert scored.isStreaming
    query = (scored.writeStream.format("memory").queryName("scored_stream")
             .trigger(availableNow=True).start())
    query.awaitTermination()
    streamed = spark.table("scored_stream")
    assert streamed.count() == 30
    np.testing.assert_array_equal(_probabilities(streamed), _probabilities(scorer.transform(df)))


def test_fit_reads_the_columns_on_the_executors_and_names_a_bad_one(spark, classifier_file):
    from kerasdml.compiler.training.data import DataError

    x, df = _labelled(spark, 20)
    estimator = KerasDMLEstimator(model=str(classifier_file), labelCol="class")
    assert estimator.getOrDefault(estimator.trainer) == "executors"
    with pytest.raises(DataError, match="column 'class' is missing"):
        estimator.fit(df)
    bad = df.withColumn("label", df.label + 10)
    with pytest.raises(DataError, match=r"column 'label', rows 0-\d+ of partition \d+: .*classes in \[0, 3\]"):
        KerasDMLEstimator(model=str(classifier_file)).fit(bad)
