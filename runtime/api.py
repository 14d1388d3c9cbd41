"""The runtime's Python API, in the spirit of SystemML's MLContext.

    results = run_string("Y = X * 2", inputs={"X": x}, outputs=["Y"])
    results["Y"]          # a numpy array

Inputs are bound as variables before the script's first statement (numpy arrays, pandas
DataFrames, scipy.sparse matrices (made dense), Python scalars); `args` are the `$name`
command-line arguments. The caller's arrays are never written: left indexing copies a matrix the
script does not own.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Mapping, TextIO

import numpy as np

from .collector import collector_paused
from .context import PRECISIONS, Context, Statistics
from .errors import DMLRuntimeError
from .frames import Frame
from .interpreter import Interpreter
from .values import MatrixHandle, dense, is_matrix, type_name

ROW_INDEX = "__INDEX"  # SystemML's row-index column of a matrix's DataFrame (RDDConverterUtils)


def run_file(path: str | Path, *, inputs: Mapping | None = None, args: Mapping | None = None,
             outputs: Iterable[str] = (), out: TextIO | None = None, precision: str = "double",
             stats: Statistics | None = None, spark=None, exec_mode: str | None = None,
             explain: TextIO | None = None) -> dict:
    """Runs a DML file; relative source() paths resolve against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise DMLRuntimeError(f"cannot read DML script {path}: {err.strerror}") from None
    return run_string(text, inputs=inputs, args=args, outputs=outputs, out=out, precision=precision,
                      stats=stats, file=str(path), base_dir=path.resolve().parent, spark=spark,
                      exec_mode=exec_mode, explain=explain)


def run_string(text: str, *, inputs: Mapping | None = None, args: Mapping | None = None,
               outputs: Iterable[str] = (), out: TextIO | None = None, precision: str = "double",
               stats: Statistics | None = None, file: str = "<string>",
               base_dir: str | Path | None = None, spark=None, exec_mode: str | None = None,
               explain: TextIO | None = None, on_iteration=None,
               argument_hint: str | None = None) -> dict:
    """Runs DML text and returns the requested output variables by name.

    With `spark` (a SparkSession or SparkContext) matrix operations go through the planner:
    `exec_mode` hybrid (the default then), spark or singlenode; `explain` is a stream that
    receives the plan. Spark DataFrame inputs become distributed matrices; outputs are numpy.
    `on_iteration(frame, variable)` is called after every iteration of a for loop.
    `argument_hint`: how the caller passes a `$name` argument, as a format of {name}, which the
    error of a missing one shows (default: the command line's -nvargs name=...)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    outputs = tuple(outputs)
    context = Context(args={str(k): v for k, v in (args or {}).items()}, out=out or sys.stdout,
                      precision=precision, stats=stats, outputs=frozenset(outputs),
                      on_iteration=on_iteration, argument_hint=argument_hint)
    if spark is not None or exec_mode is not None or explain is not None:
        from .spark.session import make_planner

        context.planner = make_planner(exec_mode, spark, explain, precision)
    interpreter = Interpreter(context)
    with collector_paused():
        try:
            _, statements = interpreter.load_program(text, file, Path(base_dir or Path.cwd()))
            variables = {name: _bind_input(value, name, context)
                         for name, value in (inputs or {}).items()}
            frame = Frame(variables)
            interpreter.run(statements, frame)
        finally:
            interpreter.close()
    results = {}
    for name in outputs:
        if name not in frame.vars:
            raise DMLRuntimeError(f"output variable `{name}` was not assigned by the script")
        value = frame.vars[name]
        results[name] = context.planner.collect(value) if context.planner is not None else value
    return results


def _bind_input(value, name: str, context: Context):
    planner = context.planner
    if planner is not None and planner.spark is not None and is_spark_dataframe(value):
        from .spark.convert import from_dataframe  # a Spark DataFrame: stays distributed

        # SystemML's row-index column (Matrix.toDF() writes it) orders the rows, it is no data
        return from_dataframe(planner.spark, value, name, context.dtype, row_index=ROW_INDEX)
    if isinstance(value, MatrixHandle):  # already distributed: stays so
        if planner is None or planner.spark is None:
            raise DMLRuntimeError(f"input `{name}` is a distributed matrix: run with spark=")
        return value
    bound = to_dml_value(value, name, context.dtype)
    return planner.distribute_input(bound) if planner is not None else bound


def is_spark_dataframe(value) -> bool:
    """A Spark DataFrame (told by its interface: pyspark is imported only when Spark runs),
    classic or Spark Connect (whose `rdd` raises when read, so the class is asked)."""
    return hasattr(type(value), "rdd") and hasattr(type(value), "schema")


def to_dml_value(value, name: str, dtype=np.float64):
    """A Python value as the DML value it binds to: scalars stay, arrays become 2-D matrices."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "to_numpy") and hasattr(value, "columns"):  # a pandas DataFrame
        value = value.to_numpy()
    array = np.asarray(dense(value))
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise DMLRuntimeError(f"input `{name}` must be numeric, got an array of {array.dtype}")
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    elif array.ndim == 0:
        return array.item()
    elif array.ndim > 2:  # images and sequences: one flattened row per example
        array = array.reshape(array.shape[0], -1)
    return np.ascontiguousarray(array, dtype=dtype)


def describe(value) -> str:
    return type_name(value) if is_matrix(value) else f"{type_name(value)} {value!r}"
