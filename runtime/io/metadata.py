"""The .mtd file beside every matrix or scalar SystemDS writes, and the read() parameters
checked against it.

A .mtd is a JSON object, 4-space indented, keys in SystemDS's order (`mtd_for_matrix`,
`mtd_for_scalar`). On read, a key the .mtd and the read() call both give must agree; an unknown
.mtd key is an error; without "format" the .mtd means "text"; without "data_type", "matrix".
"""
from __future__ import annotations

import getpass
import json
import math
import os
import time
from typing import Any

import numpy as np

from ..errors import DMLRuntimeError


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
_COMPARED_KEYS = ("rows", "cols", "format", "data_type", "value_type", "fill", "default",
                  "naStrings", "dataset")
# Keys where the .mtd's value silently replaces the call's (SystemDS reads a csv written with a
# header and sep=";" through read(header=FALSE, sep=",") as the .mtd describes it).
_MTD_WINS = ("header", "sep")


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
    """The read parameters: the .mtd's, overridden by the call's, which must agree with them
    (except for header and sep, where the .mtd's count)."""
    if not mtd:
        return dict(params)
    for key in _COMPARED_KEYS:
        if key in ("rows", "cols") and _norm(mtd.get(key)) == -1.0:
            continue    # unknown in the .mtd: the call's value counts
        if key in mtd and key in params and _norm(mtd[key]) != _norm(params[key]):
            raise DMLRuntimeError(
                f"read({path!r}): {key}={params[key]!r} in read() disagrees with "
                f"{key}={mtd[key]!r} in {path}.mtd")
    return {**mtd, **params, **{key: mtd[key] for key in _MTD_WINS if key in mtd}}


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


def dim(path: str, params: dict, key: str) -> int | None:
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


def mtd_for_matrix(matrix: np.ndarray, fmt: str, params: dict, extra: dict) -> dict:
    # NaN counts as nonzero, as in SystemDS
    return mtd_for_dimensions(matrix.shape[0], matrix.shape[1], np.count_nonzero(matrix), fmt,
                              params, extra)


def mtd_for_dimensions(rows: int, cols: int, nnz: int, fmt: str, params: dict, extra: dict) -> dict:
    """SystemDS's key order: data_type, value_type, rows, cols, nnz, format, description,
    author, (csv: header, sep), created."""
    mtd: dict[str, Any] = {
        "data_type": "matrix", "value_type": "double",
        "rows": int(rows), "cols": int(cols), "nnz": int(nnz), "format": fmt,
    }
    if "description" in params:
        mtd["description"] = str(params["description"])
    mtd["author"] = _author()
    mtd.update(extra)
    mtd["created"] = _created()
    return mtd


def mtd_for_scalar(value_type: str) -> dict:
    return {"data_type": "scalar", "value_type": value_type, "format": "text",
            "author": _author(), "created": _created()}


def mtd_for_list(length: int, fmt: str) -> dict:
    """SystemDS's .mtd beside a list's folder: its length as rows, one column."""
    return {"data_type": "list", "value_type": "unknown", "rows": int(length), "cols": 1,
            "format": fmt, "author": _author(), "created": _created()}


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:    # no user name in some containers; SystemDS would write "null"
        return "kerasdml"


def _created() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def metadata_text(mtd: dict) -> str:
    return json.dumps(mtd, indent=4)    # same layout as SystemDS's, no final newline
