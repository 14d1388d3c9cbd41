"""A long loop over distributed matrices does not accumulate Spark resources: the broadcasts
and cached RDDs made inside it are released once no matrix needs them (runtime/spark/lease.py),
so their number after the loop does not grow with the number of iterations."""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest

from kerasdml.runtime.api import run_string

pytestmark = pytest.mark.slow

LOOP = """
X = rand(rows=30, cols=12, seed=1)
W = rand(rows=12, cols=12, seed=2) / 12
for (i in 1:$n) {
  H = X %*% W
  X = H / (1 + H) + 0.01
}
R = X
"""

PARFOR = """
P = matrix(0, rows=4, cols=1)
for (step in 1:$n) {
  W = matrix(step, rows=600, cols=600)
  parfor (i in 1:4, mode=REMOTE_SPARK) {
    P[i, 1] = mean(W) + i
  }
}
"""


def held(sc) -> tuple[int, int]:
    """(cached RDDs in the JVM, broadcast files on the driver)."""
    gc.collect()
    return sc._jsc.getPersistentRDDs().size(), len(os.listdir(sc._temp_dir))


def run_loop(script, runtime, n):
    before = held(runtime.sc)
    result = run_string(script, spark=runtime, exec_mode="spark", args={"n": n},
                        outputs=["R"] if "R =" in script else ["P"])
    after = held(runtime.sc)
    return result, (after[0] - before[0], after[1] - before[1])


def test_broadcasts_and_caches_of_a_long_loop_are_released(runtime):
    short, grown_short = run_loop(LOOP, runtime, 6)
    long, grown_long = run_loop(LOOP, runtime, 60)
    expected = run_string(LOOP, args={"n": 60}, outputs=["R"])["R"]
    np.testing.assert_allclose(long["R"], expected, rtol=1e-12)
    # 60 iterations made 60 broadcasts and ~15 checkpointed caches; none outlives the run
    assert grown_long == grown_short == (0, 0), (grown_short, grown_long)


def test_a_matrix_keeps_the_broadcasts_its_lazy_lineage_reads(runtime):
    """A result still held (R, never collected inside the loop) must stay computable: the
    broadcasts of the multiplies in its lineage are alive until R is collected."""
    result, _ = run_loop(LOOP.replace("+ 0.01", "+ 0.01\n  S = X %*% W"), runtime, 5)
    expected = run_string(LOOP, args={"n": 5}, outputs=["R"])["R"]
    np.testing.assert_allclose(result["R"], expected, rtol=1e-12)


def test_remote_parfor_inputs_and_payloads_are_destroyed(runtime):
    result, grown = run_loop(PARFOR, runtime, 8)
    np.testing.assert_array_equal(result["P"].ravel(), [9, 10, 11, 12])
    assert grown == (0, 0), grown


# Row-local operations (bias_add) leave a panel whose lineage grows past the cut; re-laying it out
# in squares for a shuffle multiply or a join with a square-layout matrix then caches it (the
# lineage is cut), and the result must hold that cache, which no operand of the operation holds.
RELAID = """
X = rand(rows=6, cols=8, seed=1)
Q = rand(rows=6, cols=8, seed=2)
for (i in 1:14) {
  X = bias_add(X, b)
}
Y = X %*% t(X)
Z = Q + X
"""


def test_a_result_holds_the_cache_its_relaid_operand_was_cut_into(spark):
    from kerasdml.runtime.spark.runtime import SparkRuntime

    runtime = SparkRuntime(spark.sparkContext, block=3, broadcast_limit=8)  # multiplies shuffle
    inputs = {"b": np.full((2, 1), 0.01)}
    got = run_string(RELAID, inputs=inputs, outputs=["Y", "Z"], spark=runtime, exec_mode="spark")
    expected = run_string(RELAID, inputs=inputs, outputs=["Y", "Z"])
    for name in ("Y", "Z"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, err_msg=name)
