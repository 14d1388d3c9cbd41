"""SystemML's Python MLContext (kerasdml.runtime.mlcontext) on the runtime: inputs, $arguments,
outputs as Matrix objects or scalars, files with sources, statistics, and Spark DataFrames."""
import numpy as np
import pytest

from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.mlcontext import Matrix, MLContext, dml, dmlFromFile

X = np.arange(6, dtype=np.float64).reshape(2, 3)


def test_inputs_arguments_and_outputs_as_systemml_returned_them():
    ml = MLContext()
    script = dml("Y = X %*% t(X) * $k; s = sum(Y); name = $who").input(X=X).input("$k", 2) \
        .input("$who", "me").output("Y", "s", "name")
    results = ml.execute(script)
    Y = results.get("Y")
    assert isinstance(Y, Matrix)
    np.testing.assert_array_equal(Y.toNumPy(), X @ X.T * 2)
    assert results.get("s") == pytest.approx(float(np.sum(X @ X.T * 2)))
    assert results.get("name") == "me"
    matrix, total = results.get("Y", "s")
    assert total == results.get("s") and matrix.toNumPy().shape == (2, 2)
    frame = Y.toPandas()
    assert list(frame.columns) == ["C1", "C2"] and np.array_equal(frame.to_numpy(), Y.toNumPy())
    assert script.getInputVariables() == ["X", "$k", "$who"]


def test_a_script_file_sources_relative_to_itself(tmp_path):
    (tmp_path / "lib.dml").write_text("twice = function(double x) return (double y) { y = 2 * x }")
    (tmp_path / "main.dml").write_text('source("lib.dml") as lib\nz = lib::twice($x)\n')
    results = MLContext().execute(dmlFromFile(tmp_path / "main.dml").input("$x", 4.5).output("z"))
    assert results.get("z") == 9.0


def test_statistics_explain_and_clear_errors(capsys):
    ml = MLContext().setStatistics(True)
    assert ml.isStatistics() and not ml.isExplain()
    ml.execute(dml("s = sum(X)").input(X=X).output("s"))
    assert "Heavy hitter operations" in capsys.readouterr().out
    with pytest.raises(DMLRuntimeError, match="not an output"):
        MLContext().execute(dml("s = 1").output("s")).get("t")
    with pytest.raises(DMLRuntimeError, match="needs a Spark session"):
        MLContext().execute(dml("Y = X").input(X=X).output("Y")).get("Y").toDF()
    with pytest.raises(ValueError, match="SparkSession"):
        MLContext(42)
    assert MLContext().setGPU(True) is not None
    assert "no GPU backend" in capsys.readouterr().err


@pytest.mark.slow
def test_with_a_spark_session_results_convert_to_dataframes(spark):
    ml = MLContext(spark)
    frame = spark.createDataFrame([(1.0, 2.0), (3.0, 4.0)], ["a", "b"])
    Y = ml.execute(dml("Y = X * 2").input(X=frame).output("Y")).get("Y")
    np.testing.assert_array_equal(Y.toNumPy(), [[2.0, 4.0], [6.0, 8.0]])
    rows = Y.toDF().orderBy("__INDEX").collect()
    assert [tuple(row) for row in rows] == [(1.0, 2.0, 4.0), (2.0, 6.0, 8.0)]
    assert MLContext(spark.sparkContext)._spark is not None
