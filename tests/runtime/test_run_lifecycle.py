"""A run frees its compiled program by reference counting when it ends (Interpreter.close),
and Python's cycle collector waits while it lasts (runtime/collector.py).

Compiled bodies call their module's functions and the functions hold their module: left to
the cycle collector, every run's closures would bring round full collections of the whole
process's heap (a fifth of a second after `import keras`) every few runs."""
from __future__ import annotations

import gc
import threading
import weakref

import pytest

from kerasdml.runtime import collector
from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError

PROGRAM = """
source("nn/layers/affine.dml") as affine
twice = function(matrix[double] M) return (matrix[double] R) {
  R = M * 2
}
X = matrix(seq(1, 12), rows=3, cols=4)
[W, b] = affine::init(4, 2, 7)
Y = twice(affine::forward(X, W, b))
s = sum(Y)
"""


def _cyclic_garbage(run) -> int:
    gc.collect()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        gc.enable()


def test_a_run_leaves_no_cyclic_garbage():
    run_string(PROGRAM, outputs=["s"])                  # parsed and cached before counting
    assert _cyclic_garbage(lambda: run_string(PROGRAM, outputs=["s"])) == 0


def test_a_failed_run_leaves_no_cyclic_garbage():
    failing = PROGRAM + "stop('the end')\n"

    def run():
        with pytest.raises(DMLRuntimeError):
            run_string(failing, outputs=["s"])
    run()
    assert _cyclic_garbage(run) == 0


# ---- the cycle collector while a run lasts (runtime/collector.py) ---------------------------

LOOP = "s = 0\nfor (i in 1:3) {\n  s = s + i\n}\n"


def _enabled_during_run(**options) -> list[bool]:
    seen = []
    run_string(LOOP, outputs=["s"], on_iteration=lambda frame, var: seen.append(gc.isenabled()),
               **options)
    return seen


def test_a_local_run_pauses_the_collector_and_resumes_it():
    assert _enabled_during_run() == [False] * 3
    assert gc.isenabled()


@pytest.mark.slow
def test_a_run_on_a_spark_driver_pauses_the_collector_too(spark):
    assert _enabled_during_run(spark=spark) == [False] * 3
    assert gc.isenabled()


def test_a_paramserv_worker_task_pauses_the_collector():
    from kerasdml.runtime.paramserv.remote_worker import _task_runtime
    with _task_runtime():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_run_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        assert _enabled_during_run() == [False] * 3
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_switch_leaves_the_collector_alone(monkeypatch):
    monkeypatch.setenv(collector.SWITCH_VARIABLE, "default")
    assert _enabled_during_run() == [True] * 3


def test_runs_in_threads_resume_the_collector_when_the_last_ends():
    started, release, waited = threading.Barrier(3, timeout=30), threading.Event(), threading.local()

    def hold(frame, var):                     # each thread waits in its first iteration
        if not getattr(waited, "done", False):
            waited.done = True
            started.wait()
            release.wait(30)
    threads = [threading.Thread(target=run_string, args=(LOOP,),
                                kwargs=dict(outputs=["s"], on_iteration=hold)) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait()
    assert not gc.isenabled()
    release.set()
    for thread in threads:
        thread.join()
    assert gc.isenabled()


def test_no_collection_runs_while_a_run_lasts():
    # a program big enough that its compilation alone would take several young collections,
    # whose survivors (the compiled program) would move on towards the oldest generation
    program = "".join(f"x{k} = {k} + 1\ny{k} = x{k} * 2\n" for k in range(3000))
    collections = []

    def seen(phase, info):
        if phase == "start" and collector._depth:          # while the run lasts
            collections.append(info["generation"])
    gc.callbacks.append(seen)
    try:
        run_string(program, outputs=["y0"])
    finally:
        gc.callbacks.remove(seen)
    assert collections == []


def test_a_crowded_young_generation_is_collected_during_a_paused_run(monkeypatch):
    monkeypatch.setattr(collector, "CROWDED", 0)

    class Node:
        pass
    with collector.collector_paused():
        cycle = Node()
        cycle.me = cycle
        alive = weakref.ref(cycle)
        del cycle
        collector.collect_if_crowded()
        assert alive() is None
