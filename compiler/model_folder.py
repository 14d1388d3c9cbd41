"""Writing a compiled model to a folder (predict.dml, train.dml, weights.h5, summary.txt) so that
a failure never leaves a half-written folder (runtime/atomic.py)."""
from __future__ import annotations

import os

from kerasdml.runtime.atomic import atomic_folder

from .backend import CompiledModel, CompileTrainingError, write_weights
from .training.config import TrainingConfigError


def write_model(model: CompiledModel, outdir: str) -> str:
    """Writes the model's files into `outdir` (replacing it); returns the summary text."""
    texts = {"predict.dml": model.predict_script}
    notes = []
    try:
        texts["train.dml"] = model.train_script
    except (CompileTrainingError, TrainingConfigError) as error:
        notes.append(f"train.dml not written: {error}")
    texts["summary.txt"] = summary(model, notes)
    with atomic_folder(outdir) as temporary:
        for name, text in texts.items():
            with open(os.path.join(temporary, name), "w") as handle:
                handle.write(text)
        write_weights(os.path.join(temporary, "weights.h5"), model.weights)
    return texts["summary.txt"] + f"wrote {', '.join(sorted(texts) + ['weights.h5'])}\n"


def summary(model: CompiledModel, notes=()) -> str:
    """A short description of the compiled files and how to run them."""
    count = sum(p.value.size for _, p in model.graph.params())
    lines = [f"model {model.name} from {model.source}",
             f"{len(model.parameters)} parameter datasets in weights.h5, {count} values"]
    for kind, specs in (("input", model.inputs), ("output", model.outputs)):
        for t in specs:
            lines.append(f"{kind} {t.variable}: Keras '{t.name}' shape {t.shape}, "
                         f"N x {t.columns} {t.layout}")
    args = " ".join(f"{t.variable}={t.variable}.csv" for t in model.inputs + model.outputs)
    lines += [f"run: kerasdml run predict.dml -nvargs {args} weights=weights.h5", *notes]
    return "\n".join(lines) + "\n"
