"""KerasDMLModel.transform on a real local Spark: Keras' predictions beside every kept column,
several inputs, image-schema rows, the per-partition path of CompiledModel.predict, and bad
input reported before any job or with the row's position."""
from __future__ import annotations

import io

import numpy as np
import pytest

from support.scoring_data import keras_predict, rows

pytestmark = pytest.mark.slow

from kerasdml.compiler.compile import compile_model  # noqa: E402
from kerasdml.runtime.spark.arrow_columns import RowInputError  # noqa: E402


def _frame(spark, x, partitions=3):
    data = [(int(i), f"row{i}", x[i].tolist()) for i in range(len(x))]
    return spark.createDataFrame(data, "id long, name string, features array<float>") \
        .repartition(partitions)


def _scorer(**params):
    from kerasdml.compiler.spark_ml import KerasDMLModel
    return KerasDMLModel(**params)


def test_transform_adds_class_and_probabilities_and_keeps_every_column(spark, classifier_file):
    x = rows(40, 6)
    scored = _scorer(model=str(classifier_file), probabilityCol="probability") \
        .transform(_frame(spark, x))
    assert scored.columns == ["id", "name", "features", "prediction", "probability"]
    got = sorted(scored.collect(), key=lambda r: r.id)
    expected = keras_predict(classifier_file, x)
    np.testing.assert_allclose([r.probability for r in got], expected, atol=1e-5)
    assert [r.prediction for r in got] == list(expected.argmax(axis=1).astype(float))
    assert [r.name for r in got] == [f"row{i}" for i in range(40)]


def test_a_model_with_two_inputs_reads_two_columns(spark, two_input_file):
    a, b = rows(20, 3, seed=1), rows(20, 5, seed=2)
    df = spark.createDataFrame([(i, a[i].tolist(), b[i].tolist()) for i in range(20)],
                               "id int, a array<double>, b array<float>")
    scored = _scorer(model=str(two_input_file), inputCols=["a", "b"], outputCol="y",
                     precision="double").transform(df)
    got = np.array([r.y for r in sorted(scored.collect(), key=lambda r: r.id)])
    np.testing.assert_allclose(got, keras_predict(two_input_file, [a, b]), atol=1e-5)


def test_image_schema_rows_are_scored_as_rgb_images(spark, image_file):
    rgb = np.random.default_rng(3).integers(0, 256, size=(6, 6, 5, 3), dtype=np.uint8)
    images = [(i, ("", 6, 5, 3, 16, bytearray(image[..., ::-1].tobytes())))
              for i, image in enumerate(rgb)]
    schema = ("id int, image struct<origin:string, height:int, width:int, nChannels:int, "
              "mode:int, data:binary>")
    scored = _scorer(model=str(image_file), inputCols=["image"], probabilityCol="p") \
        .transform(spark.createDataFrame(images, schema))
    got = np.array([r.p for r in sorted(scored.collect(), key=lambda r: r.id)])
    np.testing.assert_allclose(got, keras_predict(image_file, rgb.astype(np.float32)),
                               rtol=1e-4, atol=1e-5)


def test_depthwise_and_separable_convolutions_score_per_partition(spark, mobilenet_file):
    x = rows(24, 8 * 8 * 3, seed=5)
    scored = _scorer(model=str(mobilenet_file), probabilityCol="probability",
                     precision="double").transform(_frame(spark, x))
    got = np.array([r.probability for r in sorted(scored.collect(), key=lambda r: r.id)])
    np.testing.assert_allclose(got, keras_predict(mobilenet_file, x.reshape(-1, 8, 8, 3)),
                               atol=1e-5)
    # the local runtime's, up to the float column's rounding
    np.testing.assert_allclose(got, compile_model(mobilenet_file).predict(x), rtol=1e-7)


def test_compiled_predict_on_a_dataframe_runs_per_partition_and_says_why(spark, classifier_file):
    x = rows(30, 6, seed=4)
    df = spark.createDataFrame([(r.tolist(),) for r in x], "features array<float>")
    compiled = compile_model(classifier_file)
    explain = io.StringIO()
    got = compiled.predict(df, spark=spark, explain=explain)
    assert "PARTITIONS (mapInArrow" in explain.getvalue() and "row-local" in explain.getvalue()
    np.testing.assert_allclose(got, compiled.predict(x), rtol=0, atol=1e-12)  # double precision
    explain = io.StringIO()
    blocks = compiled.predict(df, spark=spark, scoring="blocks", explain=explain)
    assert "BLOCKS" in explain.getvalue()
    np.testing.assert_allclose(blocks, got, atol=1e-12)


@pytest.mark.parametrize("column, schema, message", [
    ("missing", "features array<float>", r"column 'missing' is missing \(expected array<float>"
     r" \(or another number type\) of 6 values per row; the DataFrame has features\)"),
    ("features", "features string", "column 'features' is string; expected array<float>"),
], ids=["missing-column", "wrong-type"])
def test_a_wrong_column_is_refused_before_any_job(spark, classifier_file, column, schema,
                                                  message):
    df = spark.createDataFrame([("x",) if "string" in schema else ([0.0] * 6,)], schema)
    with pytest.raises(RowInputError, match=message):
        _scorer(model=str(classifier_file), inputCols=[column]).transform(df)


def test_a_row_of_the_wrong_length_fails_the_job_naming_its_position(spark, classifier_file):
    data = [([0.5] * 6,)] * 5 + [([0.5] * 5,)]
    df = spark.createDataFrame(data, "features array<float>").coalesce(1)
    with pytest.raises(Exception, match="column 'features', row 5 of partition 0 has 5 values; "
                                        "expected 6"):
        _scorer(model=str(classifier_file)).transform(df).collect()


def test_an_output_column_that_exists_is_refused(spark, classifier_file):
    df = spark.createDataFrame([([0.0] * 6, 1.0)], "features array<float>, prediction double")
    with pytest.raises(RowInputError, match="output column 'prediction' already exists"):
        _scorer(model=str(classifier_file)).transform(df)
