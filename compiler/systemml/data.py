"""Data as SystemML's Keras2DML took and returned it.

Features: one row of C*H*W values per example in channels-first order (input_shape=(C, H, W)),
turned into the Keras model's (H, W, C) samples. Labels: any class values, encoded as SystemML's
LabelEncoder did (sorted distinct values; integers 0..K-1 stay themselves) and decoded back by
predict. A model not fitted on class values (the Keras model's own weights, a loaded folder, or
one fitted on SystemML's 1-based class indices: a DataFrame or files) predicts its 1-based class
indices, or their names from a labels file of "index,name" lines. Predictions come back as
doubles, or as strings when a class value is not a number, as SystemML's predict returned them.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kerasdml.runtime.atomic import write_text

from ..training.data import DataError, as_array


def keras_samples(X, input_shape: tuple | None, model_shape: tuple) -> np.ndarray:
    """Rows of flattened channels-first (C, H, W) values as (N, *model_shape) samples."""
    array = as_array(X, "X")
    values = math.prod(model_shape)
    if array.ndim == 1 and values > 1 and len(array) == values:
        # SystemML refused 1-D arrays; one example's values are the likely meaning
        raise DataError(f"X is a 1-D array of {len(array)} values: SystemML took rows of "
                        f"examples; pass one example as X.reshape(1, -1)")
    array = array.reshape(len(array), -1).astype(np.float64, copy=False)
    if array.shape[1] != values:
        raise DataError(f"X has {array.shape[1]} values per row; the model's input "
                        f"{model_shape} takes {values}")
    if input_shape is None:
        return array.reshape(len(array), *model_shape)
    if math.prod(input_shape) != math.prod(model_shape):
        raise DataError(f"input_shape {input_shape} holds {math.prod(input_shape)} values, the "
                        f"model's input {model_shape} {math.prod(model_shape)}")
    if moves_channels_last(input_shape, model_shape):
        images = array.reshape(len(array), *input_shape)
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    return array.reshape(len(array), *model_shape)


def moves_channels_last(input_shape: tuple | None, model_shape: tuple) -> bool:
    """Whether SystemML's channels-first (C, H, W) rows become the model's (H, W, C) samples."""
    if input_shape is None:
        return False
    channels, height, width = input_shape
    return tuple(model_shape) == (height, width, channels)


class LabelCodec:
    """Class values <-> the model's output indices 0..K-1."""

    def __init__(self, classes: np.ndarray, names: dict | None = None, indexed: bool = False):
        self.classes = classes
        self.names = names  # 1-based index -> name, from a labels file
        self.indexed = indexed  # SystemML's 1-based indices, not class values fit saw

    @classmethod
    def fit(cls, y, outputs: int) -> "LabelCodec":
        """The classes of fit's y; like SystemML's LabelEncoder, they win over a labels file.
        One output (a sigmoid, binary cross-entropy) has two classes, as Keras takes them:
        0/1 labels stay themselves, two other values are encoded 0 and 1 in sorted order."""
        values = np.asarray(y).ravel()
        count = class_count(outputs)
        numeric = np.issubdtype(values.dtype, np.number)
        if numeric and np.all(values == np.round(values)) and values.min() >= 0 \
                and values.max() < count:
            return cls(np.arange(count))
        classes = np.unique(values)
        if len(classes) > count:
            raise DataError(f"y holds {len(classes)} distinct classes, the model has {outputs} "
                            "outputs" + (" (one sigmoid output: two classes, 0 and 1)"
                                         if outputs == 1 else ""))
        return cls(classes)

    @classmethod
    def indices(cls, outputs: int, names: dict | None = None) -> "LabelCodec":
        """No class values fitted: SystemML's 1-based class indices, named by a labels file
        (1 and 2 for a one-output binary classifier: below and above 0.5)."""
        return cls(np.arange(1, class_count(outputs) + 1), names, indexed=True)

    def encode(self, y) -> np.ndarray:
        values = np.asarray(y).ravel()
        ids = np.searchsorted(self.classes, values)
        ids = np.clip(ids, 0, len(self.classes) - 1)
        unknown = self.classes[ids] != values
        if np.any(unknown):
            raise DataError(f"y holds classes not seen when fitting: "
                            f"{sorted(set(values[unknown].tolist()))[:5]}")
        return ids.reshape(-1, 1)

    def decode(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if self.names is not None:
            return np.asarray([self.names.get(int(i) + 1, str(int(i) + 1)) for i in ids])
        return self.classes[ids]


def class_count(outputs: int) -> int:
    """The classes of a classifier with `outputs` outputs: one output is binary."""
    return max(outputs, 2)


def accuracy(predicted: np.ndarray, y) -> float:
    """The share of predictions equal to y, compared as numbers when both are (as SystemML's
    score did), else as strings."""
    truth = np.asarray(y).ravel()
    if predicted.dtype.kind == "f" and truth.dtype.kind in "fiub":
        return float(np.mean(predicted == truth.astype(np.float64)))
    return float(np.mean(predicted.astype(str) == truth.astype(str)))


def predicted_values(values) -> np.ndarray:
    """SystemML's predict output: doubles, or strings when a class is not a number."""
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        return np.asarray(values, dtype=str)


def read_labels(path) -> dict:
    """A labels file: lines "index,name" with 1-based class indices (SystemML's labels.txt)."""
    names = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise DataError(f"labels file {path}: {error.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        index, _, name = line.partition(",")
        if not index.strip().isdigit() or not name:
            raise DataError(f"{path}:{number}: expected 'index,name', got {line!r}")
        names[int(index)] = name.strip().strip('"')
    return names


def write_labels(path, names: dict) -> None:
    write_text(path, "".join(f"{index},{name}\n" for index, name in sorted(names.items())))
