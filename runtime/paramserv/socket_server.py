"""The parameter server's endpoint on the driver: a listening socket, one thread per worker
connection, every message checked by the authenticated channel before it is read.

Requests (after the channel's checks):
    ("shared-memory", prefix, token)          -> ("shared-memory", the server's prefix or None):
                                                 whether both sides share /dev/shm (shared_memory.py)
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


class ParameterServerSocket:
    def __init__(self, coordinator, secret: bytes, host: str, upd_reads: frozenset | None = None,
                 shares=None):
        self.coordinator, self.secret = coordinator, secret
        self.shares = shares                # DriverShares, or None: the data is on the executors
        self.upd_reads = upd_reads          # the model elements the workers need (None: all)
        self.sent_bytes = 0
        self.pushes = 0                     # pushes taken (a retried task's repeats included)
        self.parts = 0                      # elements streamed ahead of their pushes
        self.listener = socket.create_server((host, 0))
        self.address = (host, self.listener.getsockname()[1])
        self.refused = 0
        self.error: BaseException | None = None
        self.worker_timings = WorkerTimings()
        self.push_seconds = 0.0
        self._closed = False
        self._cache: tuple = (None, None, None)
        self._cache_lock = threading.Lock()
        self._channels: list[Channel] = []
        threading.Thread(target=self._accept, name="kerasdml-ps-accept", daemon=True).start()

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
            self.coordinator.stop()
        finally:
            channel.close()

    def _reply(self, channel: Channel, reply) -> None:
        """Sends the reply; nothing of it stays referenced once sent (while the worker computes,
        the server's next agg may update the model it got in place)."""
        prepared = self._prepared(reply)
        channel.send_prepared(prepared)
        with self._cache_lock:
            self.sent_bytes += prepared.nbytes

    def _prepared(self, reply) -> Prepared:
        """The reply pickled once for all workers getting the same model and step:
        the workers of a BSP round are answered at the same moment, and the later ones wait
        for the first one's pickle instead of making their own."""
        if reply[0] != "model":
            return prepare(reply)
        key = (id(reply[2]), reply[1])
        with self._cache_lock:
            if self._cache[0] != key:
                sent = (reply[0], reply[1], trimmed(reply[2], self.upd_reads))
                self._cache = (key, reply, prepare(sent))   # the reply kept: its id stays unique
            return self._cache[2]

    def _answer(self, channel: Channel, request, parts: dict):
        kind = request[0] if isinstance(request, tuple) and request else None
        if kind == "shared-memory" and len(request) == 3:
            return ("shared-memory", channel.accept_shared_memory(*request[1:]))
        if kind == "part":
            _, step, position, value = request
            parts[(int(step), int(position))] = value
            with self._cache_lock:
                self.parts += 1
            return None
        if kind == "share" and self.shares is not None:
            return ("share",) + self.shares.share(int(request[1]))
        if kind == "hello":
            return self.coordinator.state(int(request[1]))
        if kind == "push":
            _, worker, step, result, timings = request
            _fill_streamed(result, int(step), parts)
            self.worker_timings.add(timings)
            with self._cache_lock:
                self.pushes += 1
                # a worker pushing has its model: the last reply pickled need not stay (a send
                # in progress holds its own), and agg may then update that model in place
                self._cache = (None, None, None)
            began = time.perf_counter()
            with np.errstate(all="ignore"):
                reply = self.coordinator.push(int(worker), int(step), result)
            self.push_seconds += time.perf_counter() - began
            return reply
        raise ValueError(f"unknown paramserv request {kind!r}")

    @property
    def shared_bytes(self) -> int:
        """Bytes that went through shared memory instead of the sockets, both ways."""
        return sum(channel.shared_bytes for channel in self._channels)

    def close(self) -> None:
        self._closed = True
        self.coordinator.stop()
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
