"""The MNIST LeNet of SystemML's Keras2DML, trained by generated DML and scored on the test set.

    python examples/mnist_lenet.py [path/to/mnist.npz] [--epochs 5] [--precision single]
                                   [--master local[2] --train-algo allreduce_parallel_batches
                                    --parallel-batches 2 --conf spark.driver.memory=4g]

Data: the given path, else ../shared/data/mnist.npz when present, else Keras' download cache
(~/.keras/datasets/mnist.npz, filled by keras.datasets.mnist.load_data() on a machine online).
The trained model is written to mnist_lenet.keras, which keras.models.load_model opens.
"""
from __future__ import annotations

import argparse

from kerasdml.runtime.local.threads import configure_threads

configure_threads()  # before numpy loads: one BLAS thread, a kernel worker per core

from kerasdml.compiler.datasets import load_mnist  # noqa: E402
from kerasdml.compiler.demo import train_lenet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="an mnist.npz (x_train, y_train, x_test, y_test)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--precision", choices=["double", "single"], default="double")
    parser.add_argument("--train-algo", default="minibatch")
    parser.add_argument("--parallel-batches", type=int, default=4,
                        help="batches per update of the parallel train algorithms")
    parser.add_argument("--master", help="run on Spark, e.g. local[2]")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a Spark setting; repeatable")
    parser.add_argument("--output", default="mnist_lenet.keras")
    options = parser.parse_args()

    spark = None
    if options.master:
        from kerasdml.runtime.spark.session import spark_session
        spark = spark_session(options.master, dict(item.split("=", 1) for item in options.conf))
    result = train_lenet(load_mnist(options.data), epochs=options.epochs,
                         batch_size=options.batch_size, precision=options.precision,
                         output=options.output, spark=spark, train_algo=options.train_algo,
                         parallel_batches=options.parallel_batches)
    print(f"test accuracy {result['accuracy']:.4f} after {options.epochs} epochs "
          f"({result['seconds_per_epoch']:.1f} s per epoch); trained model: {options.output}")


if __name__ == "__main__":
    main()
