"""Mutated DML programs either parse or fail with DMLSyntaxError: no other exception escapes."""
from __future__ import annotations

import pytest

from pathlib import Path

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kerasdml.runtime.errors import DMLSyntaxError
from kerasdml.runtime.parser import parse

CONFORMANCE = Path(__file__).parent / "conformance"
SEEDS = [p.read_text() for p in sorted(CONFORMANCE.glob("*.dml"))]
# Fragments that are meaningful to the grammar, so mutations reach deep into it.
FRAGMENTS = ["(", ")", "[", "]", "{", "}", ",", ";", ":", "=", "<-", "+=", "%*%", "%%", "%/%", "^",
             "!", "&", "|", "==", "\"", "'", "\\", "#", "/*", "*/", "$", "::", "if", "else", "for",
             "parfor", "while", "function", "return", "source", "as", "in", "TRUE", "1e", ".5",
             "matrix[double]", "int", "\n", " ", "\t", "x", "1", "\x00", "é"]


@st.composite
def mutated_program(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 8)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if kind == "delete":
            text = text[:start] + text[end:]
        elif kind == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            fragment = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)))
            text = text[:start] + fragment + (text[end:] if kind == "replace" else text[start:])
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_program())
def test_parsing_a_mutated_program_raises_only_syntax_errors(text):
    try:
        parse(text, "mutated.dml")
    except DMLSyntaxError as err:
        assert err.position.file == "mutated.dml"
        assert err.position.line >= 1 and err.position.column >= 1
        assert str(err).startswith("mutated.dml:")


def test_all_conformance_programs_parse():
    for path in sorted(CONFORMANCE.glob("*.dml")):
        parse(path.read_text(), path.name)
