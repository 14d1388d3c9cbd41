"""The conformance suite in spark mode: every matrix operation with a distributed implementation
runs on Spark (blocks of 3x3, so most matrices span several blocks) and the output must be
SystemDS's, byte for byte, as for the local runtime."""
from __future__ import annotations

from pathlib import Path

import pytest
from support.conformance import PROGRAMS, run_program

pytestmark = pytest.mark.slow

# Programs printing sums and products of non-integral values to the last digit: those digits
# come from SystemDS' single-node order of additions (Kahan steps cell by cell, its matrix
# product kernels), which the local runtime follows for small matrices; Spark adds up partial
# results per block, so the last digits differ there.
LOCAL_ORDER_ONLY = {"builtin_aggregates_digits", "prog_logreg_gd", "mat_matmul_digits", "prog_sum_rewrites",
                    "nn_systemds_train", "mat_tsmm_symmetric", "mat_matmul_short_left",
                    "mat_matmul_row_vector"}
SPARK_PROGRAMS = [p for p in PROGRAMS if p.stem not in LOCAL_ORDER_ONLY]


@pytest.mark.parametrize("program", SPARK_PROGRAMS, ids=[p.stem for p in SPARK_PROGRAMS])
def test_program_prints_the_same_on_spark(program: Path, runtime, tmp_path, monkeypatch):
    monkeypatch.chdir(program.parent)
    printed = run_program(program, tmp_path, spark=runtime, exec_mode="spark")
    assert printed == program.with_suffix(".out").read_text()
