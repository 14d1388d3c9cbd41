"""Benchmark figures live in bench/'s output and the README, dated, with the load they were
measured under; a figure in a comment or docstring goes stale unseen. This scans the comments
and docstrings of the package for timings and speed-ups."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("compiler", "runtime", "dml_lib")
TIMING = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:ms|µs|us|ns)\b(?!/step)"            # "12 ms"
    r"|\b\d+(?:\.\d+)?\s?(?:x|×|times)\s(?:faster|slower|quicker)"  # "3x faster"
    r"|\b\d+\.\d+\s?(?:s|sec|seconds)\b(?!/)"                    # "4.2 s", "0.56-0.60 s"
    r"|\bGFLOP/?s\b", re.IGNORECASE)
# modules whose docstring shows a line of their own output, with made-up times, as its format
OUTPUT_EXAMPLES = {"compiler/training/progress.py"}


def _texts(path: Path):
    """(line, text) of every comment and docstring of a module."""
    source = path.read_text()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield getattr(node, "lineno", 1), doc


def test_comments_and_docstrings_carry_no_timings():
    found = [f"{path.relative_to(ROOT)}:{line}: {match.group(0)!r}"
             for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))
             if str(path.relative_to(ROOT)) not in OUTPUT_EXAMPLES
             for line, text in _texts(path) for match in TIMING.finditer(text)]
    assert found == [], "benchmark figures belong in bench/ output and the README"


def test_the_scan_sees_a_timing():
    assert TIMING.search("runs in 12.5 ms on LeNet") and TIMING.search("about 3x faster")
    assert TIMING.search("4.2 s per epoch") and TIMING.search("1.8-2.9 s that way")
    assert not TIMING.search("71 ms/step - ETA") and not TIMING.search("1311 samples/s")
