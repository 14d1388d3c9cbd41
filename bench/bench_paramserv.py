"""Data-parallel training with paramserv on Spark: Keras2DML(train_algo="paramserv", workers=2,
spark=local[2]) (mode REMOTE_SPARK: the workers are Spark tasks) against minibatch in one local
process, the seed's LeNet, batch 100, single precision; Keras' model.fit of the same epoch beside
them. The figures are epoch times: a fit of EPOCHS epochs divided by EPOCHS, on both sides, as a
training run goes (its paramserv workers are kept from one epoch to the next, so the Spark job
and the workers' connections start once per fit, as it begins).

A row runs 4 workers on local[4] on the same machine (a measurement, not a promise); two rows
compare BSP per batch with the gradients streamed while upd runs (early_push.py) against the
same run sending them with the push (spark.kerasdml.streamGradients true and false).
Targets: BSP with an update per batch <= 1.3x minibatch; NBATCHES (n=8) and EPOCH <= 1.0x.
Before timing, one paramserv epoch on the same images starts Spark's Python workers and warms
the JVM's compiler and the processes' heaps: a training run of several epochs pays that once,
in its first. Notes give the time per server update outside `upd` and `agg`
and where it goes.

    .venv/bin/python bench/run.py paramserv [--quick | --full]
    .venv/bin/python bench/bench_paramserv.py accuracy [EPOCHS [IMAGES [RUN ...]]]
"""
from __future__ import annotations

import sys
import tempfile
import time

if __name__ == "__main__":   # before numpy loads: BLAS reads its thread count then
    from kerasdml.runtime.local.threads import configure_threads
    configure_threads()

from harness import Options, Row, seconds_once, side_by_side  # noqa: E402
from models import mnist  # noqa: E402

EPOCHS = 3
MODES = [("BSP, update per batch", dict(sync="BSP", frequency="batch"), 1.3),
         ("BSP, NBATCHES n=8", dict(sync="BSP", frequency=8), 1.0),
         ("BSP, EPOCH", dict(sync="BSP", frequency="epoch"), 1.0),
         ("ASP, update per batch", dict(sync="ASP", frequency="batch"), None)]
SPARK_CONF = {"spark.ui.enabled": "false", "spark.driver.memory": "2g"}


def estimator(**options):
    from kerasdml.compiler import Keras2DML
    from kerasdml.compiler.demo import lenet
    return Keras2DML(lenet(), epochs=1, batch_size=100, shuffle=False, verbose=0,
                     precision="single", **options)


def start_spark(master: str):
    from kerasdml.runtime.spark import spark_session
    return spark_session(master, {**SPARK_CONF, "spark.default.parallelism": master[6:-1]})


def overhead_note() -> str:
    """Per server update (a model average counts as one): wall time, upd and agg (thread time
    over the workers), and the rest."""
    from kerasdml.runtime.paramserv.run import LAST_RUN as run
    workers = run["workers"]
    updates = max(1, run["server_updates"] or run["pushes"] // workers)
    inside = (run["upd"] + run["reported_agg"]) / workers + run["server_agg"]
    outside = run["wall"] - inside
    per = 1000 / updates
    return (f"{updates} server updates, {run['batches']} batches; per update {per * run['wall']:.1f} ms "
            f"wall, upd+agg {per * inside:.1f} ms, outside them {per * outside:.1f} ms: the workers' data "
            f"(shares or partitions) {per * run['partition']:.1f}, task start (with the rows the "
            f"driver serves) and compile "
            f"{per * run['worker_startup'] / workers:.1f}, exchange {per * run['worker_exchange'] / workers:.1f}"
            f" (of which pickling + tags {per * (run['reported_encode'] + run['reported_decode']) / workers:.1f}"
            f" on the workers; the rest is the wire, the server's sum and waiting for the slower "
            f"worker)")


def keras_row(x, y, minibatch: float) -> Row:
    from kerasdml.compiler.demo import lenet
    model = lenet()
    model.fit(x[:100], y[:100], batch_size=100, verbose=0)       # trace Keras' train function
    seconds = seconds_once(lambda: model.fit(x, y, batch_size=100, epochs=EPOCHS, verbose=0,
                                             shuffle=False)) / EPOCHS
    return Row(f"Keras model.fit, an epoch of a {EPOCHS}-epoch fit (reference)", seconds, minibatch,
               "minibatch local")


def rows(options: Options) -> list[Row]:
    images = 60_000 if options.full else 1_000 if options.quick else 6_000
    x, y, _ = mnist(images, 1)
    x = x.reshape(-1, 28, 28, 1)
    reference = estimator().set_params(epochs=EPOCHS)
    out, minibatch = [], float("inf")
    for master, modes in (("local[2]", MODES), ("local[4]", MODES[:1])):
        spark = start_spark(master)
        workers = int(master[6:-1])
        estimator(train_algo="paramserv", workers=workers, spark=spark).fit(x, y)  # warm-up
        for name, settings, target in modes:
            parallel = estimator(train_algo="paramserv", workers=workers, spark=spark,
                                 **settings).set_params(epochs=EPOCHS)
            ours, theirs = side_by_side(lambda: parallel.fit(x, y), lambda: reference.fit(x, y),
                                        options.repeats)
            ours, theirs = ours / EPOCHS, theirs / EPOCHS
            minibatch = min(minibatch, theirs)
            out.append(Row(f"paramserv REMOTE_SPARK {master} {workers} workers {name}, LeNet "
                           f"{images:,} images, single, epoch of a {EPOCHS}-epoch fit", ours, theirs,
                           "minibatch local", target if master == "local[2]" else None,
                           notes=[overhead_note()]))
        if master == "local[2]":
            out += setting_rows(spark, x, y, options)
        spark.stop()
    out.append(keras_row(x, y, minibatch))
    return out


def setting_rows(spark, x, y, options: Options) -> list[Row]:
    """BSP per batch with one of the exchange's settings on against the same run with it off,
    alternately:
    - spark.kerasdml.streamGradients: the workers' large gradients sent while upd runs or with
      the push, with two workers on the two cores (where the default is not to stream) and
      with one worker, which leaves a core to the server as a cluster's driver has its own
      (where it is to stream);
    - spark.kerasdml.sharedMemory: large arrays through /dev/shm or over loopback TCP."""
    from kerasdml.runtime.paramserv.remote import SHARED_MEMORY_SETTING, STREAM_SETTING
    sc = spark.sparkContext

    def setting(key: str, value: bool, fit):
        def run():
            sc.setLocalProperty(key, str(value).lower())
            try:
                fit()
            finally:
                sc.setLocalProperty(key, None)
        return run
    out = []
    for key, workers, what, against in (
            (STREAM_SETTING, 2, "2 workers, gradients streamed while upd runs", "sent with the push"),
            (STREAM_SETTING, 1, "1 worker (a core left to the server), gradients streamed while "
                                "upd runs", "sent with the push"),
            (SHARED_MEMORY_SETTING, 2, "2 workers, arrays through shared memory", "loopback TCP")):
        parallel = estimator(train_algo="paramserv", workers=workers, spark=spark, sync="BSP",
                             frequency="batch")
        ours, theirs = side_by_side(setting(key, True, lambda: parallel.fit(x, y)),
                                    setting(key, False, lambda: parallel.fit(x, y)), options.repeats)
        out.append(Row(f"paramserv REMOTE_SPARK local[2] {what}, BSP, update per batch", ours,
                       theirs, against))
    return out

RUNS = {"minibatch": {},
        "bsp-batch": dict(train_algo="paramserv", sync="BSP", frequency="batch"),
        "bsp-nbatches8": dict(train_algo="paramserv", sync="BSP", frequency=8),
        "bsp-epoch": dict(train_algo="paramserv", sync="BSP", frequency="epoch"),
        "asp-batch": dict(train_algo="paramserv", sync="ASP", frequency="batch")}


def accuracy(epochs: int, images: int, names: list[str]) -> None:
    """Test accuracy after each epoch on MNIST: minibatch locally, the paramserv modes with 2
    workers on local[2]."""
    import numpy as np
    from models import MNIST_FILES
    x, y, xt = mnist(images, 10_000)
    with np.load(next(p for p in MNIST_FILES if p.is_file())) as data:
        truth = data["y_test"][:10_000]
    x, xt = x.reshape(-1, 28, 28, 1), xt.reshape(-1, 28, 28, 1)
    spark = start_spark("local[2]")
    for name in names:
        settings = dict(RUNS[name], workers=2, spark=spark) if name != "minibatch" else {}
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
                 int(sys.argv[3]) if len(sys.argv) > 3 else 60_000,
                 sys.argv[4:] or list(RUNS))
