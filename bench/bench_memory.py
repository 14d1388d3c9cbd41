"""Peak memory of a LeNet training epoch on 60,000 MNIST images (batch 100, single precision),
kerasdml vs Keras, each in a fresh process: the resident set's high-water mark (ru_maxrss).

    .venv/bin/python bench/run.py memory [--quick: 6,000 images]

The kerasdml process runs the generated-style script bench/dml/lenet_train.dml without
importing TensorFlow; the Keras process runs model.fit. Both hold the same float32 images.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import Options, Row

HERE = Path(__file__).resolve().parent

KERASDML = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
from kerasdml.runtime.local.threads import configure_threads
configure_threads()
import numpy as np
from models import BATCH, LEARNING_RATE, mnist
from training import run_dml
x, y, _ = mnist({images}, 1)
rng = np.random.default_rng(0)
shapes = dict(W1=(32, 25), b1=(32, 1), W2=(64, 800), b2=(64, 1), W3=(3136, 512), b3=(1, 512),
              W4=(512, 10), b4=(1, 10))
weights = {{k: rng.normal(0, 0.05, s) for k, s in shapes.items()}}
start = time.perf_counter()
run_dml("lenet_train.dml", {{"X": x, "Y": y, **weights}}, "single", batch_size=BATCH,
        lr=LEARNING_RATE)
print(json.dumps(dict(seconds=time.perf_counter() - start,
                      peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
"""

KERAS = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
from models import BATCH, keras_images, lenet, mnist
x, y, _ = mnist({images}, 1)
model = lenet()
images = keras_images(model, x)
start = time.perf_counter()
model.fit(images, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
print(json.dumps(dict(seconds=time.perf_counter() - start,
                      peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
"""


def _measure(code: str, images: int) -> dict:
    done = subprocess.run([sys.executable, "-c", code.format(here=str(HERE), images=images)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows(options: Options) -> list[Row]:
    images = 6_000 if options.quick else 60_000
    ours, theirs = _measure(KERASDML, images), _measure(KERAS, images)
    return [Row(f"peak RSS, LeNet epoch of {images:,} images, single", ours["peak"] / 1024,
                theirs["peak"] / 1024, "Keras fit", 1.0, unit="MB",
                notes=[f"epoch {ours['seconds']:.0f} s vs Keras {theirs['seconds']:.0f} s "
                       "(separate processes)"])]
