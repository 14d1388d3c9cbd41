"""`kerasdml predict MODEL --input data.parquet --output out.parquet`: parquet in, parquet out
written by the executors, kept columns beside the predictions; a bad row fails the command
with its position and leaves no output behind."""
from __future__ import annotations

import numpy as np
import pytest

from support.scoring_data import keras_predict, rows

pytestmark = pytest.mark.slow

from kerasdml.compiler.cli import main  # noqa: E402


def _table(spark, path, x):
    spark.createDataFrame([(int(i), f"r{i}", x[i].tolist()) for i in range(len(x))],
                          "id long, tag string, features array<float>").repartition(2) \
        .write.parquet(str(path))


def test_predict_scores_parquet_into_parquet(spark, classifier_file, tmp_path, capsys):
    x = rows(25, 6, seed=11)
    _table(spark, tmp_path / "in.parquet", x)
    status = main(["predict", str(classifier_file), "--master", "local[2]", "--input",
                   str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.parquet"),
                   "--keep-cols", "id", "--probability-col", "probability", "--explain"])
    assert status == 0
    assert "PARTITIONS (mapInArrow" in capsys.readouterr().out
    out = spark.read.parquet(str(tmp_path / "out.parquet"))
    assert out.columns == ["id", "prediction", "probability"]
    got = sorted(out.collect(), key=lambda r: r.id)
    np.testing.assert_allclose([r.probability for r in got], keras_predict(classifier_file, x),
                               atol=1e-5)


def test_a_bad_row_fails_with_its_position_and_leaves_no_output(spark, classifier_file,
                                                                 tmp_path, capsys):
    spark.createDataFrame([([0.0] * 6,)] * 3 + [([0.0] * 7,)], "features array<float>") \
        .coalesce(1).write.parquet(str(tmp_path / "bad.parquet"))
    status = main(["predict", str(classifier_file), "--master", "local[2]", "--input",
                   str(tmp_path / "bad.parquet"), "--output", str(tmp_path / "out.parquet")])
    assert status == 1
    error = capsys.readouterr().err
    assert "column 'features', row 3 of partition 0 has 7 values; expected 6" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]
