"""The LeNet rows of the local runtime's targets, each with Keras' figure beside it, measured both
ways a user meets them: in a Python process that imported keras first (numpy and TensorFlow
loaded with their own threads, as in a notebook) and on the console path (the thread layout set
before numpy loads, as `kerasdml fit` does). Every process measures kerasdml and Keras
alternately, so each ratio compares figures of one process under one load.

    .venv/bin/python bench/run.py lenet_table [--quick]   # fusion on/off, steps and predict
    .venv/bin/python bench/run.py lenet_table --full      # full-MNIST epochs and peak RSS

Steps and predict: bench_lenet's rows (training steps of batch 100 from bench/dml's generated-
style script over 1,000 images, predict of 10,000 images by the compiled model's own prediction
script) run in one fresh process per way; fusion on/off: the same training run with
KERASDML_FUSION=0 as the reference. The full epoch: Keras2DML.fit of the seed's LeNet (the
compiler's train.dml, one epoch of 60,000 images, single precision) against model.fit of the
same model, once each: both in one notebook-style process, then each side alone in a fresh
console-style process (which gives the peak RSS).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import Options, Row, side_by_side
from kerasdml.runtime.local import threads

HERE = Path(__file__).resolve().parent
FULL_EPOCH_TARGET = 1.2
MEMORY_TARGET = 1.0

PRELUDE = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
if {console}:
    from kerasdml.runtime.local.threads import configure_threads
    configure_threads()
import keras
import numpy as np
"""

STEPS = PRELUDE + """
from bench_lenet import PREDICT_TARGET, TRAIN_TARGETS
from harness import Options
from models import lenet, mnist
from training import Workload, predict_rows, training_rows
options = Options(repeats={repeats}, quick={quick})
x, y, x_test = mnist(500 if {quick} else 1_000, 2_000 if {quick} else 10_000)
found = training_rows(Workload("LeNet", lenet(), "lenet_train.dml", x, y, TRAIN_TARGETS), options)
found += predict_rows("LeNet", lenet(), x_test, options, PREDICT_TARGET, precisions=["single"])
print(json.dumps([[r.benchmark, r.kerasdml, r.reference, r.reference_name, r.target]
                  for r in found]))
"""

EPOCH = PRELUDE + """
from kerasdml.compiler import Keras2DML
from kerasdml.compiler.demo import lenet
from models import mnist
x, y, _ = mnist({images}, 1)
x = x.reshape(-1, 28, 28, 1)
figures = {{}}
def best(fit):
    seconds = []
    for _ in range({repeats}):
        started = time.perf_counter(); fit(); seconds.append(time.perf_counter() - started)
    return min(seconds)
if "kerasdml" in {sides}:
    estimator = Keras2DML(lenet(), epochs=1, batch_size=100, shuffle=False, verbose=0,
                          precision="single")
    estimator.fit(x[:100], y[:100])               # compiled and parsed outside the timing
    figures["kerasdml"] = best(lambda: estimator.fit(x, y))
if "keras" in {sides}:
    model = lenet()
    model.fit(x[:100], y[:100], batch_size=100, verbose=0)    # traced outside the timing
    figures["keras"] = best(lambda: model.fit(x, y, batch_size=100, verbose=0, shuffle=False))
figures["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
"""

WAYS = {"notebook": False, "console": True}     # way -> thread layout set before numpy


def _run(template: str, console: bool, **values) -> object:
    environment = {k: v for k, v in os.environ.items()
                   if k not in (*threads.BLAS_THREAD_VARIABLES, threads.KERNEL_THREADS_VARIABLE)}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    code = template.format(here=str(HERE), console=console, **values)
    done = subprocess.run([sys.executable, "-c", code], env=environment, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step_rows(options: Options) -> list[Row]:
    found = []
    for way, console in WAYS.items():
        measured = _run(STEPS, console, repeats=options.repeats, quick=options.quick)
        found += [Row(f"{name} ({way})", ours, theirs, reference, target)
                  for name, ours, theirs, reference, target in measured
                  if "epoch of" not in name]
    return found


def _epoch_rows(images: int, repeats: int) -> list[Row]:
    """The notebook way runs both sides in one process; the console way runs each side alone
    in its own process, one after the other, which also gives each side's peak RSS. Each side
    keeps its best of `repeats` epochs (on a 2-core machine Keras' epoch time can nearly double
    from one run to the next, with nothing else running)."""
    both = _run(EPOCH, False, images=images, sides=["kerasdml", "keras"], repeats=repeats)
    ours = _run(EPOCH, True, images=images, sides=["kerasdml"], repeats=repeats)
    theirs = _run(EPOCH, True, images=images, sides=["keras"], repeats=repeats)
    name = f"LeNet epoch of {images:,} images, Keras2DML.fit, single"
    return [Row(f"{name} (notebook)", both["kerasdml"], both["keras"], "Keras model.fit",
                FULL_EPOCH_TARGET),
            Row(f"{name} (console, a process per side)", ours["kerasdml"], theirs["keras"],
                "Keras model.fit", FULL_EPOCH_TARGET),
            Row(f"peak RSS, Keras2DML.fit epoch of {images:,} images, single", ours["peak"],
                theirs["peak"], "Keras model.fit", MEMORY_TARGET, unit="MB")]


def _fusion_rows(options: Options) -> list[Row]:
    """The training run with fusion across statements against the plain statements
    (KERASDML_FUSION=0), alternately in this process."""
    from models import BATCH, LEARNING_RATE, dml_weights, lenet, mnist
    from training import run_dml
    images = 500 if options.quick else 1_000
    x, y, _ = mnist(images, 1)
    inputs = {"X": x, "Y": y, **dml_weights(lenet())}
    found = []
    for precision in ("single", "double"):
        def train(fused: str):
            os.environ["KERASDML_FUSION"] = fused
            run_dml("lenet_train.dml", inputs, precision, batch_size=BATCH, lr=LEARNING_RATE)
        on, off = side_by_side(lambda: train("1"), lambda: train("0"), options.repeats)
        os.environ.pop("KERASDML_FUSION")
        found.append(Row(f"LeNet training run of {images:,} images, {precision}, fused", on, off,
                         "KERASDML_FUSION=0"))
    return found


def rows(options: Options) -> list[Row]:
    """Without --full: fusion on/off, steps and predict both ways; --full: the 60,000-image
    epochs and peak RSS (several minutes each side)."""
    if options.full:
        return _epoch_rows(60_000, options.repeats)
    return _fusion_rows(options) + _step_rows(options)
