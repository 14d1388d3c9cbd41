"""The benchmark models, built in Keras, with their weights in dml_lib's layouts, and MNIST.

Both sides start from the same weights: the Keras model's initial weights, converted to the
layouts the hand-written DML scripts in bench/dml/ expect (those of the compiler's output).
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

BATCH = 100
LEARNING_RATE = 0.01


REPOSITORY = Path(__file__).resolve().parent.parent
# the full MNIST where a checkout or Keras keeps it, else the subset shipped with kerasdml
MNIST_FILES = (REPOSITORY.parent / "shared" / "data" / "mnist.npz",
               Path.home() / ".keras" / "datasets" / "mnist.npz",
               REPOSITORY / "compiler" / "datasets" / "mnist_subset.npz")


def mnist(train: int, test: int):
    """(x_train, y_train, x_test): images as N x 784 float32 in [0, 1], labels one-hot.
    Read with numpy alone, so that the benchmarks do not depend on the compiler importing."""
    path = next(p for p in MNIST_FILES if p.is_file())
    with np.load(path) as data:
        x, y, xt = data["x_train"], data["y_train"], data["x_test"]
    x, y, xt = _repeat(x, train), _repeat(y, train), _repeat(xt, test)
    return _flat(x), np.eye(10, dtype=np.float32)[y], _flat(xt)


def _flat(images: np.ndarray) -> np.ndarray:
    return (images.reshape(len(images), 28 * 28) / np.float32(255)).astype(np.float32)


def _repeat(array: np.ndarray, count: int) -> np.ndarray:
    """The first `count` items, cycling through the array when it is shorter."""
    return array[np.arange(count) % len(array)]


def lenet():
    """The seed's LeNet: conv 32 5x5 same relu, pool, conv 64 5x5 same relu, pool, dense 512
    relu, dropout 0.5, dense 10 softmax; SGD, categorical cross-entropy."""
    import keras
    from keras import layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 5, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 5, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10, activation="softmax")])
    return _compiled(model)


def mlp():
    """784-512-512-10, relu, relu, softmax; SGD, categorical cross-entropy."""
    import keras
    from keras import layers
    model = keras.Sequential([
        keras.Input((784,)), layers.Dense(512, activation="relu"),
        layers.Dense(512, activation="relu"), layers.Dense(10, activation="softmax")])
    return _compiled(model)


def _compiled(model):
    import keras
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="categorical_crossentropy")
    return model


def dml_weights(model) -> dict[str, np.ndarray]:
    """W1, b1, W2, b2, ... of `model` in dml_lib layouts (float64; the run casts them)."""
    weights, k = {}, 0
    flattened = None                            # (H, W, C) of a Flatten's input
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Flatten":
            flattened = layer.input.shape[1:]
        if kind not in ("Conv2D", "Dense"):
            continue
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
        k += 1
        if kind == "Conv2D":                    # (kh, kw, C, F) -> F x (C*kh*kw)
            weights[f"W{k}"] = kernel.transpose(3, 2, 0, 1).reshape(kernel.shape[3], -1)
            weights[f"b{k}"] = bias.reshape(-1, 1)
            continue
        if flattened is not None:               # rows from Keras' (h, w, c) order to (c, h, w)
            H, W, C = flattened
            kernel = kernel.reshape(H, W, C, -1).transpose(2, 0, 1, 3).reshape(H * W * C, -1)
            flattened = None
        weights[f"W{k}"] = kernel
        weights[f"b{k}"] = bias.reshape(1, -1)
    return weights


def keras_images(model, x: np.ndarray) -> np.ndarray:
    """x (N x 784) shaped as the model's input."""
    return x.reshape((len(x), *model.input_shape[1:]))
