"""Turning what a user passes to fit/predict/score into the matrices a training script reads.

Features arrive as Keras expects them (numpy arrays shaped like the model input, pandas
DataFrames with one column per value, or scipy.sparse matrices of rows, made dense); labels as
integer classes or one-hot rows. Each loss then gets its labels in the form its nn/losses
function reads.
"""
from __future__ import annotations

import numpy as np

from kerasdml.runtime.values import dense

from ..errors import CompileError
from .config import Loss


class DataError(CompileError):
    """Features or labels that do not fit the model."""


def as_array(values, what: str) -> np.ndarray:
    values = dense(values)   # a scipy.sparse matrix (load_svmlight_file's X) as its dense array
    if hasattr(values, "to_numpy") and hasattr(values, "columns"):  # a pandas DataFrame
        values = values.to_numpy()
    elif hasattr(values, "to_numpy"):  # a pandas Series
        values = values.to_numpy()
    array = np.asarray(values)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == np.bool_):
        raise DataError(f"{what} must be numeric, got values of type {array.dtype}")
    if array.ndim == 0:
        raise DataError(f"{what} must hold one row per example, got a scalar")
    return array


def float_array(values) -> np.ndarray:
    """float32 and float64 data as they are (no copy), anything else as float64: the run
    converts to its precision, so training in single precision on float32 data never holds a
    float64 copy of it, and double precision sees the same exact values either way."""
    array = np.asarray(values)
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def features(values, input_shape: tuple, what: str = "X") -> np.ndarray:
    """(N, *input_shape) floats (float_array). A sample with the same values in the same
    row-major order (MNIST's (N, 28, 28) for a (28, 28, 1) input, or flattened rows) is accepted
    as is."""
    array = as_array(values, what)
    if len(array) == 0:  # Keras fails on it deep inside; the labels' checks would too
        raise DataError(f"{what} has no examples")
    if None in input_shape:
        return _sequences(array, input_shape, what)
    per_sample = int(np.prod(input_shape))
    if array.ndim == 1 and per_sample != 1:
        raise DataError(f"{what} is 1-D with {array.shape[0]} values; expected one row per "
                        f"example of shape {input_shape}")
    if int(np.prod(array.shape[1:])) != per_sample:
        raise DataError(f"{what} has examples of shape {array.shape[1:]}, but the model's input "
                        f"is {input_shape} ({per_sample} values per example)")
    return float_array(array).reshape((array.shape[0], *input_shape))


def _sequences(array: np.ndarray, input_shape: tuple, what: str) -> np.ndarray:
    """(N, T, ...) floats for an input whose length the model leaves open: any T, the rest
    as the model says."""
    fixed = input_shape[1:]
    if array.ndim != len(input_shape) + 1 or tuple(array.shape[2:]) != tuple(fixed):
        raise DataError(f"{what} has examples of shape {array.shape[1:]}, but the model's input "
                        f"is {input_shape} (None: any sequence length)")
    return float_array(array)


def refuse_non_finite(array: np.ndarray, what: str) -> None:
    """Training on one NaN or infinity makes every weight NaN, and the run would still end
    "successfully" with a useless model: refused up front, naming the first example. Checked
    in blocks of rows, so a large dataset is not copied whole into a mask."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    for start in range(0, len(array), 4096):
        block = array[start:start + 4096]
        bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if bad.any():
            raise DataError(f"{what} holds NaN or infinite values (first in example "
                            f"{start + int(bad.argmax())}); remove or fill them first")


def labels(values, loss: Loss, outputs: int, examples: int, what: str = "y",
           first: int = 0, classes: int | None = None) -> np.ndarray:
    """The N x K (or N x 1 class-index) matrix that `loss` reads, from integer classes or
    one-hot rows; `outputs` is K, the width of the model's output; `first` the number of the
    first class (SystemML numbered them from 1). `classes`: a cross-entropy taken at every
    position of the output (HeadSpec.classes), whose sparse labels are one class id per
    position (N x K/classes)."""
    array = as_array(values, what)
    if array.shape[0] != examples:
        raise DataError(f"{what} has {array.shape[0]} rows but X has {examples} examples")
    array = array.reshape(examples, -1).astype(np.float64)
    if classes and loss.module == "sparse_categorical_crossentropy":
        positions = outputs // classes if outputs else array.shape[1]  # None: open length
        if array.shape[1] != positions:
            raise DataError(f"{what} must hold one class id per position of the output "
                            f"({positions} per example), got {array.shape[1]}")
        ids = _class_ids(array.reshape(-1, 1), classes, what, first)
        return ids.reshape(examples, positions)
    if loss.module == "sparse_categorical_crossentropy":
        if array.shape[1] == outputs and outputs > 1:   # one-hot given: back to class ids
            return _class_ids(array.argmax(axis=1).reshape(-1, 1), outputs, what)
        return _class_ids(array, outputs, what, first)
    if loss.module == "categorical_crossentropy" and array.shape[1] == 1 and outputs > 1:
        ids = _class_ids(array, outputs, what, first).astype(np.int64).ravel()
        return np.eye(outputs)[ids]
    if array.shape[1] != outputs:
        raise DataError(f"{what} has {array.shape[1]} columns, the model has {outputs} outputs")
    return array


def targets(values, heads, examples: int) -> np.ndarray:
    """y as a training script reads it: for one output its labels; for several (values as
    Keras' fit takes them: a list in the model's output order or a dict by output name) each
    output's labels side by side. `heads` are the compiled model's HeadSpecs."""
    if len(heads) == 1:
        h = heads[0]
        return labels(values, h.head.loss, h.output.columns, examples, classes=h.classes)
    names = [h.output.name for h in heads]
    if isinstance(values, dict):
        if set(values) != set(names):
            raise DataError(f"y is a dict with keys {sorted(values)}; the model's outputs are "
                            f"{names}")
        values = [values[name] for name in names]
    if not isinstance(values, (list, tuple)) or len(values) != len(heads):
        raise DataError(f"the model has {len(heads)} outputs ({', '.join(names)}): give y as a "
                        "list of arrays in that order or a dict by output name")
    return np.hstack([labels(v, h.head.loss, h.output.columns, examples, f"y[{h.output.name!r}]",
                             classes=h.classes) for v, h in zip(values, heads)])


def _class_ids(array: np.ndarray, classes: int, what: str, first: int = 0) -> np.ndarray:
    """0-based class ids of classes numbered from `first`."""
    if array.shape[1] != 1:
        raise DataError(f"{what} must be class ids (one column) or one-hot rows of width "
                        f"{classes}, got {array.shape[1]} columns")
    if np.any(array != np.round(array)) or array.min() < first \
            or array.max() >= classes + first:
        raise DataError(f"{what} must hold integer classes in [{first}, {classes - 1 + first}]")
    return array - first


def class_ids(predictions: np.ndarray) -> np.ndarray:
    """The predicted class of each row: argmax, or probability > 0.5 for one sigmoid output."""
    if predictions.shape[1] == 1:
        return (predictions[:, 0] > 0.5).astype(np.int64)
    return predictions.argmax(axis=1)


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination averaged over the outputs (scikit-learn's default)."""
    y_true = y_true.reshape(len(y_true), -1)
    y_pred = y_pred.reshape(len(y_pred), -1)
    residual = ((y_true - y_pred) ** 2).sum(axis=0)
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual > 0, 0.0, 1.0))
    return float(scores.mean())
