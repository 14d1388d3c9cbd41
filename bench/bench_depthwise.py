"""Xception-style predict (depthwise separable convolutions): kerasdml vs Keras, with
dml_lib's conv2d_depthwise as one kernel call per layer and, for comparison, as its DML body
(one conv2d call per channel, KERASDML_LIBRARY_KERNELS=0).

    .venv/bin/python bench/run.py depthwise [--quick]
"""
from __future__ import annotations

import os

import numpy as np

from harness import Options, Row, side_by_side

SIZE = 71                # the smallest input keras.applications.Xception builds
PREDICT_TARGET = 1.5     # kerasdml / Keras, single precision


def xception():
    import keras
    model = keras.applications.Xception(weights=None, input_shape=(SIZE, SIZE, 3), classes=10)
    rng = np.random.default_rng(0)
    # small weights: the activations stay finite through 36 convolutions without BatchNorm data
    model.set_weights([rng.uniform(-0.1, 0.1, w.shape).astype("float32")
                       if w.ndim > 1 else w for w in model.get_weights()])
    return model


def _with_library_kernels(on: bool, function):
    previous = os.environ.get("KERASDML_LIBRARY_KERNELS")
    os.environ["KERASDML_LIBRARY_KERNELS"] = "1" if on else "0"
    try:
        return function()
    finally:
        if previous is None:
            del os.environ["KERASDML_LIBRARY_KERNELS"]
        else:
            os.environ["KERASDML_LIBRARY_KERNELS"] = previous


def rows(options: Options) -> list[Row]:
    from kerasdml.compiler import compile_model
    model = xception()
    compiled = compile_model(model)
    images = np.random.default_rng(1).uniform(0, 1, (8 if options.quick else 32, SIZE, SIZE, 3))
    images = images.astype("float32")
    expected = model.predict(images, batch_size=len(images), verbose=0)
    out = []
    for on, label in ((True, "one kernel per layer"), (False, "DML loop over channels")):
        results = {}

        def ours():
            results["y"] = _with_library_kernels(on, lambda: compiled.predict(
                images, batch_size=len(images), precision="single"))
        mine, theirs = side_by_side(ours, lambda: model.predict(
            images, batch_size=len(images), verbose=0), 1 if not on else options.repeats)
        difference = float(np.max(np.abs(results["y"] - expected)))
        out.append(Row(f"Xception {SIZE}x{SIZE} predict {len(images)} images, single, {label}",
                       mine, theirs, "Keras predict", PREDICT_TARGET if on else None,
                       notes=[f"max |kerasdml - Keras| probability {difference:.1e}"]))
    return out
