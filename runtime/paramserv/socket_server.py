"""The parameter server's endpoint on the driver: a listening socket, one thread per worker
connection, every message checked by the authenticated channel before it is read.

The server outlives one paramserv call where its workers are kept for the next (worker_pool.py):
each call is a ServedCall (its coordinator, data and settings), and a worker that finished one
asks for the next.

Requests (after the channel's checks):
    ("shared-memory", prefix, token)          -> ("shared-memory", the server's prefix or None):
                                                 whether both sides share /dev/shm (shared_memory.py)
    ("next", worker, timings or None)         -> ("call", settings) once a call needs the worker
                                                 (at once for a retried task of the current call),
                                                 or ("close",): the workers are let go
    ("program",)                              -> the call's upd and agg, pickled: for a worker
                                                 process that has not compiled them
    ("share", worker)                         -> its features and labels, when the driver serves them
    ("hello", worker)                         -> the worker's next step and model, or done
    ("part", step, position, value)           -> nothing: an element of the step's coming push,
                                                 sent while upd still ran (early_push.py)
    ("push", worker, step, result, timings)   -> likewise, after the server took the push (its
                                                 empty elements filled with the parts)
A connection whose frame fails the check is closed and counted in `refused`; an error of the
server itself (agg failing, say) stops the run and is raised by the driver.
"""
from __future__ import annotations

import queue
import socket
import threading
import time

import numpy as np

from .channel import Channel, ForgedMessage, Prepared, prepare
from .coordinator import StoppedError
from .model_reads import trimmed


class _ConnectionThreads:
    """The threads that serve the workers' connections, kept for the next run once their
    connection closes. Arrays received from the workers and the server's agg results are
    allocated in these threads, and glibc gives each thread a heap of its own (an arena): a
    new thread per connection and run started from fresh memory and faulted its pages in
    again for the first rounds of every run (the workers waiting for them), where a kept thread
    reuses the memory its arena keeps (allocator.py)."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.idle = 0
        self.lock = threading.Lock()

    def run(self, function, *args) -> None:
        with self.lock:
            if self.idle:
                self.idle -= 1
            else:           # every connection needs its own thread: BSP rounds wait for all
                threading.Thread(target=self._serve_jobs, daemon=True,
                                 name="kerasdml-ps-connection").start()
        self.jobs.put((function, args))

    def _serve_jobs(self) -> None:
        while True:
            function, args = self.jobs.get()
            function(*args)         # handles its own errors; one escaping ends the thread uncounted
            # a waiting thread holds nothing of its last run (the server, its model and channels)
            del function, args
            with self.lock:
                self.idle += 1


_CONNECTION_THREADS = _ConnectionThreads()


class WorkerTimings:
    """What the workers report with their pushes, summed (seconds)."""
    FIELDS = ("upd", "agg", "batches", "updates", "encode", "decode")

    def __init__(self):
        self.totals = dict.fromkeys(self.FIELDS, 0.0)
        self.lock = threading.Lock()

    def add(self, timings: dict) -> None:
        with self.lock:
            for name in self.FIELDS:
                self.totals[name] += float(timings.get(name, 0.0))


class ServedCall:
    """One paramserv call as the server serves it: its coordinator, the workers' data (shares
    of the driver's, or None) and model reads, the settings each worker gets for it (and the
    functions it compiles, pickled), and what happened in it."""

    def __init__(self, coordinator, settings=None, upd_reads: frozenset | None = None, shares=None,
                 workers: int = 0, functions: bytes = b""):
        self.coordinator, self.settings, self.functions = coordinator, settings, functions
        self.upd_reads, self.shares, self.workers = upd_reads, shares, workers
        self.ended = threading.Event()      # every worker finished it, or the server failed
        self.sent_bytes = 0                 # the replies' bytes but the program's (code, not data)
        self.pushes = 0                     # pushes taken (a retried task's repeats included)
        self.parts = 0                      # elements streamed ahead of their pushes
        self.push_seconds = 0.0
        self.worker_timings = WorkerTimings()
        self.spent: dict[int, dict] = {}    # worker -> its own timings, once it finished the call
        self.shared_before = 0              # the server's shared-memory bytes when it began


class ParameterServerSocket:
    def __init__(self, secret: bytes, host: str, idle_seconds: float | None = None):
        self.secret = secret
        self.idle_seconds = idle_seconds    # how long a worker waits for the next call (None: always)
        self.listener = socket.create_server((host, 0))
        self.address = (host, self.listener.getsockname()[1])
        self.refused = 0
        self.error: BaseException | None = None
        self.call: ServedCall | None = None
        self._calls = threading.Condition()     # a call begun, a worker finished or let go
        self._releasing = False                 # the workers are let go: no call begins now
        self._closed = False
        self._cache: tuple = (None, None, None)
        self._cache_lock = threading.Lock()
        self._channels: list[Channel] = []
        threading.Thread(target=self._accept, name="kerasdml-ps-accept", daemon=True).start()

    def begin(self, call: ServedCall) -> bool:
        """Serves `call` from now on; False when the workers were let go meanwhile (a worker
        waited past idle_seconds): the call needs new ones."""
        with self._calls:
            if self._releasing:
                return False
            call.shared_before = self.shared_bytes
            self.call = call
            self._cache = (None, None, None)
            self._calls.notify_all()
            return True

    def release_workers(self) -> None:
        """Lets every worker waiting for a call go: each is answered ("close",) and its task ends."""
        with self._calls:
            self._releasing = True
            self._calls.notify_all()

    def _next_call(self, worker: int, spent) -> tuple:
        """A worker that finished its call (spent: its timings) or just connected (None) waits
        for a call that needs it (a retried task's is the current one). Once every worker has
        finished the current call, a worker waits idle_seconds at most: then all are let go."""
        with self._calls:
            call = self.call
            if spent is not None and call is not None:
                call.spent[worker] = spent
                if len(call.spent) >= call.workers:
                    call.ended.set()
                    self._calls.notify_all()        # the others' idle time starts now
            idle_until = None
            while True:
                call = self.call
                if call is not None and worker not in call.spent:
                    return ("call", call.settings)
                if self._releasing:
                    return ("close",)
                idle = self.idle_seconds is not None and (call is None or len(call.spent) >= call.workers)
                if not idle:
                    idle_until = None
                elif idle_until is None:
                    idle_until = time.monotonic() + self.idle_seconds
                elif time.monotonic() >= idle_until:
                    self._releasing = True      # one idle worker ends them all: the pool is gone
                    self._calls.notify_all()
                    return ("close",)
                self._calls.wait(None if idle_until is None else max(0.0, idle_until - time.monotonic()))

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _CONNECTION_THREADS.run(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        channel = Channel.accept(sock, self.secret)
        self._channels.append(channel)
        parts: dict = {}        # (step, position) -> value: this connection's streamed elements
        try:
            while True:
                reply = self._answer(channel, channel.recv(), parts)
                if reply is not None:
                    self._reply(channel, reply)
                del reply       # not held while the next push waits: agg may update it in place
        except ForgedMessage:
            self.refused += 1
        except (ConnectionError, OSError, StoppedError):
            pass
        except Exception as err:        # the server's own failure (agg, validation): stop the run
            self.error = err
            if self.call is not None:
                self.call.coordinator.stop()
                self.call.ended.set()
        finally:
            channel.close()

    def _reply(self, channel: Channel, reply) -> None:
        """Sends the reply; nothing of it stays referenced once sent (while the worker computes,
        the server's next agg may update the model it got in place)."""
        prepared = self._prepared(reply)
        channel.send_prepared(prepared)
        if reply[0] != "program":
            with self._cache_lock:
                self.call.sent_bytes += prepared.nbytes

    def _prepared(self, reply) -> Prepared:
        """The reply pickled once for all workers getting the same model and step:
        the workers of a BSP round are answered at the same moment, and the later ones wait
        for the first one's pickle instead of making their own."""
        if reply[0] != "model":
            return prepare(reply)
        key = (id(reply[2]), reply[1])
        with self._cache_lock:
            if self._cache[0] != key:
                sent = (reply[0], reply[1], trimmed(reply[2], self.call.upd_reads))
                self._cache = (key, reply, prepare(sent))   # the reply kept: its id stays unique
            return self._cache[2]

    def _answer(self, channel: Channel, request, parts: dict):
        kind = request[0] if isinstance(request, tuple) and request else None
        if kind == "shared-memory" and len(request) == 3:
            return ("shared-memory", channel.accept_shared_memory(*request[1:]))
        if kind == "next" and len(request) == 3:
            return self._next_call(int(request[1]), request[2])
        call = self.call
        if kind == "part":
            _, step, position, value = request
            parts[(int(step), int(position))] = value
            with self._cache_lock:
                call.parts += 1
            return None
        if kind == "program":
            return ("program", call.functions)
        if kind == "share" and call.shares is not None:
            return ("share",) + call.shares.share(int(request[1]))
        if kind == "hello":
            return call.coordinator.state(int(request[1]))
        if kind == "push":
            _, worker, step, result, timings = request
            _fill_streamed(result, int(step), parts)
            call.worker_timings.add(timings)
            with self._cache_lock:
                call.pushes += 1
                # a worker pushing has its model: the last reply pickled need not stay (a send
                # in progress holds its own), and agg may then update that model in place
                self._cache = (None, None, None)
            began = time.perf_counter()
            with np.errstate(all="ignore"):
                reply = call.coordinator.push(int(worker), int(step), result)
            call.push_seconds += time.perf_counter() - began
            return reply
        raise ValueError(f"unknown paramserv request {kind!r}")

    @property
    def shared_bytes(self) -> int:
        """Bytes that went through shared memory instead of the sockets, both ways."""
        return sum(channel.shared_bytes for channel in self._channels)

    def close(self) -> None:
        self._closed = True
        self.release_workers()
        if self.call is not None:
            self.call.coordinator.stop()
        try:
            # wakes the accept thread (a close alone leaves it blocked in accept, holding this
            # server and its model, and its thread, for good)
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass


def _fill_streamed(result, step: int, parts: dict) -> None:
    """Puts the parts received for `step` into the pushed list's empty positions."""
    for key in [key for key in parts if key[0] == step]:
        position = key[1]
        if not 0 <= position < len(result) or result[position] is not None:
            raise ValueError(f"paramserv: a streamed part for position {position} does not fit the push")
        result[position] = parts.pop(key)
    if parts or any(value is None for value in result):
        raise ValueError("paramserv: a push and its streamed parts do not match")
