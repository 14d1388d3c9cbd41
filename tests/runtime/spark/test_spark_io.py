"""read() and write() done by the executors: csv (files and part-file directories), hdf5 row
ranges, parquet; checked against the local reader and writer."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.io import read_value, write_hdf5, write_value

pytestmark = pytest.mark.slow

DATA = np.arange(-20, 36, dtype=float).reshape(8, 7) / 4


def run_spark(script, runtime, **keywords):
    plan = io.StringIO()
    result = run_string(script, spark=runtime, exec_mode="spark", explain=plan, **keywords)
    return result, plan.getvalue()


@pytest.mark.parametrize("header", [False, True], ids=["plain", "header"])
def test_csv_written_by_executors_reads_back_locally(runtime, tmp_path, header):
    target = tmp_path / "x.csv"
    script = f'Y = X * 1\nwrite(Y, "{target}", format="csv", header={str(header).upper()})'
    _, plan = run_spark(script, runtime, inputs={"X": DATA})
    assert "SPARK(executors write)" in plan
    assert target.is_dir() and sorted(p.name for p in target.iterdir() if p.name.startswith("part-"))
    mtd = json.loads((tmp_path / "x.csv.mtd").read_text())
    assert (mtd["rows"], mtd["cols"], mtd["nnz"], mtd["format"], mtd["header"]) == (8, 7, 55, "csv", header)
    np.testing.assert_array_equal(read_value(str(target), {}), DATA)


@pytest.mark.parametrize("header", [False, True], ids=["plain", "header"])
def test_csv_read_by_executors(runtime, tmp_path, header):
    target = str(tmp_path / "x.csv")
    write_value(DATA, target, {"format": "csv", "header": header})
    got, plan = run_spark(f'Y = read("{target}")', runtime, outputs=["Y"])
    assert "SPARK(executors read)" in plan
    np.testing.assert_array_equal(got["Y"], DATA)


def test_csv_error_names_the_file_and_line(runtime, tmp_path):
    target = tmp_path / "bad.csv"
    target.write_text("1,2\n3,x\n")
    with pytest.raises(DMLRuntimeError, match="bad.csv"):
        run_spark(f'Y = read("{target}", format="csv", rows=2, cols=2)\nprint(sum(Y))', runtime,
                  out=io.StringIO())


def test_hdf5_rows_read_by_executors(runtime, tmp_path):
    target = str(tmp_path / "x.h5")
    write_hdf5(target, {"features": DATA})
    got, plan = run_spark(f'Y = read("{target}", format="hdf5", dataset="features", rows=8, cols=7)', runtime,
                          outputs=["Y"])
    assert "SPARK(executors read)" in plan
    np.testing.assert_array_equal(got["Y"], DATA)


def test_parquet_is_read_on_spark_even_in_hybrid_mode(spark, runtime, tmp_path):
    target = str(tmp_path / "x.parquet")
    spark.createDataFrame([tuple(map(float, row)) for row in DATA], [f"c{k}" for k in range(7)]) \
        .coalesce(1).write.parquet(target)
    plan = io.StringIO()
    got = run_string(f'Y = read("{target}", format="parquet")', outputs=["Y"], spark=runtime,
                     exec_mode="hybrid", explain=plan)
    assert "SPARK(executors read)" in plan.getvalue()
    np.testing.assert_array_equal(got["Y"], DATA)
