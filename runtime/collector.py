"""Python's cycle collector paused while a run lasts.

A run compiles its program into tens of thousands of closures, tuples and cells that live
exactly as long as the run (Interpreter.close frees them by reference counting). The
collector's young collections during the run find them alive and move them to the oldest
generation, and every few runs that brings round a full collection of the whole process: after
`import keras` (400,000 objects) one costs half an InceptionV3 prediction of 32 images. With
the collector paused, those objects never reach the oldest generation.

A run itself leaves no reference cycles, so nothing waits for the collector; in case a long
run does make some, function calls and every 1024th loop iteration look at the young
generation and, when it is crowded, collect it alone, which never promotes anything to the
oldest generation. The pause is the process's: cycles that other threads drop while a run
lasts wait for its end (or for a crowded young generation). A Spark driver's run pauses it
too (a full collection there, after `import keras`, landed in the middle of paramserv epochs
while the workers waited for the driver), and so do the Spark tasks that run
the interpreter (parfor bodies, paramserv workers); Py4J's objects are freed by reference
counting as before. KERASDML_GC=default leaves the collector alone.
"""
from __future__ import annotations

import contextlib
import gc
import os
import threading

SWITCH_VARIABLE = "KERASDML_GC"
# young objects alive at which a paused run collects the young generation itself (the
# collector's own threshold is 700; a run's compiled program is a few tens of thousands)
CROWDED = 200_000
# loop iterations between two looks at it: a look is a call, which a loop of scalar
# statements would feel in every iteration
LOOK_EVERY = 1024

_lock = threading.Lock()
_depth = 0                 # runs in progress (threads may run programs side by side)
_resume = False            # whether the collector was enabled when the first of them began


@contextlib.contextmanager
def collector_paused():
    global _depth, _resume
    if os.environ.get(SWITCH_VARIABLE) == "default":
        yield
        return
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def collect_if_crowded() -> None:
    """Collects the young generation when a paused run has let it grow large."""
    if _depth and gc.get_count()[0] > CROWDED:
        gc.collect(0)
