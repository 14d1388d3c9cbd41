"""Runs every gradient check of the DML library (dml_lib/nn/test/grad_*.dml).

Each check compares a `backward` against central differences of its `forward` in double precision
and leaves the largest relative error it saw in `max_rel_error`."""
from __future__ import annotations

from pathlib import Path

import pytest

from kerasdml import dml_lib
from kerasdml.runtime.api import run_file

CHECKS = sorted((dml_lib.ROOT / "nn" / "test").glob("grad_*.dml"))
TOLERANCE = 1e-6


def test_there_are_gradient_checks():
    assert CHECKS, "no gradient checks found under dml_lib/nn/test"


@pytest.mark.parametrize("check", CHECKS, ids=[c.stem for c in CHECKS])
def test_backward_matches_central_differences(check: Path):
    error = run_file(check, outputs=["max_rel_error"])["max_rel_error"]
    assert 0.0 <= error <= TOLERANCE, f"{check.name}: max relative error {error:.3g} > {TOLERANCE}"
