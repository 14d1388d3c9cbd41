"""csv matrices, as SystemDS reads and writes them.

Optional header line "C1<sep>C2...", zeros as "0" (or as empty fields with sparse=TRUE), empty
fields read as `default` (0) when fill=TRUE (the default), naStrings (separated by "\u00b7") read
as NaN. Java's parser accepts "NaN", "Infinity", "1E-5", "+7", " 2.5 " but not "nan"/"inf";
neither do we. In a folder of part files the header is only in the first part.

`read_options` and `parse_csv_lines` are what Spark's executors use on their row blocks.
"""
from __future__ import annotations

import io
import re

import numpy as np

from ..errors import DMLRuntimeError
from ..values import format_double
from .files import data_files, read_text_file, text_writer
from .metadata import as_bool, dim
from .numbers import format_cells, has_non_java_words, parse_java_double, raise_unparsable


NA_STRING_SEP = "\u00b7"  # DataExpression.DELIM_NA_STRING_SEP


def read_options(params: dict) -> dict:
    """header, sep, fill, default and na (the naStrings list) of a csv read(), from its
    merged parameters."""
    return {"header": as_bool(params.get("header", False)), "sep": str(params.get("sep", ",")),
            "fill": as_bool(params.get("fill", True)),
            "default": float(params.get("default", 0.0)),
            "na": [s for s in str(params.get("naStrings", "")).split(NA_STRING_SEP) if s]}


def read_csv(path: str, params: dict) -> np.ndarray:
    options = read_options(params)
    sep, header = options["sep"], options["header"]
    if not sep:
        raise DMLRuntimeError(f"read({path!r}): sep must not be empty")
    blocks = []
    for index, file in enumerate(data_files(path)):
        lines = read_text_file(file).splitlines()
        first_line = 1
        if header and index == 0:    # Spark's part files: the header is only in the first
            lines, first_line = lines[1:], 2
        blocks.append(parse_csv_lines(lines, file, first_line, sep, options["fill"],
                                      options["default"], options["na"]))
    widths = {b.shape[1] for b in blocks if b.shape[0]}
    if len(widths) > 1:
        raise DMLRuntimeError(f"read({path!r}): the part files have different column "
                              f"counts {sorted(widths)}")
    nonempty = [b for b in blocks if b.size]
    if not nonempty:    # no data lines: 0 x cols (cols from the call or .mtd, if given)
        return np.zeros((0, dim(path, params, "cols") or 0))
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
    if has_non_java_words(text):
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
    return pattern.sub(format_double(default), text)


def _replace_fields(text: str, sep: str, tokens: list[str], replacement: str) -> str:
    """Whole fields equal to one of tokens (blanks around allowed) become replacement."""
    if not tokens:
        return text
    s = re.escape(sep)
    alternatives = "|".join(re.escape(t) for t in tokens)
    pattern = re.compile(rf"(?:^|(?<={s}))[ \t]*(?:{alternatives})[ \t]*(?={s}|$)", re.MULTILINE)
    return pattern.sub(replacement, text)


def _raise_first_bad_field(text: str, file: str, first_line: int, sep: str) -> None:
    """The error path only: finds the first field that is not a number, line by line."""
    for n, line in enumerate(text.split("\n")):
        for k, field in enumerate(line.split(sep)):
            try:
                parse_java_double(field)
            except ValueError:
                raise DMLRuntimeError(
                    f"malformed line {first_line + n} of {file}: field {k + 1} "
                    f"{field[:40]!r} is not a number") from None
    raise_unparsable(file, f"csv with sep={sep!r}")


def write_options(params: dict) -> tuple[str, bool, str]:
    """(sep, header, the spelling of zero) of a csv write(): sparse=TRUE writes zeros as empty
    fields."""
    zero = "" if as_bool(params.get("sparse", False)) else "0"
    return str(params.get("sep", ",")), as_bool(params.get("header", False)), zero


def header_line(sep: str, cols: int) -> str:
    return sep.join(f"C{k + 1}" for k in range(cols))


def data_lines(matrix: np.ndarray, sep: str, zero: str) -> list[str]:
    """One line per row (no newlines), as SystemDS writes it; Spark's executors use it per block."""
    return list(map(sep.join, format_cells(matrix, zero).tolist()))


def write_csv(matrix: np.ndarray, path: str, params: dict):
    sep, header, zero = write_options(params)
    lines = [header_line(sep, matrix.shape[1])] if header else []
    lines.extend(data_lines(matrix, sep, zero))
    text = "\n".join(lines) + "\n" if lines else ""
    return text_writer(text), {"header": header, "sep": sep}
