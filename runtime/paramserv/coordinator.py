"""The parameter server's state for workers that run elsewhere (REMOTE_SPARK): which step each
worker is at, and the model it gets for that step.

A worker's steps are its segments, epoch after epoch: step s is segment s mod n_w of epoch
s div n_w. Every request is answered with the worker's next step and its model, or `done`.
Pushes are idempotent: a push for a step the server already has (a retried task repeating
work) is ignored, and a retried task asks where its worker is and resumes there, so with BSP a
task that fails and is retried changes nothing in the result.

BSP: global round g = epoch * R + segment (R the most segments of any worker); a worker's step
waits until every round before it is combined, and a round is combined (runtime/paramserv/
server.combine, in worker order) once every worker with that segment pushed. ASP: every push is
aggregated at once (server.AsyncServer) and answered with the newest model.
"""
from __future__ import annotations

import threading

from ..errors import DMLRuntimeError
from ..lists import DMLList
from .server import AsyncServer, combine
from .worker import PSFunctions

DONE = ("done",)


class StoppedError(Exception):
    """The run was stopped (an error elsewhere): a waiting worker is told to stop."""


class BSPCoordinator:
    def __init__(self, model: DMLList, segment_counts: list[int], epochs: int,
                 functions: PSFunctions, model_avg: bool, validate):
        self.model, self.counts, self.epochs = model, segment_counts, epochs
        self.functions, self.model_avg, self.validate = functions, model_avg, validate
        self.rounds_per_epoch = max(segment_counts)
        self.next_step = [0] * len(segment_counts)
        self.completed = 0                      # global rounds combined so far
        self.pending: dict[int, dict[int, DMLList]] = {}
        self.condition = threading.Condition()
        self.stopped = False

    def _round(self, worker: int, step: int) -> int:
        epoch, segment = divmod(step, self.counts[worker])
        return epoch * self.rounds_per_epoch + segment

    def _active(self, round_index: int) -> list[int]:
        segment = round_index % self.rounds_per_epoch
        return [w for w, count in enumerate(self.counts) if segment < count]

    def state(self, worker: int):
        """The worker's next step and its model (waiting for the rounds before it), or DONE."""
        with self.condition:
            step = self.next_step[worker]
            if step >= self.counts[worker] * self.epochs:
                return DONE
            wanted = self._round(worker, step)
            self.condition.wait_for(lambda: self.completed >= wanted or self.stopped)
            if self.stopped:
                raise StoppedError()
            return ("model", step, self.model)

    def push(self, worker: int, step: int, result: DMLList):
        with self.condition:
            if step == self.next_step[worker]:
                round_index = self._round(worker, step)
                arrived = self.pending.setdefault(round_index, {})
                arrived[worker] = result
                self.next_step[worker] += 1
                if sorted(arrived) == self._active(round_index):
                    self._combine(round_index)
        return self.state(worker)

    def _combine(self, round_index: int) -> None:
        arrived = self.pending.pop(round_index)
        handed, self.model = [self.model], None      # under the lock: no state() reads it now
        self.model = combine(self.functions, handed, [arrived[w] for w in sorted(arrived)],
                             self.model_avg, received=True)
        self.completed += 1
        if self.completed % self.rounds_per_epoch == 0:
            self.validate(self.model)
        self.condition.notify_all()

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.condition.notify_all()

    def finished(self) -> bool:
        return self.completed == self.rounds_per_epoch * self.epochs


class ASPCoordinator:
    def __init__(self, model: DMLList, segment_counts: list[int], epochs: int,
                 functions: PSFunctions, model_avg: bool, validate):
        self.server = AsyncServer(model, functions, sum(segment_counts), validate)
        self.counts, self.epochs = segment_counts, epochs
        self.next_step = [0] * len(segment_counts)
        self.lock = threading.Lock()

    @property
    def model(self) -> DMLList:
        return self.server.pull()

    def state(self, worker: int):
        with self.lock:
            step = self.next_step[worker]
        if step >= self.counts[worker] * self.epochs:
            return DONE
        return ("model", step, self.server.pull())

    def push(self, worker: int, step: int, result: DMLList):
        with self.lock:
            fresh = step == self.next_step[worker]
            if fresh:
                self.next_step[worker] += 1
        if fresh:
            self.server.push(result)
        return self.state(worker)

    def stop(self) -> None:
        pass

    def finished(self) -> bool:
        return all(s == c * self.epochs for s, c in zip(self.next_step, self.counts))


COORDINATORS = {"BSP": BSPCoordinator, "ASP": ASPCoordinator}


def make_coordinator(utype: str, *args):
    if utype not in COORDINATORS:
        raise DMLRuntimeError(f"paramserv: utype={utype!r} is not supported with mode=\"REMOTE_SPARK\"")
    return COORDINATORS[utype](*args)
