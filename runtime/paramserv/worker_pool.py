"""The REMOTE_SPARK workers of one or more paramserv calls: one Spark job whose tasks are the
workers, and the parameter server they talk to.

A call starts a pool and, as a rule, lets its workers go when it ends: the job is over when
paramserv returns. Where the caller keeps workers (SparkRuntime.kept_paramserv_workers: the
estimator, across a fit's epochs, which are one paramserv call each), the next call with the
same workers, data and settings of the connection finds them waiting (whatever its program:
each call names its own): no Spark job to
start, no connection to open, the shared memory of the last call's messages already mapped.
A kept worker waits IDLE_SECONDS for the next call; then all are let go, so another Spark job
of the same application waits for their task slots at most that long.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from functools import partial

from ..errors import DMLRuntimeError
from .remote_worker import RemoteJob, run_worker_task
from .socket_server import ParameterServerSocket, ServedCall

IDLE_SECONDS = 2.0


@dataclass(frozen=True)
class PoolKey:
    """What a kept pool must share with a call to serve it."""
    context: int            # the SparkContext's id
    workers: int
    data: object            # "driver" (shares sent with each call), or id() of the partitions
    shared_memory: bool
    fail_once: bool


class WorkerPool:
    def __init__(self, runtime, tasks, job: RemoteJob, server: ParameterServerSocket, key: PoolKey):
        from pyspark import InheritableThread

        self.runtime, self.server, self.key = runtime, server, key
        self.group = f"kerasdml-paramserv-{uuid.uuid4().hex}"
        self.error: BaseException | None = None
        self.ended = threading.Event()      # set the moment the job ends
        sc = runtime.sc

        def run():
            sc.setJobGroup(self.group, "paramserv workers", interruptOnCancel=True)
            try:
                tasks.mapPartitionsWithIndex(partial(run_worker_task, job)).collect()
            except BaseException as err:
                self.error = err
            finally:
                self.ended.set()
                call = server.call
                if call is not None:        # wakes a call waiting for workers that are gone
                    call.ended.set()
        self.thread = InheritableThread(target=run, daemon=True, name="kerasdml-ps-job")
        self.thread.start()

    def serves(self, key: PoolKey) -> bool:
        return key == self.key and not self.ended.is_set() and self.server.error is None

    def run_call(self, call: ServedCall) -> dict | None:
        """Serves `call` until each worker finished it: each worker's timings, or None when the
        workers were let go before it could begin (the caller starts a new pool)."""
        if not self.server.begin(call):
            return None
        if self.ended.is_set():             # the job ended as the call began
            call.ended.set()
        call.ended.wait()
        if self.server.error is not None:
            self.stop()
            raise self.server.error
        if len(call.spent) < call.workers:  # the job ended (failed, or cancelled) mid-call
            self.thread.join()
            if self.error is not None:
                self.runtime.guarded(_raise, self.error)
            raise DMLRuntimeError("paramserv: the Spark workers ended before the last update")
        return dict(call.spent)

    def close(self, wait: bool = True) -> None:
        """Lets the workers go; waits for their job to end unless told not to (their tasks end
        on their own as they read that they may go)."""
        self.server.release_workers()
        if wait:
            self.thread.join()
        self.server.close()

    def stop(self) -> None:
        """Cancels the job (an error elsewhere) and waits for it."""
        self.server.release_workers()
        self.runtime.sc.cancelJobGroup(self.group)
        self.thread.join()
        self.server.close()


def _raise(error):
    raise error
