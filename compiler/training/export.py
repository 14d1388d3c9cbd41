"""Trained DML parameters back into a .keras file that keras.models.load_model opens.

The model's own .keras archive is the template: config.json and metadata.json are copied as they
are, and in model.weights.h5 every array the compiler read (`Param.location`) is overwritten with
its trained value, converted back to Keras' layout (CompiledModel.keras_weights) and dtype.
Nothing else in the file changes, so the exported model is the original one with new weights,
and no Keras import is needed.

A model given as a legacy .h5 file or as a keras.Model object is first saved as .keras by Keras
itself (`as_keras_file`), so that compiling and exporting read the same archive.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np

from kerasdml.runtime.atomic import atomic_file, ensure_folder

from ..backend import CompiledModel
from ..errors import CompileError, ModelFileError
from ..keras_import import import_keras
from ..opdef import is_trainable

_WEIGHTS = "model.weights.h5"


def export_keras(template: str | os.PathLike, model: CompiledModel, trained: dict,
                 target: str | os.PathLike) -> Path:
    """Writes `target` (.keras): the archive `template` that `model` was compiled from, with
    the trained parameters `trained` ({DML variable: array in DML layout}) in place of the
    arrays it held."""
    template, target = Path(template), Path(target)
    known = {p.variable: p for p in model.parameters}
    for variable, value in trained.items():
        spec = known.get(variable)
        if spec is None or np.shape(value) != spec.shape:
            raise CompileError(f"cannot export {variable}: " + (
                "the model has no such parameter" if spec is None else
                f"its trained value is {np.shape(value)}, expected {spec.shape}"))
    params = {(p.layer, p.weight): (node, p) for node, p in model.graph.params()}
    updates = {}
    for key, value in model.keras_weights(trained).items():
        node, param = params[key]
        archive_name, _, dataset = param.location.partition(":")
        if archive_name != _WEIGHTS:
            if not is_trainable(node.op, param.name):
                continue  # a constant of the layer's config (Rescaling's scale): kept as it is
            raise CompileError(f"cannot export weight {key[1]} of layer '{key[0]}': it was not "
                               f"read from a .keras archive ({param.location})")
        updates[dataset] = value
    with zipfile.ZipFile(template) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    if _WEIGHTS not in entries:
        raise ModelFileError(str(template), f"the .keras archive has no {_WEIGHTS}")
    entries[_WEIGHTS] = _rewritten_weights(entries[_WEIGHTS], updates, template)
    _write_atomically(target, entries)
    return target


def _rewritten_weights(data: bytes, updates: dict, template: Path) -> bytes:
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as h5file:
        for dataset, value in updates.items():
            if dataset not in h5file:
                raise ModelFileError(str(template), f"{_WEIGHTS} has no dataset {dataset}")
            stored = h5file[dataset]
            # the IR may hold a weight with unit axes added (Conv1DTranspose's kernel as a
            # Conv2DTranspose one) or its axes regrouped: the file's shape is Keras'
            stored[...] = value.astype(stored.dtype).reshape(stored.shape)
    return buffer.getvalue()


def _write_atomically(target: Path, entries: dict) -> None:
    """Through a temporary file beside the target (runtime/atomic.py): a reader never sees a
    half-written archive, and an interrupted export leaves the old file."""
    with atomic_file(target) as temporary, \
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as out:
        for name, content in entries.items():
            out.writestr(name, content)


def as_keras_file(model, folder: str | os.PathLike) -> Path:
    """A .keras archive of `model` (a path or a keras.Model): the file itself when it is one,
    else a copy saved by Keras into `folder`."""
    if isinstance(model, (str, os.PathLike)) and zipfile.is_zipfile(model):
        return Path(model)
    target = Path(ensure_folder(folder)) / "model.keras"
    if isinstance(model, (str, os.PathLike)):
        if not Path(model).is_file():
            raise ModelFileError(str(model), "no such file")
        model = _keras().models.load_model(model, compile=True)
    model.save(target)
    return target


def _keras():
    return import_keras("converting a legacy .h5 model to .keras")
