"""A paramserv worker: its rows, its batches, and the DML functions it calls.

Between two exchanges with the server a worker runs a *segment* of batches: one batch
(freq=BATCH), n batches (NBATCHES) or its whole epoch (EPOCH). It computes each batch's
gradients with `upd` on the model it pulled, updates that model locally with `agg` after every
batch but the last of the segment, and pushes the sum of the segment's gradients (SystemDS's
LocalPSWorker does the same); with modelAvg it pushes its locally updated model instead.
"""
from __future__ import annotations

import operator
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import DMLRuntimeError
from ..function_refs import call_by_name
from ..lists import DMLList
from ..values import type_name


@dataclass
class Timings:
    """Seconds spent inside `upd` and `agg`: the rest of a run is the parameter server's cost."""
    upd: float = 0.0
    agg: float = 0.0
    batches: int = 0      # calls of upd
    updates: int = 0      # calls of agg (the server's and the workers' local ones)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + seconds)
            if kind == "agg":
                self.updates += 1
            else:
                self.batches += 1


class PSFunctions:
    """The user's `upd`, `agg` and optional `val` functions with the hyper-parameters bound."""

    def __init__(self, upd, agg, val, hyperparams, timings: Timings | None = None):
        self.upd, self.agg, self.val = upd, agg, val
        self.hyperparams = hyperparams if hyperparams is not None else DMLList()
        self.timings = timings or Timings()

    def gradients(self, model: DMLList, features, labels) -> DMLList:
        begin = time.perf_counter()
        out = call_by_name(self.upd, {"model": model, "hyperparams": self.hyperparams,
                                      "features": features, "labels": labels}, (), "paramserv's upd")
        self.timings.add("upd", time.perf_counter() - begin)
        return _one_list(out, self.upd, "upd")

    def aggregate(self, model: DMLList, gradients: DMLList) -> DMLList:
        return self.aggregate_handed([model, gradients])

    def aggregate_handed(self, handed: list) -> DMLList:
        """agg of [model, gradients], which the caller hands over (the list is emptied) and, when
        it holds them nowhere else, gives up: with no other reference to their matrices, agg's
        updates (`X = X - lr * dX` and the like) write into them instead of new buffers. Where
        anything else still holds them (a worker thread computing on the same model), the
        reference counts keep them intact."""
        begin = time.perf_counter()
        arguments = {"hyperparams": self.hyperparams, "gradients": handed.pop(), "model": handed.pop()}
        out = call_by_name(self.agg, arguments, (), "paramserv's agg")
        self.timings.add("agg", time.perf_counter() - begin)
        return _one_list(out, self.agg, "agg")

    def validate(self, model: DMLList, features, labels) -> None:
        """SystemDS calls `val` after every epoch and only logs its loss and accuracy."""
        if self.val is not None and features is not None and labels is not None:
            call_by_name(self.val, {"model": model, "hyperparams": self.hyperparams,
                                    "val_features": features, "val_labels": labels}, (), "paramserv's val")


def _one_list(outputs: list, function, role: str) -> DMLList:
    if len(outputs) != 1 or not isinstance(outputs[0], DMLList):
        got = ", ".join(type_name(o) for o in outputs) or "nothing"
        raise DMLRuntimeError(f"paramserv's {role} function `{function.name}` must return one list, "
                              f"it returns {got}")
    return outputs[0]


def add_lists(total: DMLList | None, gradients: DMLList, scale: float = 1.0,
              in_place: bool = False) -> DMLList:
    """Elementwise sum of two gradient (or model) lists; `scale` multiplies the new one. With
    in_place (lists received from the network, whose arrays nothing else holds) the products
    and sums are written into the lists' own arrays: the same bits, no new buffers."""
    terms = [_combined(operator.mul, g, scale, in_place) if scale != 1.0 else g for g in gradients]
    if total is None:
        return DMLList(terms, gradients.names)
    if len(total) != len(terms):
        raise DMLRuntimeError(f"paramserv: workers returned lists of {len(total)} and {len(terms)} "
                              "elements")
    return DMLList([_combined(operator.add, a, b, in_place) for a, b in zip(total, terms)],
                   total.names)


_INTO = {operator.mul: np.multiply, operator.add: np.add}


def _combined(operation, a, b, in_place: bool):
    """operation(a, b), written into a when in_place and a is an array that can hold it."""
    if in_place and isinstance(a, np.ndarray) and a.flags.writeable and \
            np.result_type(a, b) == a.dtype and np.broadcast_shapes(a.shape, np.shape(b)) == a.shape:
        return _INTO[operation](a, b, out=a)
    return operation(a, b)


def epoch_segments(rows: int, batchsize: int, freq: str, nbatches: int) -> list[list[tuple[int, int]]]:
    """One epoch of a worker with `rows` rows: its batches, grouped into segments."""
    batches = [(start, min(start + batchsize, rows)) for start in range(0, rows, batchsize)]
    size = {"BATCH": 1, "EPOCH": max(1, len(batches)), "NBATCHES": nbatches}[freq]
    return [batches[i:i + size] for i in range(0, len(batches), size)]


class Worker:
    def __init__(self, ident: int, features: np.ndarray, labels: np.ndarray, functions: PSFunctions,
                 batchsize: int, freq: str, nbatches: int, model_avg: bool):
        self.ident, self.features, self.labels = ident, features, labels
        self.functions, self.model_avg = functions, model_avg
        self.segments = epoch_segments(features.shape[0], batchsize, freq, nbatches)

    def run_segment(self, model: DMLList, batches: list[tuple[int, int]]) -> DMLList:
        """What the worker pushes after `batches`, starting from the pulled `model`."""
        total = None
        for index, (start, stop) in enumerate(batches):
            gradients = self.functions.gradients(model, self.features[start:stop],
                                                 self.labels[start:stop])
            if not self.model_avg:
                total = add_lists(total, gradients)
            if self.model_avg or index < len(batches) - 1:
                handed = [model, gradients]     # this worker's own copies from here on
                del model, gradients
                model = self.functions.aggregate_handed(handed)
        return model if self.model_avg else total
