"""Scores a parquet folder into a parquet folder on Spark with a Keras model compiled to DML:
the executors read the rows, run the generated predict.dml per partition (the local runtime
and its native kernels) and write the predictions beside the columns kept.

    python examples/spark_scoring.py MODEL.keras IN.parquet OUT.parquet [--master local[2]]
                                     [--input-col features] [--keep-cols id,label]
    python examples/spark_scoring.py          # a demo: an untrained LeNet scores the MNIST
                                              # subset shipped with kerasdml (written to parquet)

The same as the command line's `kerasdml predict MODEL --input IN.parquet --output OUT.parquet`.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def demo_inputs(folder: Path, spark) -> tuple[str, str]:
    """An untrained LeNet and the shipped MNIST subset's test images as parquet."""
    import numpy as np

    from kerasdml.compiler.datasets import load_mnist_subset
    from kerasdml.compiler.demo import lenet

    lenet(seed=0).save(folder / "lenet.keras")
    (_, _), (x_test, y_test) = load_mnist_subset()
    pixels = (x_test.reshape(len(x_test), -1) / np.float32(255)).astype(np.float32)
    rows = [(i, int(y), p.tolist()) for i, (y, p) in enumerate(zip(y_test, pixels))]
    spark.createDataFrame(rows, "id long, label int, features array<float>") \
        .write.parquet(str(folder / "mnist.parquet"))
    return str(folder / "lenet.keras"), str(folder / "mnist.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("input", nargs="?")
    parser.add_argument("output", nargs="?")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--input-col", default="features")
    parser.add_argument("--keep-cols", default=None, help="comma-separated (default: all)")
    args = parser.parse_args()

    from kerasdml.compiler.spark_ml import KerasDMLModel
    from kerasdml.runtime.spark import spark_session

    spark = spark_session(args.master)
    model, source, target = args.model, args.input, args.output
    if model is None:
        folder = Path(tempfile.mkdtemp(prefix="kerasdml-scoring-"))
        model, source = demo_inputs(folder, spark)
        target = str(folder / "scored.parquet")
    df = spark.read.parquet(source)
    if args.keep_cols:
        df = df.select(*args.keep_cols.split(","), args.input_col)
    scorer = KerasDMLModel(model=model, inputCols=[args.input_col], outputCol="prediction",
                           probabilityCol="probability")
    scorer.transform(df).drop(args.input_col).write.mode("overwrite").parquet(target)
    written = spark.read.parquet(target)
    print(f"scored {written.count()} rows of {source} into {target}: {written.columns}")
    written.show(5, truncate=60)


if __name__ == "__main__":
    main()
