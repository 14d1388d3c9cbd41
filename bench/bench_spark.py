"""The Spark backend on local[2], against references measured on the same Spark in this process.

  * block size: a distributed multiply (shuffle strategy) at several block sizes, relative to
    the default (how DEFAULT_BLOCK was chosen);
  * matmul: A %*% B for two n x n matrices, numpy in and numpy out, with our broadcast and
    shuffle strategies, against pyspark.mllib's BlockMatrix.multiply (blocks built from the same
    numpy arrays, result collected to numpy);
  * LeNet forward: the hand-written LeNet-shaped forward pass (tests/runtime/spark/
    lenet_forward.dml: 32 and 64 5x5 filters, 512 hidden, 10 classes) over a distributed batch
    in hybrid mode, against the local runtime on the same rows;
  * LeNet scoring: the seed's LeNet compiled to DML, one forward pass over a distributed input,
    against the local runtime and against Keras' predict.

Run:  .venv/bin/python bench/bench_spark.py [--n 2000] [--sweep-n 4000] [--rows 4000] [--repeats 2]
BlockMatrix needs minutes per multiply at 2000x2000 on 2 cores (building it from Python
dominates), so the comparison runs at 2000 by default rather than 6000.
      (bench/run.py spark puts the rows in the common table)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from harness import Options, Row, format_table, seconds_once, side_by_side

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runtime" / "spark"))

CONF = {"spark.driver.memory": "6g", "spark.ui.enabled": "false", "spark.default.parallelism": "2",
        "spark.sql.shuffle.partitions": "4", "spark.driver.maxResultSize": "4g"}


def session():
    from kerasdml.runtime.spark import spark_session

    return spark_session("local[2]", CONF)


def ours_multiply(sc, a, b, block: int, broadcast_limit: int):
    from kerasdml.runtime.spark.matmul import matmul
    from kerasdml.runtime.spark.runtime import SparkRuntime

    runtime = SparkRuntime(sc, block=block, broadcast_limit=broadcast_limit)
    return lambda: matmul(runtime, runtime.from_numpy(a), runtime.from_numpy(b)).to_numpy()


def mllib_multiply(sc, a, b, block: int):
    """BlockMatrix from the same numpy blocks (column-major DenseMatrix), product collected."""
    from pyspark.mllib.linalg import Matrices
    from pyspark.mllib.linalg.distributed import BlockMatrix

    def blocks(x):
        def dense(i, j):
            part = x[i:i + block, j:j + block]
            return Matrices.dense(part.shape[0], part.shape[1], part.ravel(order="F").tolist())
        return [((i // block, j // block), dense(i, j))
                for i in range(0, x.shape[0], block) for j in range(0, x.shape[1], block)]

    def run():
        left = BlockMatrix(sc.parallelize(blocks(a), 4), block, block, a.shape[0], a.shape[1])
        right = BlockMatrix(sc.parallelize(blocks(b), 4), block, block, b.shape[0], b.shape[1])
        return left.multiply(right).toLocalMatrix().toArray()
    return run


def block_rows(sc, n: int, repeats: int) -> list[Row]:
    from kerasdml.runtime.spark.runtime import DEFAULT_BLOCK

    rng = np.random.default_rng(1)
    a, b = rng.random((n, n)), rng.random((n, n))
    reference = ours_multiply(sc, a, b, DEFAULT_BLOCK, 0)
    rows = []
    for block in (250, 500, 2000):
        ours, ref = side_by_side(ours_multiply(sc, a, b, block, 0), reference, repeats)
        rows.append(Row(f"shuffle matmul {n}x{n}, block {block}", ours, ref, f"(block {DEFAULT_BLOCK})"))
    return rows


def matmul_rows(sc, n: int, repeats: int) -> list[Row]:
    """BlockMatrix is timed once (one multiply takes minutes); ours keeps its best of `repeats`."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    expected = a @ b
    started = time.perf_counter()
    np.testing.assert_allclose(mllib_multiply(sc, a, b, 1000)(), expected, rtol=1e-9)
    reference = time.perf_counter() - started
    rows = []
    for strategy, limit in (("broadcast", 2**40), ("shuffle", 0)):
        ours = ours_multiply(sc, a, b, 1000, limit)
        np.testing.assert_allclose(ours(), expected, rtol=1e-9)
        best = min(seconds_once(ours) for _ in range(repeats))
        rows.append(Row(f"matmul {n}x{n} %*% {n}x{n} ({strategy})", best, reference, "mllib BlockMatrix"))
    rows[-1].notes.append(f"numpy a @ b on the driver: {seconds_once(lambda: a @ b):.2f} s; BlockMatrix "
                          "multiplies in the JVM (Java BLAS here: no native libblas)")
    return rows


def lenet_rows(spark, rows: int, repeats: int) -> list[Row]:
    from spark_lenet import SCRIPT, lenet_inputs

    from kerasdml.runtime.api import run_file
    from kerasdml.runtime.spark.runtime import SparkRuntime

    inputs = lenet_inputs(rows)
    # a budget below X (rows x 784 doubles) and above every weight matrix: X and the
    # convolution outputs are distributed, the weights and the small results stay local
    budget = min(inputs["X"].nbytes // 2, 16 * 2**20)
    runtime = SparkRuntime(spark.sparkContext, block=500, memory_budget=budget)

    def distributed():
        return run_file(SCRIPT, inputs=inputs, outputs=["predicted"], spark=runtime, exec_mode="hybrid")

    def local():
        return run_file(SCRIPT, inputs=inputs, outputs=["predicted"])
    np.testing.assert_array_equal(distributed()["predicted"], local()["predicted"])
    ours, ref = side_by_side(distributed, local, repeats)
    row = Row(f"LeNet forward, {rows} rows, hybrid (rows/s {rows / ours:.0f} vs {rows / ref:.0f})",
              ours, ref, "local runtime")
    return [row]


def scoring_rows(spark, rows: int, repeats: int) -> list[Row]:
    """The seed's LeNet compiled to DML, one pass over a distributed input (hybrid), against the
    local runtime and Keras' predict on the same rows."""
    import tempfile

    from kerasdml.compiler.compile import compile_model
    from kerasdml.compiler.demo import lenet
    from kerasdml.runtime.spark.runtime import SparkRuntime

    model = lenet(seed=0)
    folder = tempfile.mkdtemp(prefix="kerasdml-bench-")
    model.save(f"{folder}/lenet.keras")
    compiled = compile_model(f"{folder}/lenet.keras")
    X = np.random.default_rng(2).random((rows, 28, 28, 1)).astype("float32")
    runtime = SparkRuntime(spark.sparkContext, block=500, memory_budget=min(X.nbytes, 16 * 2**20))

    def distributed():
        return compiled.predict(X, batch_size=rows, spark=runtime)
    local = lambda: compiled.predict(X)  # noqa: E731
    keras = lambda: model.predict(X, batch_size=256, verbose=0)  # noqa: E731
    np.testing.assert_allclose(distributed(), keras(), atol=1e-5)
    ours, ref = side_by_side(distributed, local, repeats)
    mine, tf = side_by_side(distributed, keras, repeats)
    return [Row(f"LeNet scoring, {rows} rows, hybrid ({rows / ours:.0f} rows/s)", ours, ref, "local runtime"),
            Row(f"LeNet scoring, {rows} rows, hybrid ({rows / mine:.0f} rows/s)", mine, tf, "Keras predict")]


def rows(options: Options) -> list[Row]:
    n, sweep, batch = (1000, 2000, 1000) if options.quick else (1500, 4000, 4000)
    spark = session()
    sc = spark.sparkContext
    started = time.perf_counter()
    result = block_rows(sc, sweep, options.repeats) + matmul_rows(sc, n, options.repeats) + \
        lenet_rows(spark, batch, options.repeats) + scoring_rows(spark, batch, options.repeats)
    result[0].notes.append(f"Spark local[2]; all Spark rows took {time.perf_counter() - started:.0f} s")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="matrix size of the multiply vs BlockMatrix")
    parser.add_argument("--sweep-n", type=int, default=4000, help="matrix size of the block size sweep")
    parser.add_argument("--rows", type=int, default=4000, help="LeNet batch rows")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-blocks", action="store_true", help="skip the block size sweep")
    parser.add_argument("--skip-mllib", action="store_true", help="skip the multiply vs BlockMatrix")
    args = parser.parse_args(argv)
    spark = session()
    sc = spark.sparkContext
    table = [] if args.skip_blocks else block_rows(sc, args.sweep_n, args.repeats)
    if table:
        print(format_table(table), flush=True)
    table = lenet_rows(spark, args.rows, args.repeats) + scoring_rows(spark, args.rows, args.repeats)
    print(format_table(table), flush=True)
    if not args.skip_mllib:
        print(format_table(matmul_rows(sc, args.n, args.repeats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
