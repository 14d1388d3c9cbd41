"""A row-local DML program: a script whose every output row depends on its own input row alone
(a generated predict.dml is one), so that any slice of the rows can be run on its own, on
whichever process holds it.

    program = RowProgram(script, inputs=(RowInput("X", 784),), outputs=(RowOutput("Y", 10),),
                         constants=weights, args={"batch_size": 256}, precision="single")
    program.run({"X": rows})        # {"Y": rows x 10}, on the local runtime with native kernels

A RowProgram travels to the executors with its Spark task; each Python process parses and
compiles the script once (cached by the program's digest) and then runs it per Arrow batch.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..context import PRECISIONS, Context
from ..interpreter import Frame, Interpreter
from .shipped_files import make_package_files_readable

_LOADED: dict = {}   # digest -> _Loaded, one per Python process (Spark reuses its workers)


@dataclass(frozen=True)
class RowInput:
    variable: str      # DML variable bound to the rows
    width: int         # columns of one row


@dataclass(frozen=True)
class RowOutput:
    variable: str
    width: int


@dataclass(frozen=True)
class RowProgram:
    script: str
    inputs: tuple
    outputs: tuple
    constants: dict = field(default_factory=dict, compare=False)   # e.g. weights by variable
    args: dict = field(default_factory=dict)                        # $-arguments
    precision: str = "double"
    base_dir: str = ""                                              # for relative source() paths

    @property
    def dtype(self):
        return PRECISIONS[self.precision]

    @property
    def digest(self) -> str:
        """Names the script, its arguments and its constants, so one cache entry serves all the
        tasks of a job but never a different model."""
        found = self.__dict__.get("_digest")
        if found is None:
            found = _digest(self)
            object.__setattr__(self, "_digest", found)
        return found

    def run(self, rows: dict) -> dict:
        """{input variable: N x width array} -> {output variable: N x width array}."""
        loaded = _LOADED.get(self.digest)
        if loaded is None:
            loaded = _LOADED.setdefault(self.digest, _Loaded(self))
        return loaded.run(self, rows)

    def constant_arrays(self) -> dict:
        """The constants: as given on the driver, unpacked from their blob after a trip."""
        return _unpack(self.constants) if isinstance(self.constants, bytes) else self.constants

    def __getstate__(self):
        """The digest is computed once, by the driver; the constants travel as one blob that an
        executor unpacks only when its cache does not hold the program yet."""
        state = dict(self.__dict__, _digest=self.digest)
        if not isinstance(self.constants, bytes):
            state["constants"] = _pack(self.constants)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)


class _Loaded:
    """The parsed and compiled script with its constants in the run's precision."""

    def __init__(self, program: RowProgram):
        make_package_files_readable()
        self.context = Context(args=dict(program.args), precision=program.precision)
        self.interpreter = Interpreter(self.context)
        base = Path(program.base_dir) if program.base_dir else Path.cwd()
        _, self.statements = self.interpreter.load_program(program.script, "<row program>", base)
        dtype = program.dtype
        self.constants = {name: np.ascontiguousarray(value, dtype=dtype)
                          for name, value in program.constant_arrays().items()}

    def run(self, program: RowProgram, rows: dict) -> dict:
        frame = Frame({**self.constants, **{i.variable: np.ascontiguousarray(
            rows[i.variable], dtype=program.dtype) for i in program.inputs}})
        self.interpreter.run(self.statements, frame)
        return {o.variable: np.asarray(frame.vars[o.variable]) for o in program.outputs}


def _pack(arrays: dict) -> bytes:
    """One npz blob: the weights pickle as raw bytes, whatever their count."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _unpack(blob: bytes) -> dict:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _digest(program: RowProgram) -> str:
    hasher = hashlib.sha256(program.script.encode())
    hasher.update(repr((program.inputs, program.outputs, sorted(program.args.items()),
                        program.precision, program.base_dir)).encode())
    constants = program.constant_arrays()
    for name in sorted(constants):
        value = np.ascontiguousarray(constants[name])
        hasher.update(f"{name}{value.shape}{value.dtype}".encode())
        hasher.update(value.tobytes())
    return hasher.hexdigest()


def run_on_matrix(program: RowProgram, matrix):
    """The program's first output over a distributed matrix bound to its first input, panel by
    panel on the executors: a distributed matrix with the same rows (nothing is collected)."""
    from functools import partial

    from .matrix import from_panels

    output = program.outputs[0]
    panels = matrix.panels().mapValues(partial(_run_panel, program))
    return from_panels(panels, matrix.rows, output.width, matrix.block, program.dtype,
                       row_partitioned=False).holding(matrix.leases)


def _run_panel(program: RowProgram, panel: np.ndarray) -> np.ndarray:
    results = program.run({program.inputs[0].variable: panel})
    return results[program.outputs[0].variable].reshape(panel.shape[0], -1)
