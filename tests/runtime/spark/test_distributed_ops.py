"""Every distributed operation against the local runtime (numpy) on the same inputs, in spark
mode with 3x3 blocks so that the matrices span several blocks in both directions; the plan
(explain) must show that the operation ran on Spark with the expected strategy."""
from __future__ import annotations

import io

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.spark.runtime import SparkRuntime

pytestmark = pytest.mark.slow

rng = np.random.default_rng(7)
INPUTS = {
    "A": rng.normal(size=(7, 5)), "B": rng.normal(size=(7, 5)), "r": rng.normal(size=(1, 5)),
    "c": rng.normal(size=(7, 1)), "W": rng.normal(size=(5, 4)), "Wt": rng.normal(size=(4, 5)),
    "At": rng.normal(size=(5, 7)),
    "K1": rng.integers(1, 4, size=(7, 1)).astype(float), "K2": rng.integers(1, 5, size=(7, 1)).astype(float),
    "X": rng.normal(size=(7, 72)), "Wc": rng.normal(size=(3, 18)), "bx": rng.normal(size=(2, 1)),
    "D": rng.normal(size=(7, 108)), "Dp": rng.normal(size=(7, 18)), "s": rng.normal(size=(1, 1)),
}
CONV = "input_shape=[7,2,6,6], filter_shape=[3,2,3,3], stride=[1,1], padding=[1,1]"
POOL = "input_shape=[7,2,6,6], pool_size=[2,2], stride=[2,2], padding=[0,0]"

# id -> (DML computing R, the operation, its expected Spark strategy)
CASES = {
    "add-join": ("R = A + B", "+", "join"),
    "compare-join": ("R = A > B", ">", "join"),
    "scalar-right": ("R = A * 2.5", "*", "blockwise"),
    "scalar-left": ("R = 1 - A", "-", "blockwise"),
    "power": ("R = A ^ 2", "^", "blockwise"),
    "row-vector": ("R = A / r", "/", "broadcast-vector"),
    "col-vector": ("R = A - c", "-", "broadcast-vector"),
    "binary-1x1-right": ("R = A / s", "/", "blockwise"),       # a 1x1 right operand is a scalar
    "binary-1x1-compare": ("R = A >= s", ">=", "blockwise"),
    "binary-1x1-min": ("R = min(A, s)", "min", "blockwise"),
    "negate": ("R = -A", "unary-", "blockwise"),
    "not": ("R = !B", "unary!", "blockwise"),
    "exp": ("R = exp(A)", "exp", "blockwise"),
    "abs": ("R = abs(A)", "abs", "blockwise"),
    "round": ("R = round(A * 3)", "round", "blockwise"),
    "sigmoid": ("R = sigmoid(A)", "sigmoid", "blockwise"),
    "relu-max": ("R = max(A, 0)", "max", "blockwise"),
    "min-matrices": ("R = min(A, B)", "min", "join"),
    "matmul-broadcast": ("R = A %*% W", "%*%", "broadcast"),
    "transpose": ("R = t(A)", "t", "blockwise"),
    "sum": ("R = sum(A)", "sum", "aggregate"),
    "mean": ("R = mean(A)", "mean", "aggregate"),
    "min-full": ("R = min(A)", "min", "aggregate"),
    "max-full": ("R = max(A)", "max", "aggregate"),
    "rowSums": ("R = rowSums(A)", "rowSums", "aggregate"),
    "colSums": ("R = colSums(A)", "colSums", "aggregate"),
    "rowMeans": ("R = rowMeans(A)", "rowMeans", "aggregate"),
    "colMeans": ("R = colMeans(A)", "colMeans", "aggregate"),
    "rowMaxs": ("R = rowMaxs(A)", "rowMaxs", "aggregate"),
    "colMins": ("R = colMins(A)", "colMins", "aggregate"),
    "rowIndexMax": ("R = rowIndexMax(A)", "rowIndexMax", "row-panels"),
    "right-index-block": ("R = A[2:6, 2:4]", "rightIndex", "reblock"),
    "right-index-rows": ("R = A[4:7, ]", "rightIndex", "reblock"),
    "right-index-column": ("R = A[, 5]", "rightIndex", "reblock"),
    "left-index-matrix": ("A[2:4, 2:5] = B[1:3, 1:4]\nR = A", "leftIndex", "reblock"),
    "left-index-scalar": ("A[3, 1] = 9\nR = A", "leftIndex", "reblock"),
    "left-index-accumulate": ("A[2, ] += r\nR = A", "leftIndex", "reblock"),
    "cbind": ("R = cbind(A, B, c)", "cbind", "reblock"),
    "rbind": ("R = rbind(A, r, B)", "rbind", "reblock"),
    "table": ("R = table(K1, K2)", "table", "aggregate"),
    "table-dims": ("R = table(K1, K2, 4, 6)", "table", "aggregate"),
    "conv2d": (f"R = conv2d(X, Wc, {CONV})", "conv2d", "row-panels, weights broadcast"),
    "max_pool": (f"R = max_pool(X, {POOL})", "max_pool", "row-panels, weights broadcast"),
    "avg_pool": (f"R = avg_pool(X, {POOL})", "avg_pool", "row-panels, weights broadcast"),
    "bias_add": ("R = bias_add(X, bx)", "bias_add", "row-panels, bias broadcast"),
    "bias_multiply": ("R = bias_multiply(X, bx)", "bias_multiply", "row-panels, bias broadcast"),
    "conv2d_backward_filter": (f"R = conv2d_backward_filter(X, D, {CONV})", "conv2d_backward_filter",
                               "row-panels, weights broadcast"),
    "conv2d_backward_data": (f"R = conv2d_backward_data(Wc, D, {CONV})", "conv2d_backward_data",
                             "row-panels, weights broadcast"),
    "max_pool_backward": (f"R = max_pool_backward(X, Dp, {POOL})", "max_pool_backward",
                          "row-panels, weights broadcast"),
}


def run_both(script: str, runtime: SparkRuntime):
    expected = run_string(script, inputs=INPUTS, outputs=["R"])["R"]
    plan = io.StringIO()
    got = run_string(script, inputs=INPUTS, outputs=["R"], spark=runtime, exec_mode="spark",
                     explain=plan)["R"]
    return expected, got, plan.getvalue()


def ran_on_spark(plan: str, operation: str, strategy: str) -> bool:
    return any(line.split()[0] == operation and line.rstrip().endswith(f"SPARK({strategy})")
               for line in plan.splitlines() if line.startswith("  "))


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_distributed_operation_matches_local(case, runtime):
    script, operation, strategy = CASES[case]
    expected, got, plan = run_both(script, runtime)
    assert ran_on_spark(plan, operation, strategy), plan
    assert type(got) is type(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("limit, script, strategy", [
    (200, "R = Wt %*% At", "broadcast-left"),     # left 160 B fits, right 280 B does not
    (8, "R = A %*% t(B)", "shuffle"),             # nothing fits: join on the shared dimension
    (8, "R = At %*% A", "shuffle"),
], ids=["broadcast-left", "shuffle", "shuffle-inner-7"])
def test_matmul_strategies(limit, script, strategy, spark):
    runtime = SparkRuntime(spark.sparkContext, block=3, broadcast_limit=limit)
    expected, got, plan = run_both(script, runtime)
    assert ran_on_spark(plan, "%*%", strategy), plan
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_chained_operations_stay_distributed(runtime):
    """A chain of operations in spark mode: only the final collect brings the data back."""
    script = "R = rowSums(exp(t(A) %*% B) * 0.5) + rowMeans(At)"
    expected, got, plan = run_both(script, runtime)
    assert " LOCAL" not in plan, plan
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_bad_shapes_report_the_local_error(runtime):
    from kerasdml.runtime.errors import DMLRuntimeError

    with pytest.raises(DMLRuntimeError, match="dimensions do not match"):
        run_string("R = A + W", inputs=INPUTS, outputs=["R"], spark=runtime, exec_mode="spark")
    with pytest.raises(DMLRuntimeError, match="dimensions do not match"):
        run_string("R = s + A", inputs=INPUTS, outputs=["R"], spark=runtime, exec_mode="spark")
    with pytest.raises(DMLRuntimeError, match="out of bounds"):
        run_string("R = A[1:9, ]", inputs=INPUTS, outputs=["R"], spark=runtime, exec_mode="spark")
