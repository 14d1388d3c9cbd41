"""Training and scoring side by side: kerasdml against Keras on one model.

Training runs the DML scripts in bench/dml/, written as the compiler writes them (dml_lib
layers, batch by batch over the whole input): a run over n images is an "epoch" of n images,
parse and setup included. Its per-step time is the difference between a run over n images and a
run over one batch, divided by the steps in between, so that parsing is not charged to the
steps. Scoring runs the model's own prediction script, compiled from the saved model as a
user's `kerasdml compile` or `compile_model` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import Options, Row, seconds_once, side_by_side
from models import BATCH, LEARNING_RATE, dml_weights, keras_images

DML = Path(__file__).with_name("dml")


@dataclass
class Workload:
    name: str                  # "LeNet", "MLP"
    model: object              # a compiled Keras model
    train_script: str          # file in bench/dml/
    x: np.ndarray              # N x 784 float32
    y: np.ndarray              # N x 10 one-hot
    targets: dict[str, float]  # precision -> target ratio for training


def run_dml(script: str, inputs: dict, precision: str, outputs=(), **args) -> dict:
    from kerasdml.runtime.api import run_file
    return run_file(DML / script, inputs=inputs, args=args, outputs=outputs, precision=precision)


def _train_dml(work: Workload, weights: dict, images: int, precision: str):
    inputs = {"X": work.x[:images], "Y": work.y[:images], **weights}
    return run_dml(work.train_script, inputs, precision, batch_size=BATCH, lr=LEARNING_RATE)


def _keras_steps(work: Workload, images: int):
    x = keras_images(work.model, work.x[:images])
    for first in range(0, images, BATCH):
        work.model.train_on_batch(x[first:first + BATCH], work.y[first:first + BATCH])


def _keras_fit(work: Workload, images: int):
    x = keras_images(work.model, work.x[:images])
    work.model.fit(x, work.y[:images], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)


def training_rows(work: Workload, options: Options) -> list[Row]:
    """Per-step and per-epoch rows, in both precisions, against Keras' float32 training."""
    images = len(work.x)
    steps = images // BATCH
    weights = dml_weights(work.model)
    _keras_steps(work, BATCH)                  # trace Keras' train function
    _keras_fit(work, BATCH)
    rows = []
    for precision in ("single", "double"):
        target = work.targets.get(precision)
        one_batch = min(seconds_once(lambda: _train_dml(work, weights, BATCH, precision))
                        for _ in range(max(2, options.repeats)))
        epoch, keras_steps = side_by_side(lambda: _train_dml(work, weights, images, precision),
                                          lambda: _keras_steps(work, images), options.repeats)
        step = (epoch - one_batch) / (steps - 1)
        rows.append(Row(f"{work.name} train step (batch {BATCH}), {precision}", step,
                        keras_steps / steps, "Keras train_on_batch", target))
        keras_epoch = min(seconds_once(lambda: _keras_fit(work, images))
                          for _ in range(options.repeats))
        rows.append(Row(f"{work.name} epoch of {images:,} images, {precision}", epoch,
                        keras_epoch, "Keras fit", target))
    return rows


def predict_rows(name: str, model, x: np.ndarray, options: Options,
                 target: float | None, precisions=("single", "double")) -> list[Row]:
    """Scoring x in both precisions against Keras' predict, as a user scores: the model saved,
    compiled (compile_model) and its own prediction script run by `predict`, with the largest
    difference between kerasdml's and Keras' probabilities as a note."""
    compiled = compiled_model(model)
    images = keras_images(model, x)
    keras_probs = model.predict(images, batch_size=BATCH, verbose=0)
    rows = []
    for precision in precisions:
        results = {}

        def ours():
            results["probs"] = compiled.predict(images, batch_size=BATCH, precision=precision)
        mine, theirs = side_by_side(ours, lambda: model.predict(images, batch_size=BATCH,
                                                                verbose=0), options.repeats)
        difference = float(np.max(np.abs(results["probs"] - keras_probs)))
        rows.append(Row(f"{name} predict {len(x):,} images, {precision}", mine, theirs,
                        "Keras predict", target if precision == "single" else None,
                        notes=[f"max |kerasdml - Keras| probability {difference:.1e}"]))
    return rows


def compiled_model(model):
    """`model` saved as a .keras file and compiled, as `kerasdml compile` would."""
    import tempfile
    import warnings

    from kerasdml.compiler import compile_model
    path = Path(tempfile.mkdtemp(prefix="bench_predict.")) / "model.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    return compile_model(str(path))
