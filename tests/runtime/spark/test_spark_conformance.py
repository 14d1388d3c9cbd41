"""The conformance suite in spark mode: every matrix operation with a distributed implementation
runs on Spark (blocks of 3x3, so most matrices span several blocks) and the output must be
SystemDS's, byte for byte, as for the local runtime."""
from __future__ import annotations

from pathlib import Path

import pytest
from support.conformance import PROGRAMS, run_program

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_prints_the_same_on_spark(program: Path, runtime, tmp_path, monkeypatch):
    monkeypatch.chdir(program.parent)
    printed = run_program(program, tmp_path, spark=runtime, exec_mode="spark")
    assert printed == program.with_suffix(".out").read_text()
