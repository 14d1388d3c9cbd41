"""Writing a compiled model to a folder (predict.dml, train.dml, weights.h5, summary.txt) so that
a failure never leaves a half-written folder: everything goes to a temporary folder beside the
target, which is renamed into place at the end."""
from __future__ import annotations

import os
import shutil
import tempfile

from .backend import CompiledModel, CompileTrainingError, write_weights
from .training.config import TrainingConfigError
from .errors import CompileError


def write_model(model: CompiledModel, outdir: str) -> str:
    """Writes the model's files into `outdir` (replacing it); returns the summary text."""
    outdir = os.path.abspath(os.fspath(outdir))
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise CompileError(f"{outdir}: exists and is not a folder")
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    texts = {"predict.dml": model.predict_script}
    notes = []
    try:
        texts["train.dml"] = model.train_script
    except (CompileTrainingError, TrainingConfigError) as error:
        notes.append(f"train.dml not written: {error}")
    texts["summary.txt"] = summary(model, notes)
    temp = tempfile.mkdtemp(prefix=f".{os.path.basename(outdir)}.", dir=parent)
    try:
        for name, text in texts.items():
            with open(os.path.join(temp, name), "w") as handle:
                handle.write(text)
        write_weights(os.path.join(temp, "weights.h5"), model.weights)
        _replace(temp, outdir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return texts["summary.txt"] + f"wrote {', '.join(sorted(texts) + ['weights.h5'])}\n"


def _replace(temp: str, outdir: str) -> None:
    if not os.path.exists(outdir):
        os.rename(temp, outdir)
        return
    old = outdir + ".old"
    shutil.rmtree(old, ignore_errors=True)
    os.rename(outdir, old)
    os.rename(temp, outdir)
    shutil.rmtree(old, ignore_errors=True)


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
