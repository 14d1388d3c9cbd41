"""Scoring a DataFrame on Spark local[2]: KerasDMLModel.transform (per partition, mapInArrow,
the local runtime's native kernels on the executors) against what a Spark user would pick
instead, pyspark's predict_batch_udf wrapping keras' model.predict, on the same session and the
same DataFrame, single precision. Rows are MNIST images made by the executors (no driver-side
copy), so the driver's memory shows what scoring itself costs it.

    .venv/bin/python bench/run.py spark_scoring [--quick]
    .venv/bin/python bench/bench_spark_scoring.py --rows 20000 --big-rows 200000
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from harness import Options, Row, format_table, seconds_once, side_by_side

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"
CONF = {"spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.default.parallelism": "2", "spark.sql.shuffle.partitions": "4"}
BATCH = 256


def session():
    from kerasdml.runtime.spark import spark_session
    return spark_session("local[2]", CONF)


def _pool_file(folder: str) -> str:
    with np.load(MNIST) as data:
        pool = (data["x_test"].reshape(-1, 784) / np.float32(255)).astype(np.float32)
    np.save(f"{folder}/pool.npy", pool)
    return f"{folder}/pool.npy"


def make_rows(pool_file: str, shape: tuple, batches):
    """Executors' side: ids in, (id, features) out; images cycle through the pool."""
    import pyarrow as pa

    pool = np.load(pool_file, mmap_mode="r")
    width = int(np.prod(shape))
    for batch in batches:
        ids = batch.column(0).to_numpy()
        images = np.asarray(pool[ids % len(pool)])
        images = np.tile(images, (1, -(-width // images.shape[1])))[:, :width]
        features = pa.ListArray.from_arrays(pa.array(np.arange(len(ids) + 1, dtype=np.int32) * width),
                                            pa.array(images.reshape(-1)))
        yield pa.RecordBatch.from_arrays([pa.array(ids), features], names=["id", "features"])


def frame(spark, pool_file: str, count: int, shape: tuple):
    from pyspark import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return spark.range(count, numPartitions=2).mapInArrow(
        partial(make_rows, pool_file, shape), "id long, features array<float>")


def keras_udf(path: str, shape: tuple):
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType

    def make_predict():
        import keras
        model = keras.models.load_model(path)
        return lambda x: model.predict(x.reshape(-1, *shape), batch_size=BATCH, verbose=0)
    return predict_batch_udf(make_predict, return_type=ArrayType(FloatType()), batch_size=BATCH,
                             input_tensor_shapes=[[int(np.prod(shape))]])


def noop(df) -> None:
    df.write.format("noop").mode("overwrite").save()


def collected(df) -> None:
    df.select("id", "prediction").toArrow()


def compare(name: str, spark, path: str, pool_file: str, shape: tuple, count: int,
            repeats: int, sinks=(("noop sink", noop), ("collected", collected))) -> list[Row]:
    from kerasdml.compiler.spark_ml import KerasDMLModel

    df = frame(spark, pool_file, count, shape)
    ours = KerasDMLModel(model=path, probabilityCol="probability", batchSize=BATCH,
                         precision="single").transform(df)
    theirs = df.withColumn("prediction", keras_udf(path, shape)("features"))
    _check(ours, theirs)
    rows = []
    for sink_name, sink in sinks:
        mine, ref = side_by_side(lambda: sink(ours), lambda: sink(theirs), repeats)
        rows.append(Row(f"{name}, {count:,} rows, {sink_name} ({count / mine:,.0f} vs "
                        f"{count / ref:,.0f} rows/s)", mine, ref, "predict_batch_udf + Keras",
                        target=1.0))
    return rows


def _check(ours, theirs) -> None:
    got = ours.limit(200).select("id", "probability").toPandas().sort_values("id")
    ref = theirs.limit(200).select("id", "prediction").toPandas().sort_values("id")
    np.testing.assert_allclose(np.stack(got["probability"].to_numpy()),
                               np.stack(ref["prediction"].to_numpy()), atol=1e-4)


def block_row(spark, path: str, pool_file: str, count: int) -> Row:
    """The previous path: the DataFrame as a distributed block matrix, scored with block-matrix
    operations, against the per-partition path on the same rows, both collected to numpy."""
    from kerasdml.compiler.compile import compile_model

    compiled = compile_model(path)
    df = frame(spark, pool_file, count, (28, 28, 1)).select("features")
    blocks = seconds_once(lambda: compiled.predict(df, spark=spark, precision="single",
                                                   scoring="blocks"))
    partitions = seconds_once(lambda: compiled.predict(df, spark=spark, precision="single"))
    return Row(f"LeNet, {count:,} rows, block matrices ({count / blocks:,.0f} rows/s) vs per "
               f"partition ({count / partitions:,.0f} rows/s)", blocks, partitions,
               "per-partition path")


def driver_memory_row(spark, path: str, pool_file: str, count: int) -> Row:
    """Scores `count` rows into the noop sink; the driver process's peak resident memory grows
    by what scoring holds in it (the rows never reach it)."""
    from kerasdml.compiler.spark_ml import KerasDMLModel

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    df = frame(spark, pool_file, count, (28, 28, 1))
    seconds = seconds_once(lambda: noop(KerasDMLModel(model=path, batchSize=BATCH).transform(df)))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = Row(f"LeNet, {count:,} rows, noop sink, once ({count / seconds:,.0f} rows/s)", seconds,
              seconds, "itself")
    row.notes.append(f"driver Python peak RSS {before:.0f} MB before, {after:.0f} MB after "
                     f"scoring {count:,} rows")
    return row


def models(folder: str) -> dict:
    """LeNet (the seed's), ResNet50 at 32x32 and an LSTM classifier, saved by Keras."""
    import keras

    from kerasdml.compiler.demo import lenet

    paths = {"lenet": f"{folder}/lenet.keras", "resnet50": f"{folder}/resnet50.keras",
             "lstm": f"{folder}/lstm.keras"}
    lenet(seed=0).save(paths["lenet"])
    keras.utils.set_random_seed(1)
    keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10).save(
        paths["resnet50"])
    keras.Sequential([keras.Input((28, 28)), keras.layers.LSTM(64),
                      keras.layers.Dense(10, activation="softmax")], name="lstm").save(paths["lstm"])
    return paths


def rows(options: Options, count: int | None = None, big: int | None = None) -> list[Row]:
    count = count or (2000 if options.quick else 20_000)
    big = big if big is not None else (0 if options.quick else 200_000)
    folder = tempfile.mkdtemp(prefix="kerasdml-bench-")
    spark, pool = session(), _pool_file(folder)
    paths = models(folder)
    started = time.perf_counter()
    result = compare("LeNet", spark, paths["lenet"], pool, (28, 28, 1), count, options.repeats)
    small = max(200, count // 10)
    result += compare("ResNet50 32x32", spark, paths["resnet50"], pool, (32, 32, 3), small // 4,
                      1, sinks=(("noop sink", noop),))
    result += compare("LSTM(64) classifier", spark, paths["lstm"], pool, (28, 28), small, 1,
                      sinks=(("noop sink", noop),))
    result.append(block_row(spark, paths["lenet"], pool, small))
    if big:  # kerasdml alone: the reference at this size would double a long run
        result.append(driver_memory_row(spark, paths["lenet"], pool, big))
    result[0].notes.append(f"Spark local[2], batch {BATCH}; took {time.perf_counter() - started:.0f} s")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--big-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    print(format_table(rows(Options(repeats=args.repeats), args.rows, args.big_rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
