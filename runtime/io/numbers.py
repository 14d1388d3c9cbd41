"""Numbers as Java reads and writes them: SystemDS parses with Double.parseDouble and writes
with Double.toString (values.format_double: 1.0E-5, 1.23456789E8, Infinity, NaN), except that
a zero cell of a matrix is written as "0".

Python's float() reads all of Java's spellings; it also takes words Java's parser refuses
("nan", "inf", "1_0"), which are refused here.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import DMLRuntimeError
from ..values import format_double


def parse_java_double(token: str) -> float:
    """float(), refusing what Java's Double.parseDouble refuses and Python takes ("inf", "1_0")."""
    if not token or has_non_java_words(token):
        raise ValueError(token)
    return float(token)


_LETTER_NOT_E = re.compile(r"[A-DF-Za-df-z_]")
_WORD = re.compile(r"[A-Za-z_]+")
_JAVA_WORDS = frozenset({"Infinity", "NaN", "e", "E"})


def has_non_java_words(text: str) -> bool:
    """numpy takes "nan", "inf", "infinity" in any case; Java only "NaN" and "Infinity".
    Most files have no letter but e/E, which the first, fast search tells."""
    if _LETTER_NOT_E.search(text) is None:
        return False
    return not _JAVA_WORDS.issuperset(_WORD.findall(text))


def raise_unparsable(file: str, what: str) -> None:
    raise DMLRuntimeError(f"malformed file {file}: cannot parse it as {what}")


def format_cells(matrix: np.ndarray, zero: str) -> np.ndarray:
    """Each cell as Double.toString writes it, zero as `zero`; object array, same shape.
    In Java's plain range [1e-3, 1e7) that is Python's repr, the fast common case."""
    flat = np.asarray(matrix, dtype=np.float64).ravel()
    cells = np.empty(flat.size, dtype=object)
    cells[:] = list(map(repr, flat.tolist()))
    magnitude = np.abs(flat)
    with np.errstate(invalid="ignore"):
        other = ~((magnitude >= 1e-3) & (magnitude < 1e7))
    if other.any():
        cells[other] = [format_double(x) for x in flat[other].tolist()]
    cells[flat == 0] = zero
    return cells.reshape(matrix.shape)
