"""Data-parallel training with paramserv: Keras2DML(train_algo="paramserv", workers=2) against
minibatch in one local process, the seed's LeNet, batch 100, single precision, one epoch each.

A last row runs 4 workers on the same 2 cores (a measurement of the overhead, not a promise).
Targets: BSP with an update per batch <= 1.3x minibatch; NBATCHES (n=8) and EPOCH <= 1.0x.
Notes give the time per update outside `upd` and `agg`: the parameter server's own cost.

    .venv/bin/python bench/run.py paramserv [--quick | --full]
    .venv/bin/python bench/bench_paramserv.py accuracy [EPOCHS [minibatch|paramserv|both [IMAGES]]]
"""
from __future__ import annotations

import sys
import tempfile
import time

if __name__ == "__main__":   # before numpy loads: BLAS reads its thread count then
    from kerasdml.runtime.local.threads import configure_threads
    configure_threads()

from harness import Options, Row, side_by_side  # noqa: E402
from models import mnist  # noqa: E402

MODES = [("BSP, update per batch", dict(sync="BSP", frequency="batch"), 1.3, 2),
         ("BSP, NBATCHES n=8", dict(sync="BSP", frequency=8), 1.0, 2),
         ("BSP, EPOCH", dict(sync="BSP", frequency="epoch"), 1.0, 2),
         ("ASP, update per batch", dict(sync="ASP", frequency="batch"), None, 2),
         ("BSP, update per batch", dict(sync="BSP", frequency="batch"), None, 4)]


def estimator(**options):
    from kerasdml.compiler import Keras2DML
    from kerasdml.compiler.demo import lenet
    return Keras2DML(lenet(), epochs=1, batch_size=100, shuffle=False, verbose=0,
                     precision="single", **options)


def overhead_note() -> str:
    """Where a batch's time goes: upd and agg (summed over the workers' threads) and the rest
    (partitioning, slicing, summing gradients, waiting for the slowest worker, the pool)."""
    from kerasdml.runtime.paramserv.run import LAST_RUN
    run = LAST_RUN
    batches = max(1, run["batches"])
    outside = run["wall"] - (run["upd"] + run["agg"]) / run["workers"]
    return (f"{batches} batches, {run['updates']} agg calls; per batch {1000 * run['wall'] / batches:.1f} "
            f"ms wall: upd {1000 * run['upd'] / batches:.1f} ms and agg "
            f"{1000 * run['agg'] / batches:.1f} ms of thread time, outside them about "
            f"{1000 * outside / batches:.1f} ms")


def rows(options: Options) -> list[Row]:
    images = 60_000 if options.full else 1_000 if options.quick else 6_000
    x, y, _ = mnist(images, 1)
    x = x.reshape(-1, 28, 28, 1)
    reference = estimator()
    out = []
    for name, settings, target, workers in MODES:
        parallel = estimator(train_algo="paramserv", workers=workers, **settings)
        ours, theirs = side_by_side(lambda: parallel.fit(x, y), lambda: reference.fit(x, y),
                                    options.repeats)
        out.append(Row(f"paramserv {workers} workers {name}, LeNet {images:,} images, single", ours,
                       theirs, "minibatch local", target, notes=[overhead_note()]))
    return out


def accuracy(epochs: int = 5, images: int = 60_000) -> None:
    """Test accuracy after each epoch on MNIST (the full 60,000 training images by default):
    minibatch, then BSP per batch."""
    x, y, xt = mnist(images, 10_000)
    import numpy as np
    from models import MNIST_FILES
    path = next(p for p in MNIST_FILES if p.is_file())
    with np.load(path) as data:
        truth = data["y_test"][:10_000]
    x, xt = x.reshape(-1, 28, 28, 1), xt.reshape(-1, 28, 28, 1)
    which = sys.argv[3] if len(sys.argv) > 3 else "both"
    runs = [("minibatch", {}), ("paramserv BSP per batch, 2 workers",
                                dict(train_algo="paramserv", workers=2))]
    for name, settings in runs:
        if which != "both" and not name.startswith(which):
            continue
        model = estimator(**settings)
        model.set_params(shuffle=True, seed=42, weights_dir=tempfile.mkdtemp(prefix="bench_ps."))
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            model.set_params(epochs=epoch)
            model.fit(x, y, resume=True)         # continues from the previous epoch's checkpoint
            seconds = time.perf_counter() - started
            hits = float((model.predict_classes(xt) == truth).mean())
            print(f"{name}: epoch {epoch} test accuracy {hits:.4f} ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "accuracy":
        accuracy(int(sys.argv[2]) if len(sys.argv) > 2 else 5,
                 int(sys.argv[4]) if len(sys.argv) > 4 else 60_000)
