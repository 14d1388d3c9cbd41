"""The planner: one place that decides, per matrix operation, whether it runs on local numpy or
as Spark jobs over distributed block matrices.

The interpreter consults it only when a run has one (`Context.planner`): the expression
compiler then wraps each operator, indexing and builtin call site with `route`, and every call
whose arguments include no matrix goes straight to the local function (one isinstance check
per argument). Without a planner, call sites are compiled exactly as before: no cost.

Modes (as SystemDS's exec types):
- singlenode: every operation local (with a planner only to explain);
- spark: every matrix operation with at least `min_cells` cells runs distributed, and results
  stay distributed; used to run the Spark paths on small data;
- hybrid (the default with a master): an operation runs distributed when an operand already is,
  or when an operand or the result is estimated above the driver memory budget; a distributed
  result that fits in the budget and in the collect limit (a quarter of the driver JVM's
  memory, which collected blocks pass through) is collected to numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TextIO

import numpy as np

from .errors import DMLRuntimeError
from .indexing import check_scalar_write
from .lists import DMLList
from .parfor_analysis import read_names
from .values import MatrixHandle

MODES = ("singlenode", "spark", "hybrid")
LOCAL, SPARK = "LOCAL", "SPARK"
_MATRICES = (np.ndarray, MatrixHandle)


@dataclass(frozen=True)
class Decision:
    where: str                  # LOCAL or SPARK
    strategy: str = ""          # how a Spark operation runs (broadcast, shuffle, blockwise, ...)
    output: tuple[int, int] | None = None

    def __str__(self) -> str:
        return f"{self.where}({self.strategy})" if self.strategy else self.where


def _has_matrix(args, kwargs) -> bool:
    for value in args:
        if _planned_operand(value):
            return True
    return bool(kwargs) and any(_planned_operand(v) for v in kwargs.values())


def _planned_operand(value) -> bool:
    """A matrix, or a list holding a distributed one (collected for a local operation)."""
    return isinstance(value, _MATRICES) or (isinstance(value, DMLList) and _holds_handle(value))


def _holds_handle(items: DMLList) -> bool:
    """A list with a distributed matrix among its elements, at any depth."""
    return any(isinstance(v, MatrixHandle) or (isinstance(v, DMLList) and _holds_handle(v)) for v in items)


def matrix_shapes(args, kwargs=None) -> list[tuple[int, int]]:
    values = list(args) + list((kwargs or {}).values())
    return [tuple(v.shape) for v in values if isinstance(v, _MATRICES)]


def estimated_bytes(shape: tuple[int, int] | None, itemsize: int = 8) -> int:
    """Dense size of a matrix; DML matrices here are never sparse."""
    return 0 if shape is None else shape[0] * shape[1] * itemsize


def parse_bytes(text: str | int) -> int:
    """'512m', '2g', '1048576' -> bytes (Spark's memory-size notation)."""
    if isinstance(text, int):
        return text
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    value = str(text).strip().lower().rstrip("b")
    try:
        if value and value[-1] in units:
            return int(float(value[:-1]) * units[value[-1]])
        return int(value)
    except ValueError:
        raise DMLRuntimeError(f"cannot read the memory size {text!r} (expected e.g. 512m or 2g)") from None


class Planner:
    def __init__(self, mode: str, spark=None, budget: int = 700 * 2**20, min_cells: int = 1,
                 explain: TextIO | None = None, parfor_bytes: int = 64 * 2**20,
                 collect_limit: int | None = None):
        if mode not in MODES:
            raise DMLRuntimeError(f"unknown execution mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode != "singlenode" and spark is None:
            raise DMLRuntimeError(f"execution mode {mode} needs Spark (give a master, e.g. --master "
                                  "local[2], or a Spark session)")
        self.mode, self.spark, self.budget, self.min_cells = mode, spark, budget, min_cells
        self.parfor_bytes = parfor_bytes
        # a collected result passes through the driver JVM's heap as serialized blocks, so
        # hybrid mode collects only results well below it (and below the budget)
        self.collect_limit = budget if collect_limit is None else min(budget, collect_limit)
        from .explain import Explainer

        self.explainer = Explainer(explain, self) if explain is not None else None
        from .spark.operations import load  # numpy only: pyspark is imported when Spark starts

        self.operations = load()

    # ---- call sites ------------------------------------------------------------------------

    def route(self, name: str, function: Callable, position) -> Callable:
        """The call site's function, deciding per call where it runs."""
        operation = self.operations.get(name)
        dispatch = self._dispatch
        if operation is not None and operation.source:
            return lambda *args, **kwargs: dispatch(name, operation, function, position, args, kwargs)

        def planned(*args, **kwargs):
            if not _has_matrix(args, kwargs):
                return function(*args, **kwargs)
            return dispatch(name, operation, function, position, args, kwargs)
        return planned

    def route_kernel(self, name: str, kernel: Callable, position) -> Callable:
        """A dml_lib function's kernel (runtime/intrinsics.py), bound arguments -> outputs or
        None, as one planned operation: the kernel when it runs locally, the distributed
        operation registered under its name on Spark. Distributed arguments that no operation
        takes give None: the function's DML body runs, each of its operations planned."""
        operation = self.operations.get(name)
        dispatch = self._dispatch

        def local(**variables):
            return kernel(variables)

        def planned(variables: dict):
            if operation is None or not operation.accepts(**variables):
                distributed = any(isinstance(v, MatrixHandle) for v in variables.values())
                return None if distributed else kernel(variables)
            return dispatch(name, operation, local, position, (), variables)
        return planned

    def _dispatch(self, name, operation, function, position, args, kwargs):
        decision = self.decide(name, operation, args, kwargs)
        if self.explainer is not None:
            self.explainer.record(position, name, matrix_shapes(args, kwargs), decision)
        if decision.where == LOCAL:
            collect = self.collect
            return function(*[collect(a) for a in args], **{k: collect(v) for k, v in kwargs.items()})
        return self.settle(self.spark.run(operation, decision, args, kwargs, position))

    def decide(self, name: str, operation, args, kwargs) -> Decision:
        if operation is None or not operation.accepts(*args, **kwargs):
            return Decision(LOCAL, output=None)
        if self.mode == "singlenode":  # planned only to be explained
            return Decision(LOCAL, output=operation.output(*args, **kwargs))
        shapes = matrix_shapes(args, kwargs)
        output = operation.output(*args, **kwargs)
        strategy = operation.strategy(self.spark, *args, **kwargs)
        if operation.spark_only is not None and operation.spark_only(*args, **kwargs):
            return Decision(SPARK, strategy, output)
        if any(r * c == 0 for r, c in shapes + ([output] if output else [])):
            return Decision(LOCAL, output=output)
        if self.mode == "spark":
            largest = max([r * c for r, c in shapes + ([output] if output else [])], default=0)
            where = SPARK if largest >= self.min_cells else LOCAL
        else:
            distributed = any(isinstance(a, MatrixHandle) for a in list(args) + list(kwargs.values()))
            big = max([estimated_bytes(s) for s in shapes] + [estimated_bytes(output)]) > self.budget
            where = SPARK if distributed or big else LOCAL
        return Decision(where, strategy if where == SPARK else "", output)

    def collect(self, value):
        """numpy for a distributed matrix, also as a list's element (a local operation, such as
        toString or as.matrix of a list, sees numpy only)."""
        if isinstance(value, MatrixHandle):
            return self.spark.collect(value)
        if isinstance(value, DMLList) and _holds_handle(value):
            return DMLList([self.collect(v) for v in value], value.names)
        return value

    def settle(self, result):
        """Hybrid: a distributed result that fits in the driver budget becomes numpy (each of
        a function's outputs on its own)."""
        if isinstance(result, list):
            return [self.settle(value) for value in result]
        if self.mode == "hybrid" and isinstance(result, MatrixHandle):
            if estimated_bytes(result.shape) <= self.collect_limit:
                return self.spark.collect(result)
        return result

    def distribute_input(self, value):
        """A script input: distributed in spark mode, or in hybrid when above the budget."""
        if self.spark is None or not isinstance(value, np.ndarray) or value.size == 0:
            return value
        if self.mode == "spark" and value.size >= self.min_cells or \
                self.mode == "hybrid" and value.nbytes > self.budget:
            return self.spark.distribute(value)
        return value

    # ---- statements ------------------------------------------------------------------------

    def index_assign(self, name, read, rows, cols, value, combine, write_local, position):
        """`name[rows, cols] = value` (or op=): distributed when the target is, or is planned so."""
        operation = self.operations.get("leftIndex")
        right_index = self.route("rightIndex", _read_index, position)

        def assign(frame):
            target, r, c, v = read(frame), rows(frame), cols(frame), value(frame)
            args = (target, r, c, v, name)
            decision = self.decide("leftIndex", operation, args, {})
            if self.explainer is not None:
                self.explainer.record(position, "leftIndex", matrix_shapes(args), decision)
            if decision.where == LOCAL:
                if isinstance(target, MatrixHandle):
                    target = frame.vars[name] = self.collect(target)
                    frame.owned.add(name)
                write_local(frame, name, target, r, c, self.collect(v), combine)
                return
            if combine is not None:
                v = combine(right_index(target, r, c, name), v)
            check_scalar_write(target.shape, r, c, v, name)
            frame.vars[name] = self.settle(self.spark.run(operation, decision, (target, r, c, v, name), {},
                                                          position))
            frame.owned.discard(name)
        return assign

    def parfor(self, interpreter, node, module, iteration_values, merging, local):
        """The loop as Spark tasks when mode=REMOTE_SPARK; in spark mode unless mode=LOCAL; in
        hybrid mode (no mode given) when the matrices its body reads reach `parfor_bytes`."""
        requested = next((p.value for p in node.params if p.name == "mode"), None)
        mode = getattr(requested, "name", getattr(requested, "value", None))
        if self.spark is None or mode == "LOCAL" or self.mode == "singlenode":
            return self._parfor_explained(node, local, None)
        remote = self.spark.parfor(interpreter, node, module, iteration_values, merging, self)
        if mode == "REMOTE_SPARK" or self.mode == "spark":
            return self._parfor_explained(node, None, remote)
        reads = sorted(read_names(node.body) - {node.var})

        def choose(frame):
            size = sum(estimated_bytes(frame.vars[name].shape) for name in reads
                       if isinstance(frame.vars.get(name), _MATRICES))
            return remote if size >= self.parfor_bytes else local
        return self._parfor_explained(node, local, remote, choose)

    def _parfor_explained(self, node, local, remote, choose=None):
        def run(frame):
            chosen = choose(frame) if choose is not None else (remote or local)
            if self.explainer is not None:
                self.explainer.parfor(node.pos, "SPARK(remote parfor)" if chosen is remote else LOCAL)
            chosen(frame)
        return run


def _read_index(matrix, rows, cols, name):
    from .indexing import read_index

    return read_index(matrix, rows, cols, name)
