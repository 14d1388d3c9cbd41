"""Opening a model: a .keras archive, a legacy .h5 file, or an in-memory Keras model.

Only json, zipfile and h5py are used: compiling never imports TensorFlow or Keras (an in-memory
model is read through its own `to_json()` and `weights`) and never runs code stored in a file.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, Iterator

import h5py

from ..errors import ModelFileError
from .weights import KerasZipWeights, LegacyH5Weights, ModelObjectWeights

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class ModelSource:
    path: str          # the file, or "<in-memory model 'name'>", for messages
    config: dict       # the top model's serialized entry: class_name, config, ...
    weights: Any       # a store from .weights
    keras_version: str = ""
    compile_config: dict | None = None  # loss, optimizer, metrics; None if never compiled


@contextlib.contextmanager
def open_model(source) -> Iterator[ModelSource]:
    """Opens `source` (a path or a keras.Model); the weight store is usable inside the block."""
    if _is_model_object(source):
        yield _from_object(source)
        return
    path = os.fspath(source)
    kind = _sniff(path)
    opener = _open_keras_zip if kind == "zip" else _open_legacy_h5
    with opener(path) as model:
        yield model


def _is_model_object(source) -> bool:
    return all(hasattr(source, a) for a in ("to_json", "get_layer", "weights"))


def _from_object(model) -> ModelSource:
    label = f"<in-memory model '{getattr(model, 'name', '?')}'>"
    try:
        config = json.loads(model.to_json())
    except Exception as error:  # a model that cannot describe itself, e.g. a subclassed one
        raise ModelFileError(label, f"cannot read the model's configuration: {error}") from None
    return ModelSource(label, config, ModelObjectWeights(model, label),
                       compile_config=config.get("compile_config"))


def _sniff(path: str) -> str:
    if os.path.isdir(path):
        raise ModelFileError(path, "is a directory (a TensorFlow SavedModel?); kerasdml reads "
                             ".keras and .h5 files written by model.save()")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except OSError as error:
        raise ModelFileError(path, f"cannot be read: {error.strerror or error}") from None
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head == _HDF5_MAGIC:
        return "hdf5"
    raise ModelFileError(path, "is neither a .keras archive (zip) nor a legacy .h5 model (HDF5)"
                         + (" (the file is empty)" if not head else ""))


@contextlib.contextmanager
def _open_keras_zip(path: str) -> Iterator[ModelSource]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ModelFileError(path, "the .keras archive has no config.json")
            config = _parse_json(path, "config.json", archive.read("config.json"))
            metadata = {}
            if "metadata.json" in names:
                metadata = _parse_json(path, "metadata.json", archive.read("metadata.json"))
            if "model.weights.h5" not in names:
                raise ModelFileError(path, "the .keras archive has no model.weights.h5, so the "
                                     "model's weights are missing")
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ModelFileError(path, f"is not a valid .keras archive: {error}") from None
    h5file = _open_h5(path, io.BytesIO(weights), "model.weights.h5 in the archive")
    with h5file:
        version = str(metadata.get("keras_version", "")) if isinstance(metadata, dict) else ""
        yield ModelSource(path, config, KerasZipWeights(h5file, config, path), version,
                          config.get("compile_config"))


@contextlib.contextmanager
def _open_legacy_h5(path: str) -> Iterator[ModelSource]:
    with _open_h5(path, path, "the file") as h5file:
        if "model_config" not in h5file.attrs:
            raise ModelFileError(path, "has no model_config attribute: it holds only weights "
                                 "(model.save_weights); compile a file written by model.save()")
        if "model_weights" not in h5file:
            raise ModelFileError(path, "has no model_weights group, so the model's weights are "
                                 "missing")
        raw = h5file.attrs["model_config"]
        config = _parse_json(path, "model_config", raw)
        version = h5file.attrs.get("keras_version", b"")
        version = version.decode() if isinstance(version, bytes) else str(version)
        training = None  # written by model.save() of a compiled model
        if "training_config" in h5file.attrs:
            training = _parse_json(path, "training_config", h5file.attrs["training_config"])
        yield ModelSource(path, config, LegacyH5Weights(h5file, path), version, training)


def _open_h5(path: str, target, what: str):
    try:
        return h5py.File(target, "r")
    except OSError as error:
        raise ModelFileError(path, f"{what} is not a readable HDF5 file ({error})") from None


def _parse_json(path: str, what: str, raw) -> dict:
    try:
        value = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(path, f"{what} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ModelFileError(path, f"{what} does not describe a model (a JSON object is expected)")
    return value
