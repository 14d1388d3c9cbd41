"""Spark Connect: KerasDMLModel.transform uses DataFrame APIs only, so it scores on a Connect
session (Spark 4's local Connect server, spark.api.mode=connect, in a separate process: a
classic and a Connect session do not share one Python process), and what needs a SparkContext
says so in one message."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from support.scoring_data import keras_predict, rows

pytestmark = pytest.mark.slow

CLIENT = textwrap.dedent("""
    import sys
    import numpy as np
    from pyspark.sql import SparkSession
    from kerasdml.compiler.spark_ml import KerasDMLModel
    from kerasdml.compiler.compile import compile_model
    from kerasdml.runtime.errors import DMLError

    spark = (SparkSession.builder.master("local[2]").config("spark.api.mode", "connect")
             .config("spark.ui.enabled", "false").getOrCreate())
    assert "connect" in type(spark).__module__, type(spark)
    x = np.load(sys.argv[2])
    df = spark.createDataFrame([(i, r.tolist()) for i, r in enumerate(x)],
                               "id long, features array<float>")
    scored = KerasDMLModel(model=sys.argv[1], probabilityCol="p").transform(df)
    rows = sorted(scored.collect(), key=lambda r: r.id)
    np.save(sys.argv[3], np.array([r.p for r in rows]))
    try:
        compile_model(sys.argv[1]).predict(df, spark=spark, scoring="blocks")
    except DMLError as error:
        print("BLOCKS:", error)
""")


def test_transform_scores_on_a_spark_connect_session(classifier_file, tmp_path):
    pytest.importorskip("grpc")
    x = rows(12, 6, seed=21)
    np.save(tmp_path / "x.npy", x)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    done = subprocess.run([sys.executable, "-c", CLIENT, str(classifier_file),
                           str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), keras_predict(classifier_file, x),
                               atol=1e-5)
    assert "BLOCKS: distributed block matrices need a SparkContext" in done.stdout
