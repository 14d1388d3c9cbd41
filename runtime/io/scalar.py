"""Scalars in files: one line of text, whatever format= says (as SystemDS), with a .mtd naming
the value type.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import DMLRuntimeError
from ..values import format_double
from .files import read_text_file, text_writer, write_with_metadata
from .metadata import metadata_text, mtd_for_scalar
from .numbers import parse_java_double


_VALUE_TYPES = {"double": "double", "fp64": "double", "int": "int", "integer": "int",
                "int64": "int", "boolean": "boolean", "bool": "boolean",
                "string": "string", "str": "string"}


def read_scalar(path: str, params: dict) -> float | int | bool | str:
    if os.path.isdir(path):
        raise DMLRuntimeError(f"read({path!r}): a scalar is one file, but {path} is a directory")
    value_type = _VALUE_TYPES.get(str(params.get("value_type", "double")).lower())
    if value_type is None:
        raise DMLRuntimeError(f"read({path!r}): unknown value_type {params['value_type']!r}; "
                              "use \"double\", \"int\", \"boolean\" or \"string\"")
    text = read_text_file(path)
    if value_type == "string":
        return text[:-1] if text.endswith("\n") else text
    token = text.strip()
    try:
        if value_type == "double":
            return parse_java_double(token)
        if value_type == "int":
            return int(token)
        if token.lower() in ("true", "false"):
            return token.lower() == "true"
        raise ValueError(token)
    except ValueError:
        raise DMLRuntimeError(f"read({path!r}): line 1 of {path}: {token[:40]!r} is not a "
                              f"{value_type}") from None


def write_scalar(value, path: str, params: dict) -> None:
    if isinstance(value, np.ndarray):
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        text, value_type = ("true" if value else "false"), "boolean"
    elif isinstance(value, int):
        text, value_type = str(value), "int"
    elif isinstance(value, float):
        text, value_type = format_double(value), "double"
    else:
        text, value_type = str(value), "string"
    write_with_metadata(path, text_writer(text), metadata_text(mtd_for_scalar(value_type)))
