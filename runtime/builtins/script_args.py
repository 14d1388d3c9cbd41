"""What the natively done SystemDS script builtins (script_builtins, script_statistics,
script_cleaning, script_classifiers, script_images) share: their argument checks, the run's
float type, and the operators they compute with, the runtime's own (so that the digits are
SystemDS')."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..operators import binary_operator
from ..values import dims, require_matrix

minus, times, divide = binary_operator("-"), binary_operator("*"), binary_operator("/")
plus, less, greater = binary_operator("+"), binary_operator("<"), binary_operator(">")

# SystemDS declares some parameters without a default between ones that have one
REQUIRED = object()


def matrix_arg(value, function: str, name: str) -> np.ndarray:
    return require_matrix(value, f"{function}: {name}")


def float_dtype(x: np.ndarray):
    """The run's precision, which the inputs carry (float32 under precision="single")."""
    return x.dtype if x.dtype.kind == "f" else np.float64


def required_arg(value, function: str, name: str):
    if value is REQUIRED:
        raise DMLRuntimeError(f"{function}: missing argument `{name}` (it has no default)")
    return value


def row_vector_arg(value, x: np.ndarray, function: str, name: str) -> np.ndarray:
    vector = matrix_arg(value, function, name)
    if vector.shape != (1, x.shape[1]):
        raise DMLRuntimeError(f"{function}: {name} must be a 1x{x.shape[1]} row vector (one value "
                              f"per column of X), got {dims(vector)}")
    return vector


def present_cells(column: np.ndarray) -> np.ndarray:
    """The cells of a column that are not NaN, as a column."""
    return column[~np.isnan(column[:, 0])]
