"""Runs every program of the conformance suite and compares stdout with SystemDS's, byte for byte.

The expected outputs were produced by Apache SystemDS 3.4.0 (see conformance/README.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from support.conformance import PROGRAMS, run_program


def test_suite_is_large_enough():
    assert len(PROGRAMS) >= 60


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_prints_what_systemds_prints(program: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(program.parent)
    assert run_program(program, tmp_path) == program.with_suffix(".out").read_text()
