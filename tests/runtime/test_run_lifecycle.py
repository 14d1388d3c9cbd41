"""A run frees its compiled program by reference counting when it ends (Interpreter.close).

Compiled bodies call their module's functions and the functions hold their module: left to
the cycle collector, every run's closures would bring round full collections of the whole
process's heap (a fifth of a second after `import keras`) every few runs."""
from __future__ import annotations

import gc

import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError

PROGRAM = """
source("nn/layers/affine.dml") as affine
twice = function(matrix[double] M) return (matrix[double] R) {
  R = M * 2
}
X = matrix(seq(1, 12), rows=3, cols=4)
[W, b] = affine::init(4, 2, 7)
Y = twice(affine::forward(X, W, b))
s = sum(Y)
"""


def _cyclic_garbage(run) -> int:
    gc.collect()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        gc.enable()


def test_a_run_leaves_no_cyclic_garbage():
    run_string(PROGRAM, outputs=["s"])                  # parsed and cached before counting
    assert _cyclic_garbage(lambda: run_string(PROGRAM, outputs=["s"])) == 0


def test_a_failed_run_leaves_no_cyclic_garbage():
    failing = PROGRAM + "stop('the end')\n"

    def run():
        with pytest.raises(DMLRuntimeError):
            run_string(failing, outputs=["s"])
    run()
    assert _cyclic_garbage(run) == 0
