"""`compress` and `decompress`: SystemDS changes only how it holds a matrix in memory, so here
they return the matrix itself (local or distributed, untouched)."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..values import is_any_matrix, type_name
from .registry import builtin


def _same_matrix(X, function: str):
    # SystemDS also takes frames, which kerasdml does not have; anything else is its compile error.
    if not is_any_matrix(X):
        raise DMLRuntimeError(f"{function} needs a matrix, got {type_name(X)}")
    return X


# distributed: a Spark matrix stays where it is; keeps_inputs: the result is the argument itself.
@builtin("compress", keeps_inputs=True, distributed=True)
def compress(X):
    return _same_matrix(X, "compress")


@builtin("decompress", keeps_inputs=True, distributed=True)
def decompress(X):
    return _same_matrix(X, "decompress")
