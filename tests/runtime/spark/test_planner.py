"""The planner's decisions (hybrid: by size against the driver budget), explain output, inputs from
Spark DataFrames, and parfor iterations as Spark tasks."""
from __future__ import annotations

import io

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.planner import Planner, parse_bytes

A = np.arange(35, dtype=float).reshape(7, 5) / 10
C = np.arange(7, dtype=float).reshape(7, 1)


def plan_lines(plan: str) -> dict[str, str]:
    """operation -> where, for the op lines of an explain output (last one wins)."""
    found = {}
    for line in plan.splitlines():
        if line.startswith("  "):
            words = line.split()
            found[words[0]] = words[-1]
    return found


# ---- without Spark --------------------------------------------------------------------------

def test_singlenode_explain_needs_no_spark():
    plan = io.StringIO()
    result = run_string("B = A %*% t(A)\ns = sum(B)", inputs={"A": A}, outputs=["s"], explain=plan)
    assert result["s"] == pytest.approx(float((A @ A.T).sum()))
    text = plan.getvalue()
    assert text.startswith("# EXPLAIN mode=singlenode")
    assert "<string> line 1" in text and "<string> line 2" in text
    assert plan_lines(text) == {"t": "LOCAL", "%*%": "LOCAL", "sum": "LOCAL"}
    assert "7x5 5x7" in text


@pytest.mark.parametrize("mode", ["spark", "hybrid"])
def test_spark_modes_need_spark(mode):
    with pytest.raises(DMLRuntimeError, match="needs Spark"):
        Planner(mode)


def test_unknown_mode_is_refused():
    with pytest.raises(DMLRuntimeError, match="unknown execution mode 'cluster'"):
        Planner("cluster")


@pytest.mark.parametrize("text, expected", [("512m", 512 * 2**20), ("2g", 2 * 2**30), ("1000", 1000),
                                            ("1.5k", 1536)], ids=["mega", "giga", "bytes", "fraction"])
def test_memory_sizes(text, expected):
    assert parse_bytes(text) == expected


# ---- hybrid ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_hybrid_distributes_only_what_exceeds_the_budget(spark):
    from kerasdml.runtime.spark.runtime import SparkRuntime

    runtime = SparkRuntime(spark.sparkContext, block=3, memory_budget=200)  # A is 280 bytes
    script = "\n".join([
        "B = A * 2",              # distributed operand -> SPARK, result 280 B stays distributed
        "s = rowSums(B)",         # SPARK, 56 B result collected
        "u = s + 1",              # local operands, small -> LOCAL
        "P = C %*% t(C)",         # small operands, 392 B result -> SPARK
        "z = sum(P)",
    ])
    plan = io.StringIO()
    got = run_string(script, inputs={"A": A, "C": C}, outputs=["B", "u", "z"], spark=runtime,
                     exec_mode="hybrid", explain=plan)
    where = plan_lines(plan.getvalue())
    assert where["*"] == "SPARK(blockwise)" and where["rowSums"] == "SPARK(aggregate)"
    assert where["+"] == "LOCAL" and where["%*%"] == "SPARK(broadcast)"
    assert where["sum"] == "SPARK(aggregate)"
    np.testing.assert_allclose(got["B"], A * 2)
    np.testing.assert_allclose(got["u"], (A * 2).sum(axis=1, keepdims=True) + 1)
    assert got["z"] == pytest.approx(float((C @ C.T).sum()))


@pytest.mark.slow
def test_explain_shows_dimensions_memory_and_strategy(runtime):
    plan = io.StringIO()
    run_string("Y = A %*% t(A)\nprint(sum(Y))", inputs={"A": A}, spark=runtime, exec_mode="spark",
               explain=plan, out=io.StringIO())
    lines = plan.getvalue().splitlines()
    assert lines[0] == "# EXPLAIN mode=spark budget=716.8 MB block=3"
    assert lines[1] == "<string> line 1"
    matmul = next(line for line in lines if line.split()[0] == "%*%")
    assert matmul.split()[1:] == ["7x5", "5x7", "->", "7x7", "392", "B", "SPARK(broadcast)"]
    assert "<string> line 2" in lines


# ---- inputs -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("layout", ["columns", "array"])
def test_dataframe_input_becomes_a_distributed_matrix(spark, runtime, layout):
    data = np.arange(40, dtype=float).reshape(10, 4) - 7
    if layout == "columns":
        df = spark.createDataFrame([tuple(map(float, row)) for row in data], ["a", "b", "c", "d"])
    else:
        df = spark.createDataFrame([(list(map(float, row)),) for row in data], ["features"])
    plan = io.StringIO()
    got = run_string("S = colSums(X)\nY = X * 2", inputs={"X": df}, outputs=["S", "Y"], spark=runtime,
                     exec_mode="hybrid", explain=plan)
    np.testing.assert_allclose(got["Y"], data * 2)
    np.testing.assert_allclose(got["S"], data.sum(axis=0, keepdims=True))
    assert plan_lines(plan.getvalue())["colSums"] == "SPARK(aggregate)"


@pytest.mark.slow
def test_dataframe_with_text_columns_is_refused(spark, runtime):
    df = spark.createDataFrame([("x", 1.0)], ["name", "value"])
    with pytest.raises(DMLRuntimeError, match="column\\(s\\) name are not"):
        run_string("Y = X", inputs={"X": df}, spark=runtime)


# ---- parfor -------------------------------------------------------------------------------------

PARFOR = """
source("nn/layers/relu.dml") as relu
square = function(matrix[double] x) return (matrix[double] y) {
  y = x ^ 2
}
R = matrix(0, rows=7, cols=5)
parfor (i in 1:7, mode=REMOTE_SPARK) {
  R[i, ] = square(relu::forward(A[i, ] - 1)) + i
  print("row " + i)
}
total = sum(R)
"""


@pytest.mark.slow
def test_remote_parfor_matches_the_local_loop(runtime):
    local_out, spark_out, plan = io.StringIO(), io.StringIO(), io.StringIO()
    expected = run_string(PARFOR, inputs={"A": A}, outputs=["R", "total"], out=local_out)
    got = run_string(PARFOR, inputs={"A": A}, outputs=["R", "total"], out=spark_out, spark=runtime,
                     exec_mode="hybrid", explain=plan)
    assert "parfor" in plan.getvalue() and "SPARK(remote parfor)" in plan.getvalue()
    np.testing.assert_array_equal(got["R"], expected["R"])
    assert got["total"] == expected["total"]
    assert spark_out.getvalue() == local_out.getvalue() == "".join(f"row {i}\n" for i in range(1, 8))


@pytest.mark.slow
def test_remote_parfor_adds_up_an_accumulator_over_tasks(runtime):
    script = """
    G = matrix(1, rows=5, cols=5)
    R = matrix(0, rows=7, cols=1)
    parfor (i in 1:7, mode=REMOTE_SPARK, par=3) {
      G += t(A[i, ]) %*% A[i, ]
      R[i, 1] = i
    }
    """
    expected = run_string(script, inputs={"A": A}, outputs=["G", "R"])
    got = run_string(script, inputs={"A": A}, outputs=["G", "R"], spark=runtime, exec_mode="hybrid")
    np.testing.assert_allclose(got["G"], 1 + A.T @ A, rtol=1e-12)
    np.testing.assert_allclose(got["G"], expected["G"], rtol=1e-12)
    np.testing.assert_array_equal(got["R"], expected["R"])


@pytest.mark.slow
def test_remote_parfor_reports_an_error_raised_in_a_task(runtime):
    script = "R = matrix(0, rows=3, cols=1)\nparfor (i in 1:3, mode=REMOTE_SPARK) {\n" \
             "  if (i == 2) { stop(\"bad row\") }\n  R[i, 1] = i\n}"
    with pytest.raises(DMLRuntimeError, match="bad row"):
        run_string(script, spark=runtime, exec_mode="hybrid")


def test_cli_explain_without_a_master(tmp_path, capsys):
    from kerasdml.compiler.cli import main

    script = tmp_path / "s.dml"
    script.write_text("X = matrix(1, rows=3, cols=2)\nprint(sum(t(X) %*% X))\n")
    assert main(["run", str(script), "--explain"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# EXPLAIN mode=singlenode")
    assert f"{script} line 2" in printed and "3x2 -> 2x3" in printed and printed.endswith("12.0\n")


@pytest.mark.slow
@pytest.mark.parametrize("threshold, where", [(100, "SPARK(remote parfor)"), (10_000, "LOCAL")],
                         ids=["inputs-above-threshold", "inputs-below-threshold"])
def test_hybrid_parfor_goes_remote_by_the_size_of_its_inputs(spark, threshold, where):
    from kerasdml.runtime.spark.runtime import SparkRuntime

    runtime = SparkRuntime(spark.sparkContext, block=3, parfor_bytes=threshold)  # A is 280 bytes
    script = "G = matrix(0, rows=4, cols=5)\nparfor (j in 1:4, check=0) {\n  G[j, ] = colSums(A) * j\n}"
    plan = io.StringIO()
    got = run_string(script, inputs={"A": A}, outputs=["G"], spark=runtime, exec_mode="hybrid", explain=plan)
    assert ["parfor", where] in [line.split(maxsplit=1) for line in plan.getvalue().splitlines()]
    np.testing.assert_allclose(got["G"], A.sum(axis=0) * np.arange(1, 5).reshape(-1, 1))
