"""The model zoo's keras.applications families, kerasdml predict vs Keras predict: one
representative of each family at the small input size the zoo tests use (random weights), a
batch of 8 images, single precision; rows sorted by ratio, so the last is the slowest.

    .venv/bin/python bench/run.py zoo [--quick]
"""
from __future__ import annotations

import tempfile

import numpy as np

from bench_models import profile, saved_application
from harness import Options, Row, side_by_side

# family representative -> input size (the smallest each accepts, or 32), as tests/compiler/
# test_zoo_applications.py builds them
FAMILIES = {"VGG16": 32, "ResNet50": 32, "ResNet50V2": 32, "DenseNet121": 32, "MobileNet": 32,
            "MobileNetV2": 32, "MobileNetV3Small": 32, "MobileNetV3Large": 32,
            "EfficientNetB0": 32, "EfficientNetV2B0": 32, "NASNetMobile": 32, "InceptionV3": 75,
            "InceptionResNetV2": 75, "Xception": 71, "ConvNeXtTiny": 32}
QUICK = ("MobileNetV3Small", "EfficientNetB0", "Xception")
BATCH = 8


def _row(name: str, size: int, folder: str, options: Options) -> Row:
    from kerasdml.compiler import compile_model
    from kerasdml.runtime.context import Statistics
    model, path = saved_application(name, folder, size)
    compiled = compile_model(path)
    images = np.random.default_rng(2).random((BATCH, size, size, 3), dtype=np.float32)

    def ours():
        compiled.predict(images, batch_size=BATCH, precision="single")

    def keras_predict():
        model.predict(images, batch_size=BATCH, verbose=0)
    ours(), keras_predict()     # first calls (folds, tracing, first-touch memory) untimed
    mine, theirs = side_by_side(ours, keras_predict, options.repeats)
    stats = Statistics()
    compiled.predict(images, batch_size=BATCH, precision="single", stats=stats)
    return Row(f"{name} predict, batch {BATCH} at {size}x{size}, single", mine, theirs,
               "Keras predict", notes=[profile(stats)])


def rows(options: Options) -> list[Row]:
    folder = tempfile.mkdtemp(prefix="bench_zoo.")
    names = QUICK if options.quick else tuple(FAMILIES)
    return sorted((_row(name, FAMILIES[name], folder, options) for name in names),
                  key=lambda row: row.ratio)
