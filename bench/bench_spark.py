"""The Spark backend on local[2], against references measured on the same Spark in this process.

  * block size: a distributed multiply (shuffle strategy) at several block sizes, relative to
    the default (how DEFAULT_BLOCK was chosen);
  * matmul: A %*% B for two n x n matrices, numpy in and numpy out, with our broadcast and
    shuffle strategies, against pyspark.mllib's BlockMatrix.multiply (blocks built from the same
    numpy arrays, result collected to numpy);
  * LeNet forward: the hand-written LeNet-shaped forward pass (tests/support/
    lenet_forward.dml: 32 and 64 5x5 filters, 512 hidden, 10 classes) over a distributed batch
    in hybrid mode, against the local runtime on the same rows;
  * LeNet scoring: the seed's LeNet compiled to DML, one forward pass over a distributed input,
    against the local runtime and against Keras' predict.

Run:  .venv/bin/python bench/bench_spark.py [--n 6000] [--mllib-block 500] [--sweep-n 4000]
          [--rows 4000] [--repeats 2]
      (bench/run.py spark puts the rows in the common table; with --quick the multiply is 1000x1000)

The BlockMatrix reference takes the documented path: BlockMatrix(sc.parallelize(blocks)) from
DenseMatrix blocks of the same numpy arrays, cached, BlockMatrix.multiply, and the product's blocks
collected into numpy. Where its time goes, each stage forced and timed on its own (local[2],
6000x6000, block 500: 38.0 s = blocks in Python 0.8 + to the JVM 19.4 + multiply 12.6 + collect 5.2):
  * to the JVM dominates. The constructor sends the blocks through a DataFrame whose MatrixUDT
    turns each block into a Python list of floats whatever DenseMatrix holds (so numpy values
    instead of .tolist() only save the list building in the driver), and the JVM's unpickler
    (Pyrolite) copies the whole list again at every 1000-item APPENDS: the cost per value grows
    with the block's size. 2000x2000, both operands: 3.5 s at block 250, 7.2 s at 500, 74.5 s at
    1000; 6000x6000: 15.3 s at 250, 19.4 s at 500, 425 s at 750 (on a loaded machine; 1000 would
    take over 10 minutes).
  * multiply runs in the JVM with dev.ludovic.netlib's VectorBLAS (Java's vector API: no native
    libblas on a plain machine; one core, about 16 GFLOP/s on 1000x1000 blocks, 2.5 on 2000x2000)
    after a shuffle of the blocks; smaller blocks mean more and slower products: 6000x6000 takes
    24.0 s at block 250, 12.6 s at 500.
  * collect: the blocks as DataFrame rows (2.2 s at 4000x4000) rather than toLocalMatrix()
    (12.6 s: one matrix crossing py4j as a single pickled byte array).
  * cache() matters: multiply() evaluates each operand twice (the blocks' indices plan the
    shuffle, then the blocks are multiplied), so an uncached operand is shipped from Python twice.
So block 500 is BlockMatrix's fastest here (6000x6000: 38.0 s; 47.1 s at block 250), and the
comparison runs at 6000x6000 by default. One run of bench/run.py spark (3 repeats, local[2], 2 cores)
took 11.7 minutes, the 6000x6000 rows about 8 of them: BlockMatrix 43.78 s (to the JVM 22.08,
multiply 15.62, collect 5.29), ours 20.02 s shuffle (0.46x) and 77.73 s broadcast (1.78x), numpy
on the driver 7.93 s (one BLAS thread). The broadcast strategy ships a 288 MB side there, above
the planner's default broadcast limit (256 MB): the planner would pick shuffle.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from harness import Options, Row, format_table, seconds_once, side_by_side

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))   # spark_lenet: the tests' LeNet forward script

# 10g: at 6000x6000 (288 MB a matrix) a broadcast multiply holds both parallelized inputs, the
# broadcast side and the collected product, and 6g ran out of heap on the repeated runs
CONF = {"spark.driver.memory": "10g", "spark.ui.enabled": "false", "spark.default.parallelism": "2",
        "spark.sql.shuffle.partitions": "4", "spark.driver.maxResultSize": "4g"}
MLLIB_BLOCK = 500   # BlockMatrix's fastest block size here (see above)


def session():
    from kerasdml.runtime.spark import spark_session

    return spark_session("local[2]", CONF)


def ours_multiply(sc, a, b, block: int, broadcast_limit: int):
    from kerasdml.runtime.spark.matmul import matmul
    from kerasdml.runtime.spark.runtime import SparkRuntime

    runtime = SparkRuntime(sc, block=block, broadcast_limit=broadcast_limit)
    return lambda: matmul(runtime, runtime.from_numpy(a), runtime.from_numpy(b)).to_numpy()


def mllib_multiply(sc, a, b, block: int, stages: dict | None = None):
    """A @ B through pyspark.mllib's BlockMatrix, numpy in and numpy out; with `stages`, the
    seconds of each stage of the last run are recorded there.

    Each stage is forced on its own (cache() + validate(), both public API) so that it can be
    timed; caching is also what a user would do, since multiply() evaluates each operand twice
    (once to plan the shuffle, once to multiply) and an uncached operand is shipped from Python
    again each time."""
    from pyspark.mllib.linalg import Matrices
    from pyspark.mllib.linalg.distributed import BlockMatrix

    def blocks(x):
        # DenseMatrix takes the numpy array as it is (column-major values, no Python list here)
        return [((i // block, j // block),
                 Matrices.dense(min(block, x.shape[0] - i), min(block, x.shape[1] - j),
                                x[i:i + block, j:j + block].ravel(order="F")))
                for i in range(0, x.shape[0], block) for j in range(0, x.shape[1], block)]

    def run():
        times = {}
        started = time.perf_counter()
        parts = blocks(a), blocks(b)
        times["blocks in Python"] = time.perf_counter() - started
        left, right = (BlockMatrix(sc.parallelize(p, 2 * sc.defaultParallelism), block, block, *x.shape).cache()
                       for p, x in zip(parts, (a, b)))
        left.validate()
        right.validate()
        times["to the JVM"] = time.perf_counter() - started - sum(times.values())
        product = left.multiply(right).cache()
        product.validate()
        times["multiply"] = time.perf_counter() - started - sum(times.values())
        # the blocks back as rows of a DataFrame: several times faster than toLocalMatrix(),
        # whose one dense matrix crosses py4j as a single pickled byte array
        result = np.empty((a.shape[0], b.shape[1]))
        for (i, j), m in product.blocks.collect():
            result[i * block:i * block + m.numRows, j * block:j * block + m.numCols] = m.toArray()
        times["collect"] = time.perf_counter() - started - sum(times.values())
        if stages is not None:
            stages.clear()
            stages.update(times)
        # free the cached blocks, so that what runs next finds the memory BlockMatrix held
        # (the Python wrapper has no unpersist)
        for matrix in (left, right, product):
            matrix._java_matrix_wrapper._java_model.blocks().unpersist(False)
        return result
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


def jvm_blas(sc) -> str:
    """The BLAS that mllib's local matrices use in this JVM (native when a libblas loads)."""
    try:
        return sc._jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName()
    except Exception:  # only a label for the note
        return "unknown BLAS"


def matmul_rows(sc, n: int, repeats: int, mllib_block: int = MLLIB_BLOCK) -> list[Row]:
    """BlockMatrix is timed once, after a small warm-up multiply (the JVM compiles its BLAS and
    unpickling code on first use, as our side's first run warms Python); ours keeps its best of
    `repeats` after a checked first run."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    expected = a @ b
    small = min(n, 1000)
    mllib_multiply(sc, a[:small, :small], b[:small, :small], mllib_block)()
    stages: dict[str, float] = {}
    reference_run = mllib_multiply(sc, a, b, mllib_block, stages)
    started = time.perf_counter()
    product = reference_run()
    reference = time.perf_counter() - started
    np.testing.assert_allclose(product, expected, rtol=1e-9)
    del product
    rows = []
    for strategy, limit in (("broadcast", 2**40), ("shuffle", 0)):
        ours = ours_multiply(sc, a, b, 1000, limit)
        np.testing.assert_allclose(ours(), expected, rtol=1e-9)
        best = min(seconds_once(ours) for _ in range(repeats))
        rows.append(Row(f"matmul {n}x{n} %*% {n}x{n} ({strategy})", best, reference,
                        f"mllib BlockMatrix (block {mllib_block})"))
    breakdown = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items())
    rows[-1].notes.append(f"BlockMatrix stages: {breakdown}; it multiplies in the JVM with {jvm_blas(sc)}")
    rows[-1].notes.append(f"numpy a @ b on the driver: {seconds_once(lambda: a @ b):.2f} s")
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
    n, sweep, batch = (1000, 2000, 1000) if options.quick else (6000, 4000, 4000)
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
    parser.add_argument("--n", type=int, default=6000, help="matrix size of the multiply vs BlockMatrix")
    parser.add_argument("--mllib-block", type=int, default=MLLIB_BLOCK,
                        help="BlockMatrix's block size in the multiply vs BlockMatrix")
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
        print(format_table(matmul_rows(sc, args.n, args.repeats, args.mllib_block)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
