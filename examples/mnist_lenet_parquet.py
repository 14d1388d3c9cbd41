"""The seed's MNIST LeNet trained with paramserv on Spark, from a DataFrame read from parquet.

    python examples/mnist_lenet_parquet.py [path/to/mnist.npz] [--master local[2]] [--epochs 1]
                                           [--rows 6000] [--train-algo paramserv] [--workers 2]

First the MNIST arrays are written as parquet tables (train and test: a `features` column of
784 floats in [0, 1] per image and a `label` column with the digit), as a data pipeline would
have left them. Then Spark reads the tables and Keras2DML trains on the DataFrame: its rows
become distributed matrices on the executors, the paramserv workers train on their partitions
there, and only the model and its gradients travel to and from the driver. The test table is
the validation data and is scored the same way. The trained model is written as .keras.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from kerasdml.runtime.local.threads import configure_threads

configure_threads()  # before numpy loads: one BLAS thread, a kernel worker per core

import numpy as np  # noqa: E402

from kerasdml.compiler.datasets import load_mnist  # noqa: E402
from kerasdml.compiler.demo import lenet  # noqa: E402
from kerasdml.compiler.estimator import Keras2DML  # noqa: E402

ROWS_PER_GROUP = 2000   # parquet row groups: Spark reads each as its own piece


def write_table(images: np.ndarray, digits: np.ndarray, path: Path) -> None:
    """A parquet table with `features` (array<float>, 784 per row) and `label` (int)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = (images.reshape(len(images), -1) / 255.0).astype(np.float32)
    offsets = pa.array(np.arange(len(flat) + 1, dtype=np.int32) * flat.shape[1])
    features = pa.ListArray.from_arrays(offsets, pa.array(flat.ravel()))
    table = pa.table({"features": features, "label": pa.array(digits.astype(np.int32))})
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path / "part-0.parquet", row_group_size=ROWS_PER_GROUP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="an mnist.npz (x_train, y_train, x_test, y_test)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rows", type=int, help="train on the first ROWS images (default all)")
    parser.add_argument("--test-rows", type=int, help="validate on the first ROWS test images")
    parser.add_argument("--train-algo", default="paramserv")
    parser.add_argument("--workers", type=int, help="paramserv workers (default: Spark's cores)")
    parser.add_argument("--frequency", default="batch", help="batch, epoch or a number")
    parser.add_argument("--precision", choices=["double", "single"], default="single")
    parser.add_argument("--tables", default="mnist_parquet", help="where the parquet goes")
    parser.add_argument("--output", default="mnist_lenet_parquet.keras")
    options = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = load_mnist(options.data)
    tables = Path(options.tables).resolve()   # Spark resolves paths from its own folder
    write_table(x_train[:options.rows], y_train[:options.rows], tables / "train")
    write_table(x_test[:options.test_rows], y_test[:options.test_rows], tables / "test")

    from kerasdml.runtime.spark.session import spark_session
    spark = spark_session(options.master)
    train = spark.read.parquet(str(tables / "train"))
    test = spark.read.parquet(str(tables / "test"))
    frequency = int(options.frequency) if options.frequency.isdigit() else options.frequency
    estimator = Keras2DML(lenet(), epochs=options.epochs, batch_size=options.batch_size,
                          train_algo=options.train_algo, workers=options.workers,
                          frequency=frequency, precision=options.precision, seed=42,
                          spark=spark, features_col="features", label_col="label")
    started = time.perf_counter()
    estimator.fit(train, validation_data=test)
    seconds = time.perf_counter() - started
    accuracy = estimator.score(test)
    estimator.export(options.output)
    print(f"test accuracy {accuracy:.4f} after {options.epochs} epoch(s) of {options.train_algo} "
          f"({seconds:.1f} s); trained model: {options.output}")


if __name__ == "__main__":
    main()
