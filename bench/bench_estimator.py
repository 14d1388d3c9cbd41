"""The whole path a user takes, kerasdml vs Keras on the same model and data: Keras2DML.fit of
the seed's LeNet (the compiler's generated train.dml, one epoch, no shuffling) against
model.fit, and compiling keras.applications models against keras.models.load_model.

    .venv/bin/python bench/run.py estimator compile [--quick | --full]
"""
from __future__ import annotations

import os
import tempfile
import warnings

from harness import Options, Row, side_by_side
from models import mnist


def rows(options: Options) -> list[Row]:
    from kerasdml.compiler import Keras2DML
    from kerasdml.compiler.demo import lenet
    images = 60_000 if options.full else 500 if options.quick else 2_000
    x, y, _ = mnist(images, 1)
    x = x.reshape(-1, 28, 28, 1)
    keras_model = lenet()
    keras_model.fit(x[:100], y[:100], batch_size=100, verbose=0)   # trace Keras' train function
    out = []
    for precision, target in (("single", 1.5), ("double", 3.0)):
        estimator = Keras2DML(lenet(), epochs=1, batch_size=100, shuffle=False, verbose=0,
                              precision=precision)
        ours, theirs = side_by_side(lambda: estimator.fit(x, y),
                                    lambda: keras_model.fit(x, y, batch_size=100, verbose=0,
                                                            shuffle=False),
                                    options.repeats)
        out.append(Row(f"Keras2DML.fit LeNet, {images:,} images, {precision}", ours, theirs,
                       "Keras fit", target))
    return out


def compile_rows(options: Options) -> list[Row]:
    import keras

    from kerasdml.compiler import compile_model
    from kerasdml.compiler.model_folder import write_model
    folder = tempfile.mkdtemp(prefix="bench_compile.")
    out = []
    for name in ("ResNet50", "MobileNetV2"):
        model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3))
        path = os.path.join(folder, f"{name}.keras")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(path)
        ours, theirs = side_by_side(
            lambda: write_model(compile_model(path), os.path.join(folder, name)),
            lambda: keras.models.load_model(path), options.repeats)
        out.append(Row(f"compile {name} (32x32) to DML + weights", ours, theirs,
                       "keras load_model", limit=2.0 if name == "ResNet50" else None))
    return out
