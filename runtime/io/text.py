"""text (ijv) matrices: "i j v" lines, 1-based, nonzeros only, row-major; an all-zero matrix is the
single line "0 0 0". Reading needs rows and cols (.mtd or call).

A cell given twice is an error (SystemDS's parallel reader keeps the first or the last one,
varying from run to run).
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..errors import DMLRuntimeError
from .files import data_files, read_text_file, text_writer
from .metadata import dim
from .numbers import format_cells, has_non_java_words, parse_java_double, raise_unparsable


def read_text(path: str, params: dict) -> np.ndarray:
    rows, cols = dim(path, params, "rows"), dim(path, params, "cols")
    if rows is None or cols is None:
        raise DMLRuntimeError(
            f"read({path!r}): format \"text\" needs rows= and cols=, in read() or in "
            f"{path}.mtd (there is {'a' if os.path.isfile(path + '.mtd') else 'no'} .mtd)")
    matrix = np.zeros((rows, cols))
    for file in data_files(path):
        _fill_from_ijv(matrix, read_text_file(file), file)
    return matrix


def _fill_from_ijv(matrix: np.ndarray, text: str, file: str) -> None:
    if not text.strip():
        return
    if has_non_java_words(text):
        _raise_first_bad_ijv(text.splitlines(), file)
    try:    # loadtxt refuses ragged lines; the slow diagnosis runs on failure only
        triples = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        triples = None
    lines = text.splitlines()
    if triples is None or triples.shape[1] != 3:
        _raise_first_bad_ijv(lines, file)
    # loadtxt skips blank lines: the file line of each triple, for messages
    line_of = np.array([n for n, line in enumerate(lines) if line.strip()], dtype=np.int64)
    i, j, v = triples[:, 0], triples[:, 1], triples[:, 2]
    kept = ~((i == 0) & (j == 0) & (v == 0))    # "0 0 0": SystemDS's all-zero matrix
    i, j, v, line_of = i[kept], j[kept], v[kept], line_of[kept]
    rows, cols = matrix.shape
    bad = np.flatnonzero((i != np.floor(i)) | (j != np.floor(j)) | (i < 1) | (j < 1)
                         | (i > rows) | (j > cols))
    if bad.size:
        n = int(line_of[bad[0]])
        row, col = lines[n].split()[:2]
        raise DMLRuntimeError(f"malformed line {n + 1} of {file}: cell ({row}, {col}) is "
                              f"outside the {rows}x{cols} matrix (indices are 1-based)")
    cells = (i.astype(np.int64) - 1) * cols + (j.astype(np.int64) - 1)
    _reject_duplicate_cells(cells, line_of, lines, file)
    matrix.flat[cells] = v


def _reject_duplicate_cells(cells: np.ndarray, line_of: np.ndarray, lines: list[str],
                            file: str) -> None:
    """SystemDS keeps the first or the last of duplicate cells, varying from run to run
    (fixtures in_dup.txt / seen_dup.csv); a file with duplicates means nothing definite."""
    order = np.argsort(cells, kind="stable")
    repeated = np.flatnonzero(np.diff(cells[order]) == 0)
    if repeated.size:
        first, second = sorted((int(order[repeated[0]]), int(order[repeated[0] + 1])))
        a, b = int(line_of[first]), int(line_of[second])
        i, j = lines[b].split()[:2]
        raise DMLRuntimeError(f"malformed line {b + 1} of {file}: cell ({i}, {j}) was given "
                              f"before, on line {a + 1}")


def _raise_first_bad_ijv(lines: list[str], file: str) -> None:
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        if len(line.split()) != 3:
            raise DMLRuntimeError(f"malformed line {n + 1} of {file}: expected \"row col "
                                  f"value\", got {line[:60]!r}")
        for field in line.split():
            try:
                parse_java_double(field)
            except ValueError:
                raise DMLRuntimeError(f"malformed line {n + 1} of {file}: {field[:40]!r} "
                                      "is not a number") from None
    raise_unparsable(file, "\"row col value\" lines")


def write_text(matrix: np.ndarray, path: str, params: dict):
    i, j = np.nonzero(matrix)    # row-major order, as SystemDS writes
    if i.size == 0:
        return text_writer("0 0 0\n"), {}    # SystemDS's line for an all-zero matrix
    values = format_cells(matrix[i, j], "0")
    # each index formatted once, then picked per cell by (C-speed) fancy indexing
    row_names = np.array([str(k + 1) for k in range(matrix.shape[0])], dtype=object)
    col_names = np.array([str(k + 1) for k in range(matrix.shape[1])], dtype=object)
    columns = (row_names[i].tolist(), col_names[j].tolist(), values.tolist())
    text = "\n".join(map(" ".join, zip(*columns))) + "\n"
    return text_writer(text), {}
