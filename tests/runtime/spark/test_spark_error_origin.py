"""Failures inside Spark tasks are reported at the DML statement that caused them, not at the
later statement whose collection ran the (lazy) job."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError

pytestmark = pytest.mark.slow


def fails(script, runtime, **keywords) -> DMLRuntimeError:
    with pytest.raises(DMLRuntimeError) as caught:
        run_string(script, spark=runtime, exec_mode="spark", file="job.dml", **keywords)
    return caught.value


def test_a_bad_csv_line_is_reported_at_the_read_not_at_the_collecting_print(runtime, tmp_path):
    target = tmp_path / "x.csv"
    lines = ["1,2,3"] * 7 + ["4,5"] + ["6,7,8"] * 4   # line 8 has two fields
    target.write_text("\n".join(lines) + "\n")
    script = (f'X = read("{target}", format="csv", rows=12, cols=3)\n'
              "Y = X * 2 + 1\n"
              "Z = t(Y) %*% Y\n"
              "print(sum(Z))\n")
    err = fails(script, runtime)
    assert (err.position.file, err.position.line) == ("job.dml", 1), str(err)
    assert "malformed line 8" in err.message and "2 field(s)" in err.message


def test_a_failing_blockwise_task_names_its_own_statement(runtime, spark):
    """The injected first-attempt failure (no retries on local[2]) fails the elementwise tasks
    of line 2; the job runs only when line 4 sums the result."""
    from kerasdml.runtime.spark.runtime import SparkRuntime

    failing = SparkRuntime(spark.sparkContext, block=3, fail_first_attempt=True)
    script = ("A = X %*% t(X)\n"
              "B = A * 3\n"
              "C = t(B)\n"
              "print(sum(C))\n")
    err = fails(script, failing, inputs={"X": np.arange(20.0).reshape(5, 4)})
    assert err.position.line == 2, str(err)
    assert "a Spark job failed: RuntimeError: injected failure" in err.message


def test_an_error_in_a_remote_parfor_body_keeps_the_body_statement(runtime):
    script = ("R = matrix(0, rows=4, cols=1)\n"
              "parfor (i in 1:4, mode=REMOTE_SPARK) {\n"
              "  v = i * 2\n"
              "  if (i == 3) {\n"
              '    stop("iteration " + i + " is bad")\n'
              "  }\n"
              "  R[i, 1] = v\n"
              "}\n"
              "print(sum(R))\n")
    err = fails(script, runtime)
    assert err.position.line == 5, str(err)
    assert err.message == "iteration 3 is bad"


def test_errors_of_the_collecting_statement_itself_stay_there(runtime):
    script = ("X = matrix(1, rows=6, cols=6)\n"
              "Y = X + 1\n"
              "Z = Y %*% matrix(1, rows=5, cols=2)\n")
    err = fails(script, runtime)
    assert err.position.line == 3, str(err)
