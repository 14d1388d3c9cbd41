"""Gradients on the wire while `upd` still runs: a REMOTE_SPARK worker that exchanges every
batch sends each large element of upd's result the moment it is final.

A training step's backward pass finishes the last layers' gradients first: a dense layer's
weight gradient, usually most of the bytes a worker pushes, is final while the convolutions
below it still have their gradients to compute. Sent only when upd returns, it crosses the
network while every worker of a BSP round waits for it; sent as soon as it is final, it crosses
while the worker computes the rest.

Which value is final when is read from upd's definition (`streamed_outputs`): its last
statement must build the returned list, `out = list(name=variable, ...)`, and an element whose
variable no later statement of the body assigns (inside loops and branches included) is final
once the last statement that assigns it has run. `streaming_variant` compiles the body in
pieces between those points and runs a tap after each, handing the value to the worker's
`PartSender`, a thread that sends it as a ("part", step, position, value) message while the
body goes on. The queued message holds a reference to the value, so the in-place updates
(inplace.py), which write only into buffers nothing else holds, never write into a value being
sent. The push that follows carries the rest of the list, the streamed positions left empty
(None); the server fills them from the parts it received on the same connection for that step
(socket_server.py), so a task that fails halfway loses its parts with its connection.

The overlap pays where something other than the workers' cores moves the bytes (a network
between machines, a free core); where the workers fill every core, the copy takes time from
the other worker's batch. remote.py decides per run (spark.kerasdml.streamGradients).
"""
from __future__ import annotations

import copy
import queue
import threading
from dataclasses import dataclass

import numpy as np

from .. import nodes as n
from .model_reads import ast_nodes

MIN_STREAMED_BYTES = 1 << 16     # smaller values ride in the push: a message of their own costs more


@dataclass(frozen=True)
class Streamed:
    """An element of upd's result list (0-based `position`) that is final after statement
    `after` of the body (0-based) has run: its value is `variable`'s."""
    position: int
    variable: str
    after: int


def _assigned_names(statement) -> set[str]:
    """Every variable a statement may assign, in its nested blocks too."""
    names: set[str] = set()
    for node in ast_nodes(statement):
        if isinstance(node, (n.Assign, n.IndexAssign)):
            names.add(node.name)
        elif isinstance(node, n.MultiAssign):
            names.update(node.names)
        elif isinstance(node, n.For):
            names.add(node.var)
    return names


def _statements(definition: n.FunctionDef) -> list:
    """The body's statements as the interpreter compiles them (without source() and setwd():
    `Streamed.after` counts these)."""
    return [s for s in definition.body if not isinstance(s, (n.Source, n.SetWd))]


def streamed_outputs(definition: n.FunctionDef) -> list[Streamed]:
    """The elements of the function's result list that are final before its last statement,
    or none when the function does not end by building its one output with list(...)."""
    body = _statements(definition)
    if len(definition.outputs) != 1 or not body:
        return []
    last = body[-1]
    if not (isinstance(last, n.Assign) and last.op == "=" and last.name == definition.outputs[0].name
            and isinstance(last.value, n.Call) and last.value.name == "list"):
        return []
    assigned = [_assigned_names(statement) for statement in body[:-1]]
    streamed = []
    for position, argument in enumerate(last.value.args):
        if not isinstance(argument.value, n.Var):
            continue
        variable = argument.value.name
        after = max((i for i, names in enumerate(assigned) if variable in names), default=None)
        if after is not None and after < len(body) - 2:   # some statement left to overlap with
            streamed.append(Streamed(position, variable, after))
    return streamed


class Tap:
    """Where the taps of a streaming variant send the values they see; nowhere by default."""

    def __init__(self):
        self.send = None      # send(position, value), set by the worker around each call

    def statement(self, streamed: list[Streamed]):
        taken = [(s.position, s.variable) for s in streamed]

        def tap(frame):
            send = self.send
            if send is None:
                return
            for position, variable in taken:
                value = frame.vars.get(variable)
                if isinstance(value, np.ndarray) and value.nbytes >= MIN_STREAMED_BYTES:
                    send(position, value)
        return tap


def streaming_variant(function, interpreter, tap: Tap):
    """A copy of the compiled user function whose body runs `tap` after each statement that
    makes elements of its result final, or None when nothing can be streamed."""
    streamed = streamed_outputs(function.definition)
    if not streamed or function.kernel is not None:
        return None
    body = _statements(function.definition)
    by_statement: dict[int, list[Streamed]] = {}
    for item in streamed:
        by_statement.setdefault(item.after, []).append(item)
    compiled, start = [], 0
    for after in sorted(by_statement):
        compiled += interpreter.compile_block(body[start:after + 1], function.module)
        compiled.append(tap.statement(by_statement[after]))
        start = after + 1
    compiled += interpreter.compile_block(body[start:], function.module)
    variant = copy.copy(function)
    variant.body = compiled
    return variant


class PartSender:
    """Sends a worker's parts over its channel from a thread of its own, in order; flush()
    waits until they are all sent (the push must follow them) and raises what failed."""

    def __init__(self, channel):
        self.channel = channel
        self.queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kerasdml-ps-parts", daemon=True)
        self.thread.start()

    def submit(self, message) -> None:
        self.queue.put(message)

    def _run(self) -> None:
        while True:
            message = self.queue.get()
            try:
                if message is None:
                    return
                if self.error is None:
                    self.channel.send(message)
            except BaseException as err:     # reported by flush(), on the worker's thread
                self.error = err
            finally:
                self.queue.task_done()

    def flush(self) -> None:
        self.queue.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()


class EarlyPush:
    """A worker's side: runs a step with the taps sending to its connection, and leaves the
    streamed positions of what the step pushes empty."""

    def __init__(self, channel, tap: Tap):
        self.sender, self.tap = PartSender(channel), tap

    def run(self, step: int, compute):
        """compute() -> the step's result list, whose streamed elements are then None."""
        streamed: list[int] = []

        def send(position, value):
            streamed.append(position)
            self.sender.submit(("part", step, position, value))
        self.tap.send = send
        try:
            result = compute()
        finally:
            self.tap.send = None
        for position in streamed:
            result[position] = None
        return result

    def flush(self) -> None:
        self.sender.flush()

    def close(self) -> None:
        self.sender.close()
