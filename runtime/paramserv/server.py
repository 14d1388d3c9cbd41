"""The parameter server's update rules, independent of where the workers run.

BSP: a round waits for the segment of every worker that still has one, sums their gradients in
worker order (so a run is deterministic) and calls `agg` once with the sum, as SystemDS accrues
BSP gradients; with modelAvg it averages the workers' models instead. ASP: every push is
aggregated at once, and the pushing worker continues from the newest model.
"""
from __future__ import annotations

import threading
from typing import Callable

from ..lists import DMLList
from .worker import PSFunctions, add_lists

# run_round(model, [(worker index, segment index)]) -> what each of those workers pushes
RoundRunner = Callable[[DMLList, list], list]


def combine(functions: PSFunctions, handed: list, pushed: list, model_avg: bool,
            received: bool = False) -> DMLList:
    """The new global model from one BSP round's pushes (in worker order) and the model in
    `handed` ([model], which the caller gives up: agg may update what nothing else holds in
    place); `received`: the pushes came over the network, their arrays are the sum's to
    write into."""
    total = None
    scale = 1.0 / len(pushed) if model_avg else 1.0
    # in place even where the first push's arrays are views of its worker's shared memory
    # (which that worker then does not reuse for its next push): fresh arrays of a model's size
    # in the server's connection thread fault every page in, a larger cost than another segment
    for result in pushed:
        total = add_lists(total, result, scale, in_place=received)
    if model_avg:
        handed.clear()
        return total
    handed.append(total)
    del total
    return functions.aggregate_handed(handed)


def run_bsp(model: DMLList, segment_counts: list[int], epochs: int, run_round: RoundRunner,
            functions: PSFunctions, model_avg: bool, validate: Callable) -> DMLList:
    """Synchronous rounds: in round r every worker with an r-th segment runs it on the model."""
    for _ in range(epochs):
        for round_index in range(max(segment_counts)):
            active = [(w, round_index) for w, count in enumerate(segment_counts) if round_index < count]
            pushed = run_round(model, active)
            handed = [model]
            del model
            model = combine(functions, handed, pushed, model_avg)
        validate(model)
    return model


class AsyncServer:
    """ASP: the global model behind a lock; each push updates it and returns the newest one."""

    def __init__(self, model: DMLList, functions: PSFunctions, pushes_per_epoch: int, validate):
        self.model, self.functions = model, functions
        self.pushes_per_epoch, self.validate = pushes_per_epoch, validate
        self.pushes = 0
        self.lock = threading.Lock()

    def pull(self) -> DMLList:
        with self.lock:
            return self.model

    def push(self, gradients: DMLList) -> DMLList:
        with self.lock:
            self.model = self.functions.aggregate(self.model, gradients)
            self.pushes += 1
            if self.pushes % self.pushes_per_epoch == 0:   # a pseudo-epoch, as SystemDS counts
                self.validate(self.model)
            return self.model
