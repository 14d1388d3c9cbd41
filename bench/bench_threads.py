"""The LeNet's training epoch and predict from Python after `import keras` (numpy and TensorFlow
loaded first, with their own threads, as in a notebook) against the console path (the thread
layout set before numpy loads, as `kerasdml fit` does). Each side runs in a fresh process, the
two alternately; the ratio is Python / console, and the target is to be within 5 %.

    .venv/bin/python bench/run.py threads [--quick]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from harness import Options, Row
from kerasdml.runtime.local import threads

TARGET = 1.05
WORKER = r"""
import json, sys, time
mode, train, test, precision = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if mode == "console":
    from kerasdml.runtime.local.threads import configure_threads
    configure_threads()
import keras
import numpy as np
from kerasdml.compiler import Keras2DML
from kerasdml.compiler.demo import lenet
data = np.load(sys.argv[5])
x, y = data["x_train"][:train] / 255.0, data["y_train"][:train]
x_test = data["x_test"][:test] / 255.0
estimator = Keras2DML(lenet(), epochs=1, batch_size=100, seed=1, verbose=0, precision=precision)
estimator.fit(x[:100], y[:100])                       # compiled and parsed outside the timing
started = time.perf_counter(); estimator.fit(x, y); epoch = time.perf_counter() - started
started = time.perf_counter(); estimator.predict(x_test); predict = time.perf_counter() - started
print(json.dumps({"epoch": epoch, "predict": predict}))
"""


def _measure(mode: str, train: int, test: int, precision: str, mnist: str) -> dict:
    environment = {k: v for k, v in os.environ.items()
                   if k not in (*threads.BLAS_THREAD_VARIABLES, threads.KERNEL_THREADS_VARIABLE)}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", WORKER, mode, str(train), str(test), precision,
                          mnist], env=environment, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rows(options: Options) -> list[Row]:
    from models import MNIST_FILES
    mnist = str(next(p for p in MNIST_FILES if p.is_file()))
    train, test = (500, 1000) if options.quick else (2000, 5000)
    result = []
    for precision in ("single", "double"):
        best = {mode: {"epoch": float("inf"), "predict": float("inf")}
                for mode in ("python", "console")}
        for _ in range(options.repeats):
            for mode in best:
                measured = _measure(mode, train, test, precision, mnist)
                best[mode] = {k: min(best[mode][k], measured[k]) for k in measured}
        result += [
            Row(f"LeNet epoch of {train:,} images, {precision}, Python after import keras",
                best["python"]["epoch"], best["console"]["epoch"], "console path", TARGET),
            Row(f"LeNet predict {test:,} images, {precision}, Python after import keras",
                best["python"]["predict"], best["console"]["predict"], "console path", TARGET)]
    return result
