"""The seed's MNIST LeNet (SystemML's Keras2DML example), and `kerasdml demo`: it trained by
generated DML on the MNIST subset shipped with kerasdml, scored, and written as .keras.

Building the model needs Keras (the `keras` extra); training and scoring do not.
"""
from __future__ import annotations

import sys
import time

from .keras_import import import_keras


def keras_module():
    return import_keras("building the LeNet")


def lenet(seed: int | None = 0):
    """The seed's model, layer for layer, compiled as the seed compiled it."""
    keras = keras_module()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, kernel_size=(5, 5), activation="relu", padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, (5, 5), activation="relu", padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ], name="mnist_lenet")
    # The seed's SGD(lr=0.01, momentum=0.95, decay=5e-4, nesterov=True); Keras 3 spells the
    # old per-step decay lr / (1 + decay * step) as an InverseTimeDecay schedule.
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=5e-4)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.SGD(schedule, momentum=0.95, nesterov=True))
    return model


def train_lenet(data, *, epochs: int, batch_size: int = 100, precision: str = "double",
                seed: int = 42, output: str | None = None, verbose: int = 1, spark=None,
                train_algo: str = "minibatch", parallel_batches: int = 4) -> dict:
    """Trains the LeNet on ((x_train, y_train), (x_test, y_test)) (MNIST's uint8 arrays) and
    scores it; returns accuracy and timings, and writes the trained model to `output`."""
    from .estimator import Keras2DML
    (x_train, y_train), (x_test, y_test) = data
    estimator = Keras2DML(lenet(), epochs=epochs, batch_size=batch_size, seed=seed,
                          precision=precision, verbose=verbose, spark=spark,
                          train_algo=train_algo, parallel_batches=parallel_batches)
    started = time.perf_counter()
    estimator.fit(x_train / 255.0, y_train)
    seconds = time.perf_counter() - started
    accuracy = estimator.score(x_test / 255.0, y_test)
    if output:
        estimator.export(output)
    return {"accuracy": accuracy, "seconds": seconds, "seconds_per_epoch": seconds / max(epochs, 1),
            "estimator": estimator}


def run_demo(epochs: int = 3, output: str = "mnist_lenet.keras", precision: str = "double",
             stream=None) -> dict:
    from .datasets import SUBSET_SIZES, load_mnist_subset
    stream = stream or sys.stdout
    train, test = SUBSET_SIZES
    print(f"kerasdml demo: the MNIST LeNet compiled to DML, trained for {epochs} epochs on "
          f"{train} images, scored on {test}", file=stream, flush=True)
    result = train_lenet(load_mnist_subset(), epochs=epochs, precision=precision, output=output)
    print(f"test accuracy {result['accuracy']:.4f} ({result['seconds_per_epoch']:.1f} s per "
          f"epoch); trained model written to {output}", file=stream)
    return result
