"""Real models' predictions, kerasdml vs Keras: keras.applications models (random weights) at
96x96, a batch of 32 images, single precision; each row notes where kerasdml's time goes.

    .venv/bin/python bench/run.py models [--quick]
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from harness import Options, Row, side_by_side

MODELS = ("ResNet50V2", "InceptionV3", "MobileNetV2", "Xception")
TARGET = 1.5
SIZE, BATCH = 96, 32


def saved_application(name: str, folder: str, size: int = SIZE) -> tuple[object, str]:
    """keras.applications' `name` with random weights at size x size, and its .keras file."""
    import keras
    keras.utils.set_random_seed(1)
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
    path = os.path.join(folder, f"{name}.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    return model, path


def profile(stats, top: int = 5) -> str:
    total = sum(stats.seconds.values())
    ranked = sorted(stats.seconds.items(), key=lambda item: -item[1])[:top]
    return "time in " + ", ".join(f"{name} {100 * s / total:.0f} %" for name, s in ranked)


def rows(options: Options) -> list[Row]:
    from kerasdml.compiler import compile_model
    from kerasdml.runtime.context import Statistics
    folder = tempfile.mkdtemp(prefix="bench_models.")
    images = np.random.default_rng(2).random((BATCH, SIZE, SIZE, 3), dtype=np.float32)
    out = []
    for name in MODELS[:2] if options.quick else MODELS:
        model, path = saved_application(name, folder)
        try:
            compiled = compile_model(path)
        except Exception as err:            # a model the compiler does not cover yet: say so
            print(f"[models] {name}: not compiled: {str(err).splitlines()[0]}")
            continue
        expected = model.predict(images, batch_size=BATCH, verbose=0)
        compiled.predict(images, batch_size=BATCH, precision="single")   # both warm: untimed
        results = {}

        def ours():
            results["y"] = compiled.predict(images, batch_size=BATCH, precision="single")
        mine, theirs = side_by_side(ours, lambda: model.predict(images, batch_size=BATCH,
                                                                verbose=0), options.repeats)
        stats = Statistics()
        compiled.predict(images, batch_size=BATCH, precision="single", stats=stats)
        difference = float(np.max(np.abs(results["y"] - expected)))
        nans = f" (NaN cells: kerasdml {int(np.isnan(results['y']).sum())}, Keras " \
               f"{int(np.isnan(expected).sum())})" if difference != difference else ""
        out.append(Row(f"{name} predict, batch {BATCH} at {SIZE}x{SIZE}, single", mine, theirs,
                       "Keras predict", TARGET,
                       notes=[f"max |kerasdml - Keras| {difference:.1e}{nans}; "
                              f"{profile(stats)}"]))
    return out
