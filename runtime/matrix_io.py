"""DML read() and write() of matrices and scalars, in the files Apache SystemDS 3.x uses.

Pure functions with no interpreter knowledge: `read_value(path, params)` and
`write_value(value, path, params)`, where params are the DML named arguments,
already evaluated.  Matrices are 2-D float64 numpy arrays.

What SystemDS does, observed by running SystemDS 3.4.0 (see
tests/runtime/fixtures/io/make_fixtures.dml) and mirrored here:

* Every write leaves ``<path>.mtd`` beside the data: a JSON object, 4-space
  indented, keys in the order of `mtd_for_matrix` / `_mtd_for_scalar`.  On read,
  a key the .mtd and the read() call both give must agree; an unknown .mtd key is
  an error; without "format" the .mtd means "text"; without "data_type", "matrix".
* Doubles are written with Java's Double.toString, which is round-trip exact.
  We write Python's repr (also the shortest round-trip string; Java parses it to
  the same double), with Java's spellings "Infinity", "-Infinity", "NaN", and "0"
  for zeros as SystemDS does.
* csv: optional header line "C1<sep>C2...", zeros as "0" (or as empty fields with
  sparse=TRUE), empty fields read as `default` (0) when fill=TRUE (the default),
  naStrings (separated by "\u00b7") read as NaN.  Java's parser accepts "NaN",
  "Infinity", "1E-5", "+7", " 2.5 " but not "nan"/"inf"; neither do we.
* text: "i j v" lines, 1-based, nonzeros only, row-major; an all-zero matrix is
  the single line "0 0 0".  Reading needs rows and cols (.mtd or call).
  A cell given twice is an error (SystemDS's parallel reader keeps the first
  or the last one, varying from run to run).
* A path may be a directory of part files (SystemDS writes text files over one
  HDFS block, 128 MB, that way; Spark writes csv that way): the parts are read in
  name order, skipping names starting with "." or "_"; a csv header is only in
  the first part.
* hdf5: SystemDS reads a contiguous (not chunked, not compressed) little-endian
  float64 dataset from a file with superblock version 0 (what h5py writes by
  default), at any group path.  A 1-D dataset of n is n x 1; an N-D dataset is
  shape[0] x prod(shape[1:]), row-major.  read() needs dataset= (SystemDS ignores
  a "dataset" key in the .mtd); write() needs it too and replaces the file.
* binary (Hadoop sequence files of 1000x1000 blocks) is not supported.

Where SystemDS accepts a file but reads something undefined (rows= larger than a csv,
which it zero-pads; rows/cols disagreeing with an HDF5 dataset, which it misreads; a
text cell given twice; a big-endian dataset), we raise an error instead.

`write_hdf5(path, {name: matrix})` writes several matrices into one HDF5 file that
SystemDS reads dataset by dataset (for a model's weights).
"""
from __future__ import annotations

import getpass
import io
import json
import math
import os
import re
import secrets
import shutil
import time
from typing import Any, Callable, Mapping

import numpy as np

from .atomic import atomic_file, write_text
from .errors import DMLRuntimeError

# DataExpression.READ_VALID_PARAM_NAMES (SystemDS 3.4), minus the file name.
READ_PARAMS = frozenset({
    "rows", "cols", "format", "data_type", "value_type", "schema", "rows_in_block",
    "cols_in_block", "nnz", "default", "sep", "fill", "header", "naStrings", "indSep",
    "dataset",
})
# DataExpression.READ_VALID_MTD_PARAM_NAMES: any other key in a .mtd is an error.
MTD_KEYS = READ_PARAMS | {"description", "author", "created", "privacy",
                          "fine_grained_privacy"}
# Keys whose value in the .mtd and in the read() call must agree (compared via _norm).
_COMPARED_KEYS = ("rows", "cols", "format", "data_type", "value_type", "sep", "header",
                  "fill", "default", "naStrings", "dataset")

NA_STRING_SEP = "\u00b7"          # DataExpression.DELIM_NA_STRING_SEP
HDF5_SUPERBLOCK_SIGNATURE = b"\x89HDF\r\n\x1a\n"

_VALUE_TYPES = {"double": "double", "fp64": "double", "int": "int", "integer": "int",
                "int64": "int", "boolean": "boolean", "bool": "boolean",
                "string": "string", "str": "string"}

_UNSUPPORTED_FORMATS = {
    "binary": "SystemDS's binary format (Hadoop sequence files of matrix blocks) is not "
              "supported; write the matrix with format=\"csv\", \"text\" or \"hdf5\"",
    "mm": "Matrix Market is not supported; use format=\"text\" or \"csv\"",
    "libsvm": "libsvm is not supported; use format=\"text\" or \"csv\"",
}


# --------------------------------------------------------------------------
# read()

def read_value(path: str, params: dict) -> "np.ndarray | float | int | bool | str":
    """DML read(): params are the DML named arguments (format, header, sep, rows, cols,
    data_type, value_type, dataset, ...), already evaluated to Python values.
    Matrices come back as 2-D float64 numpy arrays."""
    path = os.fspath(path)
    unknown = sorted(set(params) - READ_PARAMS)
    if unknown:
        raise DMLRuntimeError(f"read({path!r}): unknown parameter {unknown[0]!r}; "
                              f"valid ones are {', '.join(sorted(READ_PARAMS))}")
    if not os.path.exists(path):
        raise DMLRuntimeError(f"read({path!r}): file not found: {path}")
    mtd = load_mtd(path)
    merged = merge_mtd(path, mtd, params)

    data_type = str(merged.get("data_type", "matrix")).lower()
    if data_type == "scalar":
        return _read_scalar(path, merged)
    if data_type != "matrix":
        raise DMLRuntimeError(f"read({path!r}): data_type={data_type!r} is not supported "
                              "(only \"matrix\" and \"scalar\")")

    fmt = read_format(path, merged, mtd)
    matrix = _reader(fmt, path)(path, merged)
    _check_dims(path, matrix, merged)
    return matrix


def load_mtd(path: str) -> dict | None:
    """The .mtd beside path as a dict, or None when there is none."""
    mtd_path = path + ".mtd"
    if not os.path.isfile(mtd_path):
        return None
    try:
        with open(mtd_path, encoding="utf-8") as f:
            mtd = json.load(f)
    except (OSError, ValueError) as e:
        raise DMLRuntimeError(f"read({path!r}): cannot parse metadata file {mtd_path}: {e}")
    if not isinstance(mtd, dict):
        raise DMLRuntimeError(f"read({path!r}): metadata file {mtd_path} is not a JSON object")
    unknown = sorted(set(mtd) - MTD_KEYS)
    if unknown:    # SystemDS: "MTD file ... contains invalid parameter name"
        raise DMLRuntimeError(f"read({path!r}): metadata file {mtd_path} has an invalid "
                              f"key {unknown[0]!r}")
    return mtd


def merge_mtd(path: str, mtd: dict | None, params: dict) -> dict:
    """The read parameters: the .mtd's, overridden by the call's, which must agree with them."""
    if not mtd:
        return dict(params)
    for key in _COMPARED_KEYS:
        if key in ("rows", "cols") and _norm(mtd.get(key)) == -1.0:
            continue    # unknown in the .mtd: the call's value counts
        if key in mtd and key in params and _norm(mtd[key]) != _norm(params[key]):
            raise DMLRuntimeError(
                f"read({path!r}): {key}={params[key]!r} in read() disagrees with "
                f"{key}={mtd[key]!r} in {path}.mtd")
    return {**mtd, **params}


def _norm(value: Any) -> Any:
    """One spelling per value, so that 3 == 3.0 == "3" and TRUE == "true" when compared."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, np.number)):
        return float(value)
    text = str(value)
    if text.strip().lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text.lower() if text.strip() else text


def read_format(path: str, merged: dict, mtd: dict | None) -> str:
    if "format" in merged:
        return str(merged["format"]).lower()
    if mtd is not None or ("rows" in merged and "cols" in merged):
        return "text"    # SystemDS's default format, with a .mtd or with rows and cols
    raise DMLRuntimeError(
        f"read({path!r}): the format can't be known: there is no {path}.mtd and read() has "
        "no format= (pass format=\"csv\", \"text\" or \"hdf5\")")


def _reader(fmt: str, path: str) -> Callable[[str, dict], np.ndarray]:
    if fmt in FORMATS:
        return FORMATS[fmt][0]
    if fmt in _UNSUPPORTED_FORMATS:
        raise DMLRuntimeError(f"read({path!r}): {_UNSUPPORTED_FORMATS[fmt]}")
    raise DMLRuntimeError(f"read({path!r}): unknown format {fmt!r}; supported formats are "
                          f"{', '.join(FORMATS)}")


def _check_dims(path: str, matrix: np.ndarray, params: dict) -> None:
    """rows and cols of the call or .mtd must be the file's (SystemDS zero-pads or fails)."""
    for axis, key in enumerate(("rows", "cols")):
        wanted = _dim(path, params, key)
        if wanted is not None and wanted != matrix.shape[axis]:
            raise DMLRuntimeError(
                f"read({path!r}): {key}={wanted} given, but the file holds a "
                f"{matrix.shape[0]}x{matrix.shape[1]} matrix")


def _dim(path: str, params: dict, key: str) -> int | None:
    """rows or cols as an int; None when not given or -1 (SystemDS writes "rows": -1 into
    a .mtd when the size was unknown at compile time)."""
    value = params.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if number == -1:
        return None
    if not number.is_integer() or number < 0:
        raise DMLRuntimeError(f"read({path!r}): {key}={value!r} is not a non-negative integer")
    return int(number)


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def data_files(path: str) -> list[str]:
    """The file, or a directory's part files in name order (SystemDS skips "." and "_" names)."""
    if not os.path.isdir(path):
        return [path]
    parts = sorted(name for name in os.listdir(path) if not name.startswith((".", "_")))
    files = [os.path.join(path, name) for name in parts]
    if not files:
        raise DMLRuntimeError(f"read({path!r}): the directory {path} has no part files")
    return files


def _read_text_file(file: str) -> str:
    try:
        with open(file, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise DMLRuntimeError(f"malformed file {file}: not a text file (an HDF5 or binary "
                              "file? pass the right format=)") from None


# --- scalars

def _read_scalar(path: str, params: dict) -> float | int | bool | str:
    if os.path.isdir(path):
        raise DMLRuntimeError(f"read({path!r}): a scalar is one file, but {path} is a directory")
    value_type = _VALUE_TYPES.get(str(params.get("value_type", "double")).lower())
    if value_type is None:
        raise DMLRuntimeError(f"read({path!r}): unknown value_type {params['value_type']!r}; "
                              "use \"double\", \"int\", \"boolean\" or \"string\"")
    text = _read_text_file(path)
    if value_type == "string":
        return text[:-1] if text.endswith("\n") else text
    token = text.strip()
    try:
        if value_type == "double":
            return _parse_java_double(token)
        if value_type == "int":
            return int(token)
        if token.lower() in ("true", "false"):
            return token.lower() == "true"
        raise ValueError(token)
    except ValueError:
        raise DMLRuntimeError(f"read({path!r}): line 1 of {path}: {token[:40]!r} is not a "
                              f"{value_type}") from None


def _parse_java_double(token: str) -> float:
    """float(), refusing what Java's Double.parseDouble refuses and Python takes ("inf", "1_0")."""
    if not token or _has_non_java_words(token):
        raise ValueError(token)
    return float(token)


# --- csv

def _read_csv(path: str, params: dict) -> np.ndarray:
    sep = str(params.get("sep", ","))
    if not sep:
        raise DMLRuntimeError(f"read({path!r}): sep must not be empty")
    header = as_bool(params.get("header", False))
    fill = as_bool(params.get("fill", True))
    default = float(params.get("default", 0.0))
    na_strings = [s for s in str(params.get("naStrings", "")).split(NA_STRING_SEP) if s]
    blocks = []
    for index, file in enumerate(data_files(path)):
        lines = _read_text_file(file).splitlines()
        first_line = 1
        if header and index == 0:    # Spark's part files: the header is only in the first
            lines, first_line = lines[1:], 2
        blocks.append(parse_csv_lines(lines, file, first_line, sep, fill, default, na_strings))
    widths = {b.shape[1] for b in blocks if b.shape[0]}
    if len(widths) > 1:
        raise DMLRuntimeError(f"read({path!r}): the part files have different column "
                              f"counts {sorted(widths)}")
    nonempty = [b for b in blocks if b.size]
    if not nonempty:    # no data lines: 0 x cols (cols from the call or .mtd, if given)
        return np.zeros((0, _dim(path, params, "cols") or 0))
    return np.vstack(nonempty) if len(nonempty) > 1 else nonempty[0]


def parse_csv_lines(lines: list[str], file: str, first_line: int, sep: str, fill: bool,
                     default: float, na_strings: list[str]) -> np.ndarray:
    """Checks shape and empty fields per line, then parses all numbers at once with loadtxt."""
    if not lines:
        return np.zeros((0, 0))
    counts = np.fromiter((line.count(sep) for line in lines), dtype=np.int64, count=len(lines))
    # With one column, an empty line is a zero written with sparse=TRUE; any other blank
    # line is an error (numpy would skip it silently).
    blank = [n for n, line in enumerate(lines) if not line.strip() and (line or counts[0])]
    if blank:
        raise DMLRuntimeError(f"malformed line {first_line + blank[0]} of {file}: empty line")
    bad = np.flatnonzero(counts != counts[0])
    if bad.size:
        n = int(bad[0])
        raise DMLRuntimeError(f"malformed line {first_line + n} of {file}: {counts[n] + 1} "
                              f"field(s), but line {first_line} has {counts[0] + 1}")
    text = "\n".join(lines)
    text = _replace_fields(text, sep, na_strings, "NaN")
    text = _fill_empty_fields(text, file, first_line, sep, fill, default)
    if _has_non_java_words(text):
        _raise_first_bad_field(text, file, first_line, sep)
    # loadtxt takes a one-character delimiter only; numbers never hold a \x1f
    delimiter, numbers = (sep, text) if len(sep) == 1 else ("\x1f", text.replace(sep, "\x1f"))
    try:
        return np.loadtxt(io.StringIO(numbers), delimiter=delimiter, dtype=np.float64, ndmin=2,
                          comments=None, quotechar=None)
    except ValueError:
        _raise_first_bad_field(text, file, first_line, sep)
        raise


def _empty_field_pattern(sep: str) -> re.Pattern:
    """A zero-width match where a field is empty: at line start or after sep, before sep or
    line end (an empty line is one empty field)."""
    s = re.escape(sep)
    return re.compile(rf"(?:^|(?<={s}))(?={s}|$)", re.MULTILINE)


def _has_empty_field(text: str, sep: str) -> bool:
    """Plain substring tests: much faster than the regex on large files."""
    return (sep + sep in text or "\n" + sep in text or sep + "\n" in text
            or text.startswith((sep, "\n")) or text.endswith((sep, "\n")) or "\n\n" in text)


def _fill_empty_fields(text: str, file: str, first_line: int, sep: str, fill: bool,
                       default: float) -> str:
    if not _has_empty_field(text, sep):
        return text
    pattern = _empty_field_pattern(sep)
    match = pattern.search(text)
    if match is None:
        return text
    if not fill:
        n = first_line + text.count("\n", 0, match.start())
        raise DMLRuntimeError(f"malformed line {n} of {file}: empty field (read() with "
                              "fill=TRUE reads empty fields as default=)")
    return pattern.sub(_java_double(default), text)


def _replace_fields(text: str, sep: str, tokens: list[str], replacement: str) -> str:
    """Whole fields equal to one of tokens (blanks around allowed) become replacement."""
    if not tokens:
        return text
    s = re.escape(sep)
    alternatives = "|".join(re.escape(t) for t in tokens)
    pattern = re.compile(rf"(?:^|(?<={s}))[ \t]*(?:{alternatives})[ \t]*(?={s}|$)", re.MULTILINE)
    return pattern.sub(replacement, text)


_LETTER_NOT_E = re.compile(r"[A-DF-Za-df-z_]")
_WORD = re.compile(r"[A-Za-z_]+")
_JAVA_WORDS = frozenset({"Infinity", "NaN", "e", "E"})


def _has_non_java_words(text: str) -> bool:
    """numpy takes "nan", "inf", "infinity" in any case; Java only "NaN" and "Infinity".
    Most files have no letter but e/E, which the first, fast search tells."""
    if _LETTER_NOT_E.search(text) is None:
        return False
    return not _JAVA_WORDS.issuperset(_WORD.findall(text))


def _raise_first_bad_field(text: str, file: str, first_line: int, sep: str) -> None:
    """The error path only: finds the first field that is not a number, line by line."""
    for n, line in enumerate(text.split("\n")):
        for k, field in enumerate(line.split(sep)):
            try:
                _parse_java_double(field)
            except ValueError:
                raise DMLRuntimeError(
                    f"malformed line {first_line + n} of {file}: field {k + 1} "
                    f"{field[:40]!r} is not a number") from None
    _raise_if_reached(file, f"csv with sep={sep!r}")


def _raise_if_reached(file: str, what: str) -> None:
    raise DMLRuntimeError(f"malformed file {file}: cannot parse it as {what}")


# --- text (ijv)

def _read_text(path: str, params: dict) -> np.ndarray:
    rows, cols = _dim(path, params, "rows"), _dim(path, params, "cols")
    if rows is None or cols is None:
        raise DMLRuntimeError(
            f"read({path!r}): format \"text\" needs rows= and cols=, in read() or in "
            f"{path}.mtd (there is {'a' if os.path.isfile(path + '.mtd') else 'no'} .mtd)")
    matrix = np.zeros((rows, cols))
    for file in data_files(path):
        _fill_from_ijv(matrix, _read_text_file(file), file)
    return matrix


def _fill_from_ijv(matrix: np.ndarray, text: str, file: str) -> None:
    if not text.strip():
        return
    if _has_non_java_words(text):
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
                _parse_java_double(field)
            except ValueError:
                raise DMLRuntimeError(f"malformed line {n + 1} of {file}: {field[:40]!r} "
                                      "is not a number") from None
    _raise_if_reached(file, "\"row col value\" lines")


# --- hdf5

def _read_hdf5(path: str, params: dict) -> np.ndarray:
    import h5py    # imported here: only HDF5 users pay for it
    dataset = params.get("dataset")
    if os.path.isdir(path):
        raise DMLRuntimeError(f"read({path!r}): an hdf5 matrix is one file, but {path} is "
                              "a directory")
    with open(path, "rb") as f:
        if f.read(8) != HDF5_SUPERBLOCK_SIGNATURE:
            raise DMLRuntimeError(f"read({path!r}): {path} is not an HDF5 file")
    with h5py.File(path, "r") as f:
        names = _hdf5_dataset_names(f)
        if dataset is None:
            raise DMLRuntimeError(f"read({path!r}): format \"hdf5\" needs dataset= in read() "
                                  f"(SystemDS ignores it in the .mtd); the file has "
                                  f"{', '.join(names) or 'no datasets'}")
        try:
            node = f.get(str(dataset))
        except (KeyError, TypeError, ValueError):
            node = None
        if not isinstance(node, h5py.Dataset):
            raise DMLRuntimeError(f"read({path!r}): dataset {dataset!r} not found in {path}; "
                                  f"it has {', '.join(names) or 'no datasets'}")
        _check_systemds_readable(path, f, node)
        data = node[()]
    return _hdf5_as_matrix(path, dataset, np.asarray(data, dtype=np.float64), params)


def _hdf5_dataset_names(f) -> list[str]:
    import h5py
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def _check_systemds_readable(path: str, f, node) -> None:
    """Refuses what SystemDS 3.4's own HDF5 reader fails on or misreads, so that a file that
    works here works there too."""
    import h5py
    problems = []
    if f.id.get_create_plist().get_version()[0] != 0:
        problems.append("the file's superblock is not version 0 (h5py libver='latest'?)")
    if node.id.get_create_plist().get_layout() != h5py.h5d.CONTIGUOUS:
        problems.append("the dataset is chunked or compressed, not contiguous")
    if node.dtype != np.dtype("<f8"):
        problems.append(f"the dataset's type is {node.dtype.str}, not little-endian float64 (<f8)")
    problems += _crowded_groups(f, node.name)
    if problems:
        raise DMLRuntimeError(
            f"read({path!r}): SystemDS can't read dataset {node.name!r}: {'; '.join(problems)}. "
            "Write it with h5py.File(path, 'w').create_dataset(name, data=a.astype('<f8')) "
            "and no chunks or compression (or with write_hdf5 of this module)")


# SystemDS 3.4 reads a group only while its symbol table's B-tree is one node deep, which is
# certain up to 128 members (32 leaves of at least 4); bigger groups fail once it grows a level.
SYSTEMDS_GROUP_MEMBERS = 128


def _crowded_groups(f, dataset: str) -> list[str]:
    parts = dataset.strip("/").split("/")[:-1]
    groups = ["/" + "/".join(parts[:k]) for k in range(len(parts) + 1)]
    return [f"group {g!r} has {len(f[g])} members (SystemDS reads groups of up to "
            f"{SYSTEMDS_GROUP_MEMBERS}; put the datasets in subgroups)"
            for g in groups if len(f[g]) > SYSTEMDS_GROUP_MEMBERS]


def _hdf5_as_matrix(path: str, dataset: str, data: np.ndarray, params: dict) -> np.ndarray:
    """SystemDS's view of a dataset: 1-D of n is n x 1, N-D is shape[0] x prod(shape[1:])."""
    shape = data.shape
    if data.ndim == 0:
        matrix = data.reshape(1, 1)
    elif data.ndim == 1:
        matrix = data.reshape(-1, 1)
    else:
        matrix = data.reshape(shape[0], -1)
    for axis, key in enumerate(("rows", "cols")):
        wanted = _dim(path, params, key)
        if wanted is not None and wanted != matrix.shape[axis]:
            raise DMLRuntimeError(
                f"read({path!r}): rows={params.get('rows')}, cols={params.get('cols')} disagree "
                f"with dataset {dataset!r} of shape {tuple(shape)}, which SystemDS reads as "
                f"{matrix.shape[0]}x{matrix.shape[1]}")
    return np.ascontiguousarray(matrix)


# --------------------------------------------------------------------------
# write()

def write_value(value, path: str, params: dict) -> None:
    """DML write(): value is a 2-D numpy array or a Python scalar; params are format
    (default "text" as SystemDS), header, sep, sparse, description, dataset (hdf5)."""
    path = os.fspath(path)
    if _is_scalar(value):
        _write_scalar(value, path, params)    # SystemDS writes scalars as text, whatever format=
        return
    matrix = np.asarray(value, dtype=np.float64)
    if matrix.ndim != 2:
        raise DMLRuntimeError(f"write({path!r}): expected a matrix (2-D), got {matrix.ndim}-D")
    fmt = str(params.get("format", "text")).lower()
    if fmt not in FORMATS:
        if fmt in _UNSUPPORTED_FORMATS:
            raise DMLRuntimeError(f"write({path!r}): {_UNSUPPORTED_FORMATS[fmt]}")
        raise DMLRuntimeError(f"write({path!r}): unknown format {fmt!r}; supported formats "
                              f"are {', '.join(FORMATS)}")
    write_data, extra_mtd = FORMATS[fmt][1](matrix, path, params)
    mtd = mtd_for_matrix(matrix, fmt, params, extra_mtd)
    _atomic_write(path, write_data, metadata_text(mtd))


def _is_scalar(value) -> bool:
    return isinstance(value, (bool, int, float, str, np.generic)) or (
        isinstance(value, np.ndarray) and value.ndim == 0)


def mtd_for_matrix(matrix: np.ndarray, fmt: str, params: dict, extra: dict) -> dict:
    """SystemDS's key order: data_type, value_type, rows, cols, nnz, format, description,
    author, (csv: header, sep), created."""
    mtd: dict[str, Any] = {
        "data_type": "matrix", "value_type": "double",
        "rows": int(matrix.shape[0]), "cols": int(matrix.shape[1]),
        "nnz": int(np.count_nonzero(matrix)),    # NaN counts as nonzero, as in SystemDS
        "format": fmt,
    }
    if "description" in params:
        mtd["description"] = str(params["description"])
    mtd["author"] = _author()
    mtd.update(extra)
    mtd["created"] = _created()
    return mtd


def _mtd_for_scalar(value_type: str) -> dict:
    return {"data_type": "scalar", "value_type": value_type, "format": "text",
            "author": _author(), "created": _created()}


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:    # no user name in some containers; SystemDS would write "null"
        return "kerasdml"


def _created() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def metadata_text(mtd: dict) -> str:
    return json.dumps(mtd, indent=4)    # same layout as SystemDS's, no final newline


def _write_scalar(value, path: str, params: dict) -> None:
    if isinstance(value, np.ndarray):
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        text, value_type = ("true" if value else "false"), "boolean"
    elif isinstance(value, int):
        text, value_type = str(value), "int"
    elif isinstance(value, float):
        text, value_type = _java_double(value), "double"
    else:
        text, value_type = str(value), "string"
    _atomic_write(path, text_writer(text), metadata_text(_mtd_for_scalar(value_type)))


def _java_double(x: float) -> str:
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


def text_writer(text: str) -> Callable[[str], None]:
    def write(tmp_path: str) -> None:
        with open(tmp_path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return write


def _write_csv(matrix: np.ndarray, path: str, params: dict):
    sep = str(params.get("sep", ","))
    header = as_bool(params.get("header", False))
    zero = "" if as_bool(params.get("sparse", False)) else "0"
    cells = format_cells(matrix, zero)
    lines = [sep.join(f"C{k + 1}" for k in range(matrix.shape[1]))] if header else []
    lines.extend(map(sep.join, cells.tolist()))
    text = "\n".join(lines) + "\n" if lines else ""
    return text_writer(text), {"header": header, "sep": sep}


def _write_text(matrix: np.ndarray, path: str, params: dict):
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


def _write_hdf5(matrix: np.ndarray, path: str, params: dict):
    if params.get("dataset") is None:
        raise DMLRuntimeError(f"write({path!r}): format \"hdf5\" needs dataset=")
    name = str(params["dataset"])
    return (lambda tmp_path: _write_hdf5_file(tmp_path, {name: matrix})), {}


def write_hdf5(path: str, datasets: Mapping[str, np.ndarray]) -> None:
    """One HDF5 file holding several matrices (e.g. a model's weights), each readable by
    SystemDS with read(path, format="hdf5", dataset=name, rows=, cols=).  No .mtd: one
    .mtd can't describe several datasets; read() gets everything from its arguments."""
    path = os.fspath(path)
    matrices = {}
    for name, value in datasets.items():
        matrix = np.asarray(value, dtype=np.float64)
        if matrix.ndim != 2:
            raise DMLRuntimeError(f"write_hdf5({path!r}): dataset {name!r} is "
                                  f"{matrix.ndim}-D; SystemDS reads matrices (2-D)")
        matrices[name] = matrix
    _atomic_write(path, lambda tmp_path: _write_hdf5_file(tmp_path, matrices), None)


def _write_hdf5_file(file: str, matrices: Mapping[str, np.ndarray]) -> None:
    """h5py's defaults are what SystemDS reads: superblock 0, contiguous layout; plus <f8."""
    import h5py
    with h5py.File(file, "w", libver="earliest") as f:
        for name, matrix in matrices.items():
            f.create_dataset(name, data=np.ascontiguousarray(matrix, dtype="<f8"))


def _atomic_write(path: str, write_data: Callable[[str], None], mtd_text: str | None) -> None:
    """Writes data and .mtd through temporary files beside them (runtime/atomic.py), so that a
    failure never leaves a half-written file under the real name."""
    try:
        with atomic_file(path) as data:
            write_data(data)
            remove_part_file_directory(path)
        # the .mtd goes last: metadata never describes data that is not there yet
        if mtd_text is not None:
            write_text(path + ".mtd", mtd_text)
        elif os.path.isfile(path + ".mtd"):
            os.remove(path + ".mtd")    # an earlier write's .mtd would describe another file
    except OSError as e:
        raise DMLRuntimeError(f"write({path!r}): {e}") from e


def temp_beside(path: str) -> str:
    """A fresh hidden name in path's directory (hidden: a part-file reader skips it).  Not
    created here: mkstemp would make it 0600, and the renamed file would keep that."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")


def remove_part_file_directory(path: str) -> None:
    """SystemDS overwrites an earlier output, which may be a directory of part files; we
    remove such a directory (files only), never one with subdirectories."""
    if not os.path.isdir(path):
        return
    entries = [os.path.join(path, name) for name in os.listdir(path)]
    if any(os.path.isdir(e) and not os.path.islink(e) for e in entries):
        raise DMLRuntimeError(f"write({path!r}): {path} is a directory with subdirectories; "
                              "not overwriting it")
    shutil.rmtree(path)


# Format name -> (reader, writer).  A reader takes (path, merged params) and returns the
# matrix; a writer takes (matrix, path, params) and returns (function writing the data to a
# given file, extra .mtd keys).
FORMATS: dict[str, tuple[Callable, Callable]] = {
    "text": (_read_text, _write_text),
    "csv": (_read_csv, _write_csv),
    "hdf5": (_read_hdf5, _write_hdf5),
}
