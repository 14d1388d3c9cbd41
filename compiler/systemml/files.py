"""SystemML's fit(X_file, y_file): two matrix files read as DML's read() reads them (a name
ending in .csv is a headerless CSV file; any other is described by its .mtd metadata file), the
labels one column of 1-based class indices, which SystemML's training script took unencoded.
"""
from __future__ import annotations

import numpy as np

from ..training.data import DataError


def read_matrix(path: str, what: str) -> np.ndarray:
    from kerasdml.runtime.errors import DMLRuntimeError
    from kerasdml.runtime.io import read_value

    params = {"format": "csv", "header": False} if str(path).endswith(".csv") else {}
    try:
        value = read_value(str(path), params)
    except DMLRuntimeError as error:
        raise DataError(f"fit({what}): {error}") from None
    if not isinstance(value, np.ndarray):
        raise DataError(f"fit({what}): {path} holds a scalar, not a matrix")
    return value


def one_based_classes(y: np.ndarray, classes: int, path: str) -> np.ndarray:
    """The labels file's 1-based class indices, checked against the model's classes."""
    values = y.ravel()
    if y.ndim != 2 or y.shape[1] != 1 or np.any(values != np.round(values)) \
            or values.min() < 1 or values.max() > classes:
        raise DataError(f"fit(X_file, y_file): {path} must hold one column of SystemML's 1-based "
                        f"class indices 1..{classes} (the model has {classes} outputs)")
    return values
