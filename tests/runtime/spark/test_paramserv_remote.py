"""paramserv with mode="REMOTE_SPARK" on a real local Spark: workers as Spark tasks on their
cached partitions, the same results as LOCAL for BSP (the conformance programs print
SystemDS 3.4's output), data from a DataFrame never collected, a failed task retried."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLError
from kerasdml.runtime.paramserv import shared_memory
from kerasdml.runtime.paramserv.shared_memory import SHARED_DIRECTORY
from support.conformance import SUITE

pytestmark = pytest.mark.slow

LINEAR = (SUITE / "lib" / "ps_linear.dml").read_text()
BSP_PROGRAMS = ["paramserv_bsp_batch", "paramserv_model_avg"]   # k <= the 2 task slots


def remote(program: str) -> str:
    """The program with its paramserv call's mode set to REMOTE_SPARK."""
    if 'mode="LOCAL"' in program:
        return program.replace('mode="LOCAL"', 'mode="REMOTE_SPARK"')
    return program.replace("utype=", 'mode="REMOTE_SPARK", utype=', 1)


@pytest.mark.parametrize("name", BSP_PROGRAMS)
def test_bsp_program_prints_systemds_output_with_spark_workers(name, spark, monkeypatch):
    import io

    program = SUITE / f"{name}.dml"
    text = remote(program.read_text())
    assert 'mode="REMOTE_SPARK"' in text
    monkeypatch.chdir(SUITE)
    out = io.StringIO()
    run_string(text, out=out, spark=spark, file=str(program), base_dir=SUITE)
    assert out.getvalue() == program.with_suffix(".out").read_text()


def linear_data(rows: int = 60):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(rows, 3))
    return x, x @ np.array([[1.5], [-2.0], [0.5]]) + 0.25


def train(settings: str, mode: str, spark=None, inputs=None):
    x, y = linear_data()
    script = LINEAR + f"""
model = list(matrix(0, rows=3, cols=1), matrix(0, rows=1, cols=1))
m = paramserv(model=model, features=X, labels=Y, upd="gradients", agg="aggregation",
              hyperparams=list(lr=0.1), mode="{mode}", {settings})
W = as.matrix(m[1])
b = as.matrix(m[2])
"""
    out = run_string(script, inputs=inputs or {"X": x, "Y": y}, outputs=["W", "b"], spark=spark)
    return np.vstack([out["W"], out["b"]])


@pytest.mark.parametrize("settings", [
    'utype="BSP", freq="BATCH", epochs=4, batchsize=7, k=2, scheme="DISJOINT_RANDOM", seed=5',
    'utype="BSP", freq="NBATCHES", nbatches=2, epochs=3, batchsize=4, k=2, scheme="DISJOINT_ROUND_ROBIN"',
    'utype="BSP", freq="EPOCH", epochs=3, batchsize=8, k=2, scheme="OVERLAP_RESHUFFLE", seed=2',
], ids=["random-batch", "roundrobin-nbatches", "overlap-epoch"])
def test_bsp_on_spark_equals_local(settings, spark):
    assert np.array_equal(train(settings, "REMOTE_SPARK", spark), train(settings, "LOCAL"))


def test_the_servers_connection_threads_are_kept_for_the_next_run(spark):
    """Their heaps keep the memory of the arrays received and updated (socket_server.py)."""
    import threading
    import time

    from kerasdml.runtime.paramserv.socket_server import _CONNECTION_THREADS

    def connection_threads():
        return {t.ident for t in threading.enumerate() if t.name == "kerasdml-ps-connection"}
    settings = 'utype="BSP", freq="BATCH", epochs=1, batchsize=6, k=2'
    first = train(settings, "REMOTE_SPARK", spark)
    kept = connection_threads()
    assert len(kept) >= 2
    deadline = time.monotonic() + 10       # the workers' connections close as their tasks end
    while _CONNECTION_THREADS.idle < len(kept) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert np.array_equal(train(settings, "REMOTE_SPARK", spark), first)
    assert connection_threads() == kept


def test_asp_on_spark_learns(spark):
    found = train('utype="ASP", freq="BATCH", epochs=15, batchsize=5, k=2', "REMOTE_SPARK", spark)
    assert np.allclose(found.ravel(), [1.5, -2.0, 0.5, 0.25], atol=0.05), found.ravel()


def test_dataframe_features_stay_on_the_executors(spark, monkeypatch):
    """Features and labels from DataFrames: distributed matrices that no step collects."""
    from kerasdml.runtime.spark.matrix import DistributedMatrix

    x, y = linear_data()
    frames = {"X": spark.createDataFrame([(row.tolist(),) for row in x], ["features"]),
              "Y": spark.createDataFrame([(float(v),) for v in y.ravel()], ["label"])}
    settings = 'utype="BSP", freq="BATCH", epochs=2, batchsize=6, k=2'
    expected = train(settings, "LOCAL")

    def refuse(self):
        raise AssertionError("the driver collected a distributed matrix")
    monkeypatch.setattr(DistributedMatrix, "to_numpy", refuse)
    assert np.allclose(train(settings, "REMOTE_SPARK", spark, frames), expected, rtol=0, atol=1e-12)


def test_bsp_with_more_workers_than_task_slots_is_refused(spark):
    with pytest.raises(DMLError, match="Spark has 2 task slots; use k <= 2"):
        train('utype="BSP", epochs=1, batchsize=5, k=3', "REMOTE_SPARK", spark)


def test_an_error_in_agg_on_the_server_stops_the_run(spark):
    x, y = linear_data()
    script = LINEAR + """
broken = function(list[unknown] model, list[unknown] hyperparams, list[unknown] gradients)
    return (list[unknown] modelResult) {
  stop("agg refuses")
}
m = paramserv(model=list(matrix(0, rows=3, cols=1), matrix(0, rows=1, cols=1)), features=X,
              labels=Y, upd="gradients", agg="broken", hyperparams=list(lr=0.1),
              mode="REMOTE_SPARK", utype="BSP", epochs=1, batchsize=10, k=2)
"""
    with pytest.raises(DMLError, match="agg refuses"):
        run_string(script, inputs={"X": x, "Y": y}, spark=spark)


def test_a_failed_worker_task_is_retried_and_bsp_gives_the_same_result(tmp_path):
    """A task of its own Spark (local[2,2] retries a task once): worker 0 fails after its first
    push, Spark retries it, it resumes at its next step, and the output is SystemDS's."""
    program = SUITE / "paramserv_bsp_batch.dml"
    script = tmp_path / "remote.dml"
    script.write_text(remote(program.read_text()).replace('"./lib/', f'"{SUITE}/lib/')
                      .replace('source("lib/', f'source("{SUITE}/lib/'))
    result = subprocess.run(
        [sys.executable, "-m", "kerasdml.compiler.launch", "run", str(script), "--master", "local[2,2]",
         "--conf", "spark.ui.enabled=false", "--conf", "spark.kerasdml.test.failFirstAttempt=true",
         "--conf", "spark.kerasdml.logLevel=WARN"],
        capture_output=True, text=True, timeout=240, env=dict(os.environ), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "injected failure of worker 0's first attempt" in result.stderr   # it did fail once
    assert result.stdout == program.with_suffix(".out").read_text()


def test_without_spark_remote_mode_is_one_clear_error():
    with pytest.raises(DMLError, match="REMOTE_SPARK\" needs Spark"):
        train('epochs=1', "REMOTE_SPARK")


def small_model():
    from support.keras_models import keras, randomize, sequential
    layers = keras.layers
    model = randomize(sequential((6,), layers.Dense(16, activation="relu"), layers.Dropout(0.2),
                                 layers.Dense(3, activation="softmax"), name="mlp"), scale=0.5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("data", ["dataframe"])   # numpy inputs: the runtime tests above
def test_the_estimator_on_spark_trains_with_spark_workers_as_it_does_locally(data, spark):
    """Keras2DML(train_algo="paramserv") with a Spark session runs paramserv with
    mode="REMOTE_SPARK"; BSP gives the LOCAL run's weights (Adam, dropout seeds, metrics)."""
    from kerasdml.compiler.estimator import Keras2DML
    from kerasdml.runtime.paramserv.run import LAST_RUN

    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 6)).astype("float32")
    classes = (x @ rng.normal(size=(6, 3))).argmax(axis=1)
    model = small_model()
    options = dict(epochs=2, batch_size=10, seed=3, shuffle=False, verbose=0, train_algo="paramserv",
                   workers=2)
    local = Keras2DML(model, **options).fit(x, classes)
    assert LAST_RUN["mode"] == "LOCAL"
    on_spark = Keras2DML(model, spark=spark, **options)
    if data == "numpy":
        on_spark.fit(x, classes)
    else:
        frame = spark.createDataFrame([(row.tolist(), int(c)) for row, c in zip(x, classes)],
                                      ["features", "label"])
        on_spark.fit(frame)
    assert LAST_RUN["mode"] == "REMOTE_SPARK" and LAST_RUN["workers"] == 2
    for name, weights in local.weights_.items():
        np.testing.assert_allclose(on_spark.weights_[name], weights, rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(on_spark.history_["loss"], local.history_["loss"], atol=1e-10)


def test_repeated_calls_reuse_the_workers_partitions_and_the_run_releases_them(spark, monkeypatch):
    """The estimator calls paramserv once per epoch: with the same distributed data and
    partition the workers' partitions are built once; a new random partition builds new ones;
    after the run nothing stays persisted."""
    from kerasdml.runtime.paramserv import remote

    built = []
    original = remote.built_partitions
    monkeypatch.setattr(remote, "serves_from_driver", lambda features, labels: False)
    monkeypatch.setattr(remote, "built_partitions",
                        lambda *args: built.append(args[3].seed) or original(*args))
    x, y = linear_data()
    call = ('m = paramserv(model=m, features=X, labels=Y, upd="gradients", agg="aggregation", '
            'hyperparams=list(lr=0.1), mode="REMOTE_SPARK", utype="BSP", freq="BATCH", epochs=1, '
            'batchsize=10, k=2, scheme="{scheme}"{seed})\n')
    script = (LINEAR + "m = list(matrix(0, rows=3, cols=1), matrix(0, rows=1, cols=1))\n"
              + call.format(scheme="DISJOINT_CONTIGUOUS", seed="") * 3
              + call.format(scheme="DISJOINT_RANDOM", seed=", seed=7") * 2
              + call.format(scheme="DISJOINT_RANDOM", seed=", seed=8")
              + "W = as.matrix(m[1])\n")
    before = set(spark.sparkContext._jsc.getPersistentRDDs().keySet())
    out = run_string(script, inputs={"X": x, "Y": y}, outputs=["W"], spark=spark)
    assert built == [None, 7, 8]
    assert np.all(np.isfinite(out["W"]))
    assert set(spark.sparkContext._jsc.getPersistentRDDs().keySet()) == before


MOMENTUM = """
gradients = function(list[unknown] model, list[unknown] hyperparams,
                     matrix[double] features, matrix[double] labels)
    return (list[unknown] gradients) {
  W = as.matrix(model[1])
  err = features %*% W - labels
  gradients = list(t(features) %*% err / nrow(features))
}
aggregation = function(list[unknown] model, list[unknown] hyperparams, list[unknown] gradients)
    return (list[unknown] modelResult) {
  v = 0.9 * as.matrix(model[2]) + as.matrix(gradients[1])
  modelResult = list(as.matrix(model[1]) - 0.05 * v, v, as.matrix(model[3]) + 1)
}
model = list(matrix(0, rows=3, cols=1), matrix(0, rows=3, cols=1), matrix(0, rows=400, cols=100))
m = paramserv(model=model, features=X, labels=Y, upd="gradients", agg="aggregation",
              mode="MODE", utype="BSP", freq="FREQ", epochs=2, batchsize=10, k=2)
W = as.matrix(m[1])
V = as.matrix(m[3])
"""


@pytest.mark.parametrize("freq", ["BATCH", "EPOCH"])
def test_workers_get_only_what_upd_reads_and_bsp_still_equals_local(freq, spark):
    """upd reads model[1]: exchanging every batch, the server sends the momentum and the large
    third element as empty matrices; with EPOCH the workers call agg and get everything."""
    from kerasdml.runtime.paramserv.run import LAST_RUN

    x, y = linear_data()
    script = MOMENTUM.replace("FREQ", freq)
    found = {}
    for mode in ("LOCAL", "REMOTE_SPARK"):
        found[mode] = run_string(script.replace("MODE", mode), inputs={"X": x, "Y": y},
                                 outputs=["W", "V"], spark=spark if mode != "LOCAL" else None)
    assert np.array_equal(found["LOCAL"]["W"], found["REMOTE_SPARK"]["W"])
    assert np.array_equal(found["LOCAL"]["V"], found["REMOTE_SPARK"]["V"])
    # a model for each step of each worker: 30 rows each, 3 batches, over 2 epochs
    replies = 2 * (6 if freq == "BATCH" else 2)
    if freq == "BATCH":
        assert LAST_RUN["server_sent_bytes"] < replies * 1_000
    else:
        assert LAST_RUN["server_sent_bytes"] >= replies * 400 * 100 * 8


@pytest.mark.parametrize("scheme", ["DISJOINT_CONTIGUOUS", "DISJOINT_ROUND_ROBIN", "DISJOINT_RANDOM",
                                    "OVERLAP_RESHUFFLE"])
def test_shares_served_by_the_driver_equal_the_partitions_shuffled_on_the_executors(scheme, spark):
    """numpy data is served to the workers by the driver; distributed data is cut where it
    lives: both give every worker the same rows in the same order."""
    from kerasdml.runtime.paramserv.driver_shares import DriverShares
    from kerasdml.runtime.paramserv.spark_data import Plan, worker_partitions
    from kerasdml.runtime.spark.matrix import from_numpy

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(53, 4)), rng.normal(size=(53, 2)).astype(np.float32)
    plan = Plan(scheme, 53, 3, 11)
    sc = spark.sparkContext
    shuffled = worker_partitions(from_numpy(sc, x, 10), from_numpy(sc, y, 10), plan)
    try:
        found = shuffled.glom().collect()
    finally:
        shuffled.unpersist()
    shares = DriverShares(x, y, plan)
    assert shares.workers == len(found) == 3
    for worker, (executors, rows) in enumerate(zip(found, plan.parts())):
        (w, xe, ye), = executors
        xd, yd = shares.share(worker)
        assert w == worker and np.array_equal(xd, x[rows]) and np.array_equal(yd, y[rows])
        assert yd.dtype == np.float32 and xd.flags.c_contiguous and yd.flags.c_contiguous
        assert np.array_equal(xe, xd) and np.array_equal(ye, yd)


def test_numpy_data_reaches_the_workers_over_the_channel_not_through_spark(spark, monkeypatch):
    """No Spark partitions are built for numpy data: each worker asks the server for its rows;
    the run equals the local one, and so does the run on partitions built on the executors."""
    from kerasdml.runtime.paramserv import remote

    built = []
    original = remote.built_partitions
    monkeypatch.setattr(remote, "built_partitions", lambda *args: built.append(1) or original(*args))
    settings = 'utype="BSP", freq="BATCH", epochs=2, batchsize=7, k=2, scheme="DISJOINT_RANDOM", seed=5'
    local = train(settings, "LOCAL")
    assert np.array_equal(train(settings, "REMOTE_SPARK", spark), local)
    assert built == []
    monkeypatch.setattr(remote, "serves_from_driver", lambda features, labels: False)
    assert np.array_equal(train(settings, "REMOTE_SPARK", spark), local)
    assert built == [1]


# a hidden layer: upd's second gradient (160 x 60 doubles, past early_push.MIN_STREAMED_BYTES) is
# final two statements before the end, so a worker exchanging every batch streams it
HIDDEN = """
gradients = function(list[unknown] model, list[unknown] hyperparams,
                     matrix[double] features, matrix[double] labels)
    return (list[unknown] gradients) {
  W1 = as.matrix(model[1])
  W2 = as.matrix(model[2])
  H = tanh(features %*% W1)
  err = H %*% W2 - labels
  dW2 = t(H) %*% err / nrow(features)
  dH = (err %*% t(W2)) * (1 - H^2)
  dW1 = t(features) %*% dH / nrow(features)
  gradients = list(dW1, dW2)
}
aggregation = function(list[unknown] model, list[unknown] hyperparams, list[unknown] gradients)
    return (list[unknown] modelResult) {
  modelResult = list(as.matrix(model[1]) - 0.05 * as.matrix(gradients[1]),
                     as.matrix(model[2]) - 0.05 * as.matrix(gradients[2]))
}
X = rand(rows=60, cols=3, min=-1, max=1, seed=4)
Y = rand(rows=60, cols=60, min=-1, max=1, seed=5)
model = list(rand(rows=3, cols=160, min=-0.5, max=0.5, seed=6),
             rand(rows=160, cols=60, min=-0.1, max=0.1, seed=7))
m = paramserv(model=model, features=X, labels=Y, upd="gradients", agg="aggregation",
              mode="MODE", utype="BSP", freq="BATCH", epochs=2, batchsize=7, k=2)
W1 = as.matrix(m[1])
W2 = as.matrix(m[2])
print(toString(W1, decimal=17))
print(toString(colSums(W2), decimal=17))
"""


@pytest.fixture
def streaming(spark):
    """spark.kerasdml.streamGradients=true for this thread's runs (by default the workers do not
    stream where they fill every core of a local master, as 2 workers on local[2] do)."""
    spark.sparkContext.setLocalProperty("spark.kerasdml.streamGradients", "true")
    yield spark
    spark.sparkContext.setLocalProperty("spark.kerasdml.streamGradients", None)


def test_streamed_gradients_give_the_local_result(streaming):
    """Every push of the BSP run is preceded by its large gradient, sent while upd still ran;
    the result is LOCAL's, bit for bit."""
    from kerasdml.runtime.paramserv.run import LAST_RUN

    found = {mode: run_string(HIDDEN.replace("MODE", mode), outputs=["W1", "W2"],
                              spark=streaming if mode != "LOCAL" else None)
             for mode in ("LOCAL", "REMOTE_SPARK")}
    assert LAST_RUN["mode"] == "REMOTE_SPARK"
    assert LAST_RUN["pushes"] == 2 * 2 * 5           # 2 workers, 2 epochs, 30 rows in batches of 7
    assert LAST_RUN["streamed_parts"] == LAST_RUN["pushes"]
    for name in ("W1", "W2"):
        assert np.array_equal(found["LOCAL"][name], found["REMOTE_SPARK"][name]), name


def test_by_default_workers_stream_unless_they_fill_every_core_of_a_local_master(spark):
    from kerasdml.runtime.paramserv.run import LAST_RUN

    found = {}
    for k in (2, 1):
        found[k] = run_string(HIDDEN.replace("MODE", "REMOTE_SPARK").replace("k=2", f"k={k}"),
                              outputs=["W2"], spark=spark)["W2"]
        assert LAST_RUN["workers"] == k
        assert LAST_RUN["streamed_parts"] == (LAST_RUN["pushes"] if k == 1 else 0), k
    local = run_string(HIDDEN.replace("MODE", "LOCAL").replace("k=2", "k=1"), outputs=["W2"])["W2"]
    assert np.array_equal(found[1], local)


def test_spark_kerasdml_stream_gradients_false_turns_the_streaming_off(streaming):
    from kerasdml.runtime.paramserv.run import LAST_RUN

    sc = streaming.sparkContext
    streamed = run_string(HIDDEN.replace("MODE", "REMOTE_SPARK"), outputs=["W2"], spark=streaming)
    assert LAST_RUN["streamed_parts"] == 20
    sc.setLocalProperty("spark.kerasdml.streamGradients", "false")
    plain = run_string(HIDDEN.replace("MODE", "REMOTE_SPARK"), outputs=["W2"], spark=streaming)
    assert LAST_RUN["streamed_parts"] == 0 and LAST_RUN["pushes"] == 20
    assert np.array_equal(plain["W2"], streamed["W2"])
    sc.setLocalProperty("spark.kerasdml.streamGradients", "yes")
    with pytest.raises(DMLError, match="spark.kerasdml.streamGradients must be true or false"):
        run_string(HIDDEN.replace("MODE", "REMOTE_SPARK"), spark=streaming)


def _shared_segments() -> set:
    return {path.name for path in SHARED_DIRECTORY.glob("kerasdml-ps-*")}


@pytest.mark.skipif(not shared_memory.available(), reason="no writable /dev/shm")
def test_on_one_host_large_arrays_go_through_shared_memory_unless_turned_off(spark):
    """Workers on the driver's host send their gradients and get their models through /dev/shm
    (each push's and each model's 160 x 60 doubles, once their size came twice);
    spark.kerasdml.sharedMemory=false keeps them on the sockets. Both give LOCAL's result, and
    no segment is left behind."""
    from kerasdml.runtime.paramserv.run import LAST_RUN

    before, sc = _shared_segments(), spark.sparkContext
    local = run_string(HIDDEN.replace("MODE", "LOCAL"), outputs=["W1", "W2"])
    found = {}
    for shared in ("true", "false"):
        sc.setLocalProperty("spark.kerasdml.sharedMemory", shared if shared == "false" else None)
        try:
            found[shared] = run_string(HIDDEN.replace("MODE", "REMOTE_SPARK"), outputs=["W1", "W2"],
                                       spark=spark)
        finally:
            sc.setLocalProperty("spark.kerasdml.sharedMemory", None)
        # pushes in and as many models out, but the first two of each size on a connection
        # go inline (the second has the segment made, in the background)
        crossed, element = LAST_RUN["shared_memory_bytes"], 160 * 60 * 8
        if shared == "true":
            assert 0 < crossed <= 2 * (LAST_RUN["pushes"] - 2 * 2) * element
            assert crossed % element == 0
        else:
            assert crossed == 0
        for name in ("W1", "W2"):
            assert np.array_equal(found[shared][name], local[name]), (shared, name)
    assert _shared_segments() == before
    sc.setLocalProperty("spark.kerasdml.sharedMemory", "maybe")
    try:
        with pytest.raises(DMLError, match="spark.kerasdml.sharedMemory must be true or false"):
            run_string(HIDDEN.replace("MODE", "REMOTE_SPARK"), spark=spark)
    finally:
        sc.setLocalProperty("spark.kerasdml.sharedMemory", None)


def test_a_retried_task_streams_its_gradients_again_and_bsp_gives_the_same_result(tmp_path):
    """Worker 0 fails after computing its second step, whose gradient it had streamed: the
    parts go with its connection, the retried task sends them again, the result is LOCAL's."""
    import io

    before = _shared_segments()
    out = io.StringIO()
    run_string(HIDDEN.replace("MODE", "LOCAL"), out=out)
    script = tmp_path / "hidden.dml"
    script.write_text(HIDDEN.replace("MODE", "REMOTE_SPARK"))
    result = subprocess.run(
        [sys.executable, "-m", "kerasdml.compiler.launch", "run", str(script), "--master", "local[2,2]",
         "--conf", "spark.ui.enabled=false", "--conf", "spark.kerasdml.test.failFirstAttempt=true",
         "--conf", "spark.kerasdml.streamGradients=true", "--conf", "spark.kerasdml.logLevel=WARN"],
        capture_output=True, text=True, timeout=240, env=dict(os.environ), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "injected failure of worker 0's first attempt" in result.stderr
    assert result.stdout == out.getvalue()
    assert _shared_segments() == before              # the failed task's segments went too


# --- workers kept from one call to the next (worker_pool.py) ------------------------------------

KEPT = 'utype="BSP", freq="NBATCHES", nbatches=2, epochs=2, batchsize=5, k=2'


@pytest.fixture
def kept_runtime(spark):
    from kerasdml.runtime.spark.runtime import SparkRuntime

    runtime = SparkRuntime(spark.sparkContext)
    yield runtime
    runtime.release_paramserv_workers()


def test_kept_workers_serve_the_next_call_in_the_same_spark_job(kept_runtime):
    """Inside kept_paramserv_workers the second call finds the first call's workers (one
    Spark job, one server), gives the LOCAL result, and the workers go when the scope ends."""
    local = train(KEPT, "LOCAL")
    with kept_runtime.kept_paramserv_workers():
        first = train(KEPT, "REMOTE_SPARK", kept_runtime)
        pool = kept_runtime.paramserv_pool
        assert pool is not None and not pool.ended.is_set()     # its tasks wait for the next call
        second = train(KEPT, "REMOTE_SPARK", kept_runtime)
        assert kept_runtime.paramserv_pool is pool
    assert np.array_equal(first, local) and np.array_equal(second, local)
    assert kept_runtime.paramserv_pool is None
    assert pool.ended.wait(10) and pool.error is None         # the job ends in the background
    assert list(kept_runtime.sc.statusTracker().getActiveJobsIds()) == []


def test_other_calls_start_new_workers_and_idle_ones_go(kept_runtime, monkeypatch):
    """A call with other workers (k) is not served by the kept ones, which go first; kept
    workers left waiting past IDLE_SECONDS go by themselves, and a Spark job started
    meanwhile waits for their task slots only that long."""
    from kerasdml.runtime.paramserv import remote

    monkeypatch.setattr(remote, "IDLE_SECONDS", 0.3)
    with kept_runtime.kept_paramserv_workers():
        train(KEPT, "REMOTE_SPARK", kept_runtime)
        pool = kept_runtime.paramserv_pool
        one_worker = KEPT.replace("k=2", "k=1")
        assert np.array_equal(train(one_worker, "REMOTE_SPARK", kept_runtime), train(one_worker, "LOCAL"))
        assert pool.ended.is_set() and kept_runtime.paramserv_pool is not pool
        pool = kept_runtime.paramserv_pool
        total = run_string("s = sum(X %*% t(X))", inputs={"X": linear_data()[0]}, outputs=["s"],
                           spark=kept_runtime, exec_mode="spark")["s"]   # needs both task slots
        assert total == pytest.approx(float(np.sum(linear_data()[0] @ linear_data()[0].T)))
        assert pool.ended.wait(5) and pool.error is None
        assert np.array_equal(train(KEPT, "REMOTE_SPARK", kept_runtime), train(KEPT, "LOCAL"))
        assert kept_runtime.paramserv_pool is not pool


def test_workers_started_ahead_serve_the_first_call_and_any_program(kept_runtime):
    """kept_paramserv_workers(k) starts the Spark job of k workers at once (the estimator does
    as its fit begins, before its script reaches paramserv): the first call on driver data with
    k workers runs on them, and so does a call of another program (each call names its
    functions, which a worker compiles when its process has not); more workers than task
    slots start nothing."""
    with kept_runtime.kept_paramserv_workers(3):
        assert kept_runtime.paramserv_pool is None        # local[2]: BSP could not run them
    with kept_runtime.kept_paramserv_workers(2):
        pool = kept_runtime.paramserv_pool
        assert pool is not None and not pool.ended.is_set()
        first = train(KEPT, "REMOTE_SPARK", kept_runtime)
        assert kept_runtime.paramserv_pool is pool
        x, y = linear_data()
        other = run_string(MOMENTUM.replace("MODE", "REMOTE_SPARK").replace("FREQ", "EPOCH"),
                           inputs={"X": x, "Y": y}, outputs=["W"], spark=kept_runtime)["W"]
        assert kept_runtime.paramserv_pool is pool
    assert np.array_equal(first, train(KEPT, "LOCAL"))
    local = run_string(MOMENTUM.replace("MODE", "LOCAL").replace("FREQ", "EPOCH"),
                       inputs={"X": x, "Y": y}, outputs=["W"])["W"]
    assert np.array_equal(other, local)
    assert pool.ended.wait(10) and pool.error is None


def test_the_estimators_epochs_on_spark_run_on_one_pool_of_workers(spark, monkeypatch):
    """Keras2DML(train_algo="paramserv") with numpy data keeps its Spark workers across the
    fit's epochs (each epoch is a paramserv call of its own) and lets them go at its end;
    BSP still gives the LOCAL run's weights."""
    from kerasdml.compiler.estimator import Keras2DML
    from kerasdml.runtime.paramserv import remote

    pools = []
    original = remote._new_pool
    monkeypatch.setattr(remote, "_new_pool", lambda *args: pools.append(original(*args)) or pools[-1])
    rng = np.random.default_rng(6)
    x = rng.normal(size=(60, 6)).astype("float32")
    classes = (x @ rng.normal(size=(6, 3))).argmax(axis=1)
    options = dict(epochs=3, batch_size=10, seed=3, shuffle=True, verbose=0, train_algo="paramserv",
                   workers=2, frequency=2)
    model = small_model()
    local = Keras2DML(model, **options).fit(x, classes)
    on_spark = Keras2DML(model, spark=spark, **options).fit(x, classes)
    assert len(pools) == 1 and pools[0].ended.wait(10) and pools[0].error is None
    assert on_spark.spark_runtime().paramserv_pool is None
    for name, weights in local.weights_.items():
        np.testing.assert_allclose(on_spark.weights_[name], weights, rtol=0, atol=1e-10, err_msg=name)


KEPT_RETRY = """
import sys
import numpy as np
from kerasdml.runtime.api import run_string
from kerasdml.runtime.spark import spark_session
from kerasdml.runtime.spark.session import spark_runtime

script = sys.stdin.read()
spark = spark_session("local[2,2]", {"spark.ui.enabled": "false", "spark.kerasdml.logLevel": "WARN",
                                     "spark.kerasdml.test.failFirstAttempt": "true"})
runtime = spark_runtime(spark)
x = np.random.default_rng(3).normal(size=(60, 3))
y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.25
found = []
with runtime.kept_paramserv_workers():
    for mode in ("REMOTE_SPARK", "REMOTE_SPARK"):
        found.append(run_string(script.replace("MODE", mode), inputs={"X": x, "Y": y},
                                outputs=["W"], spark=runtime)["W"])
local = run_string(script.replace("MODE", "LOCAL"), inputs={"X": x, "Y": y}, outputs=["W"])["W"]
print("same" if all(np.array_equal(w, local) for w in found) else f"differ {found} {local}")
"""


def test_a_kept_worker_whose_first_attempt_fails_is_retried_and_bsp_gives_the_same_result():
    script = LINEAR + f"""
model = list(matrix(0, rows=3, cols=1), matrix(0, rows=1, cols=1))
m = paramserv(model=model, features=X, labels=Y, upd="gradients", agg="aggregation",
              hyperparams=list(lr=0.1), mode="MODE", {KEPT})
W = as.matrix(m[1])
"""
    result = subprocess.run([sys.executable, "-c", KEPT_RETRY], input=script, capture_output=True,
                            text=True, timeout=240, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "injected failure of worker 0's first attempt" in result.stderr
    assert result.stdout.strip() == "same"
