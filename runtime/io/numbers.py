"""Numbers as Java reads and writes them: SystemDS parses with Double.parseDouble and writes
with Double.toString.

Python's repr is also the shortest round-trip string (Java parses it to the same double); what
differs is the spelling of the non-finite values ("Infinity", "-Infinity", "NaN") and of zero
("0"), and the words Python's float() accepts but Java's parser refuses ("nan", "inf", "1_0").
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..errors import DMLRuntimeError


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


def java_double(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def format_cells(matrix: np.ndarray, zero: str) -> np.ndarray:
    """Each cell's round-trip exact string (Python repr, read by Java as the same double),
    with SystemDS's spellings for zero and the non-finite values; object array, same shape."""
    flat = matrix.ravel()
    cells = np.empty(flat.size, dtype=object)
    cells[:] = list(map(repr, flat.tolist()))
    cells[flat == 0] = zero
    if not np.isfinite(flat).all():
        cells[np.isnan(flat)] = "NaN"
        cells[flat == np.inf] = "Infinity"
        cells[flat == -np.inf] = "-Infinity"
    return cells.reshape(matrix.shape)
