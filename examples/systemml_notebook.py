"""SystemML's Keras2DML MNIST notebook, cell by cell, with only its import line changed.

    python examples/systemml_notebook.py [path/to/mnist.npz] [--epochs 5] [--train N] [--test N]
                                         [--master local[2]]

The cells are SystemML's (the LeNet of its deep-learning guide, uncompiled, flattened MNIST
scaled to [0, 1], Keras2DML(spark, keras_model, input_shape=(1,28,28), ...), fit, score); `spark`
is a SparkSession with --master, else None. `from systemml.mllearn import Keras2DML` became
`from kerasdml.compiler import Keras2DML`. Data: the given path, else ../shared/data/mnist.npz,
else Keras' download cache; the trained weights go to weights_dir/ in the working folder.
"""
from __future__ import annotations

import argparse

from kerasdml.runtime.local.threads import configure_threads

configure_threads()  # before numpy loads: one BLAS thread, a kernel worker per core

IMPORT_LINE = "from kerasdml.compiler import Keras2DML"
SYSTEMML_IMPORT_LINE = "from systemml.mllearn import Keras2DML"

CELLS = [
    # the data: flattened images, scaled to [0, 1]
    """
import math
import numpy as np
X_train = x_train.reshape(-1, 784)
X_test = x_test.reshape(-1, 784)
scale = 0.00390625
X_train = X_train*scale
X_test = X_test*scale
""",
    # the LeNet, as SystemML's guide builds it (never compiled)
    """
from keras.models import Sequential
from keras.layers import Input, Dense, Conv2D, MaxPooling2D, Dropout,Flatten
from keras import backend as K
input_shape = (1,28,28) if K.image_data_format() == 'channels_first' else (28,28, 1)
keras_model = Sequential()
keras_model.add(Conv2D(32, kernel_size=(5, 5), activation='relu', input_shape=input_shape, padding='same'))
keras_model.add(MaxPooling2D(pool_size=(2, 2)))
keras_model.add(Conv2D(64, (5, 5), activation='relu', padding='same'))
keras_model.add(MaxPooling2D(pool_size=(2, 2)))
keras_model.add(Flatten())
keras_model.add(Dense(512, activation='relu'))
keras_model.add(Dropout(0.5))
keras_model.add(Dense(10, activation='softmax'))
keras_model.summary()
""",
    # training: max_iter counts batches, so epochs become iterations; SystemML's precision
    # property picks double (its default) or single
    f"""
{SYSTEMML_IMPORT_LINE}
batch_size = 100
max_iter = int(epochs*math.ceil(X_train.shape[0]/batch_size))
sysml_model = Keras2DML(spark, keras_model, input_shape=(1,28,28), weights='weights_dir',
                        batch_size=batch_size, max_iter=max_iter, test_interval=0, display=10)
sysml_model.setConfigProperty("sysml.floating.point.precision", precision)
sysml_model.fit(X_train, y_train)
""",
    """
accuracy = sysml_model.score(X_test, y_test)
print("test accuracy", accuracy)
""",
]


def run_cells(namespace: dict) -> dict:
    """Runs the cells in `namespace` (which holds x_train, y_train, x_test, y_test, epochs,
    precision and spark), with the import line changed; returns the namespace."""
    for cell in CELLS:
        exec(cell.replace(SYSTEMML_IMPORT_LINE, IMPORT_LINE), namespace)
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="an mnist.npz (x_train, y_train, x_test, y_test)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, help="use the first N training images")
    parser.add_argument("--test", type=int, help="score on the first N test images")
    parser.add_argument("--master", help="a SparkSession on this master, e.g. local[2]")
    parser.add_argument("--precision", choices=["double", "single"], default="double",
                        help="SystemML's sysml.floating.point.precision")
    options = parser.parse_args()
    from kerasdml.compiler.datasets import load_mnist
    (x_train, y_train), (x_test, y_test) = load_mnist(options.data)
    spark = None
    if options.master:
        from kerasdml.runtime.spark.session import spark_session
        spark = spark_session(options.master)
    run_cells({"x_train": x_train[:options.train], "y_train": y_train[:options.train],
               "x_test": x_test[:options.test], "y_test": y_test[:options.test],
               "epochs": options.epochs, "precision": options.precision, "spark": spark})


if __name__ == "__main__":
    main()
