"""Which elements of upd's result a worker streams ahead of its push, and when: found from the
function's body (runtime/paramserv/early_push.py); the streaming variant computes what the
function computes and hands each streamed value to its tap once, when it is final."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasdml.runtime.context import Context
from kerasdml.runtime.function_refs import call_by_name
from kerasdml.runtime.interpreter import Interpreter
from kerasdml.runtime.lists import DMLList
from kerasdml.runtime.paramserv.early_push import MIN_STREAMED_BYTES, Streamed, Tap, streamed_outputs, \
    streaming_variant
from kerasdml.runtime.paramserv.socket_server import _fill_streamed
from kerasdml.runtime.parser import parse

HEAD = "upd = function(list[unknown] model, matrix[double] X) return (list[unknown] g) {\n"


def plan(body: str) -> list[Streamed]:
    return streamed_outputs(parse(HEAD + body + "\n}\n").functions[0])


def test_an_element_is_final_after_the_last_statement_that_assigns_its_variable():
    found = plan("A = X + 1\nB = A * 2\nA = A - 1\nC = B + A\nD = C * C\ng = list(a=A, b=B, c=C, d=D)")
    # A last assigned by statement 2, B by 1; C by 3 has D's statement after it; D's has none
    assert found == [Streamed(0, "A", 2), Streamed(1, "B", 1), Streamed(2, "C", 3)]


@pytest.mark.parametrize("body, expected", [
    # an assignment inside a loop or a branch counts as the loop's or the branch's
    ("A = X\nfor (i in 1:3) { A = A + i }\nB = A\nC = B\ng = list(A, C)", [Streamed(0, "A", 1)]),
    ("A = X\nif (TRUE) { A[1, 1] = 0 }\nB = A\nC = B\ng = list(A)", [Streamed(0, "A", 1)]),
    ("A = X\nB = A\nfor (A in 1:2) { C = B }\ng = list(A)", []),      # the loop assigns A
    ("A = X\n[A, B] = f(X)\nC = B\nD = C\ng = list(A)", [Streamed(0, "A", 1)]),
    ("A = X\nB = A\nC = B\ng = list(A + 1, X)", []),     # an expression; a parameter
    ("A = X\nB = A\nC = B\ng = list(A)\nprint(1)", []),   # not ending with its list
    ("A = X\nB = A\nC = B\nh = list(A)\ng = h", []),
])
def test_what_cannot_be_streamed_is_not(body, expected):
    assert plan(body) == expected


PROGRAM = """
upd = function(list[unknown] model, matrix[double] X) return (list[unknown] g) {
  W = as.matrix(model[1])
  big = t(X) %*% X
  small = colSums(X)
  big = big * 2
  rest = X %*% W
  rest = rest + 1
  g = list(big=big, small=small, rest=rest, w=W)
}
"""


def test_the_streaming_variant_computes_the_same_and_taps_large_final_values_once():
    interpreter = Interpreter(Context(args={}))
    module, _ = interpreter.load_program(PROGRAM, "<test>", Path.cwd())
    upd = module.functions["upd"]
    tap = Tap()
    variant = streaming_variant(upd, interpreter, tap)
    assert variant is not None and variant.body is not upd.body
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 100))           # big: 100 x 100 doubles, past MIN_STREAMED_BYTES
    assert 100 * 100 * 8 >= MIN_STREAMED_BYTES > 100 * 8
    model = DMLList([rng.normal(size=(100, 3))])
    plain = call_by_name(upd, {"model": DMLList(model), "X": x.copy()}, (), "upd")[0]
    seen = []
    tap.send = lambda position, value: seen.append((position, value.copy()))
    streamed = call_by_name(variant, {"model": DMLList(model), "X": x.copy()}, (), "upd")[0]
    assert [p for p, _ in seen] == [0]       # small is too small; rest is final too late; w too
    assert np.array_equal(seen[0][1], plain[0])
    for a, b in zip(plain, streamed):
        assert np.array_equal(a, b)
    tap.send = None
    again = call_by_name(variant, {"model": DMLList(model), "X": x.copy()}, (), "upd")[0]
    assert len(seen) == 1 and np.array_equal(again[2], plain[2])


def test_the_server_fills_a_push_from_its_parts_and_refuses_what_does_not_match():
    parts = {(3, 0): "A", (3, 2): "C"}
    result = DMLList([None, "B", None], ["a", "b", "c"])
    _fill_streamed(result, 3, parts)
    assert list(result) == ["A", "B", "C"] and parts == {}
    with pytest.raises(ValueError, match="do not match"):
        _fill_streamed(DMLList([None, "B"]), 3, {})           # a part never came
    with pytest.raises(ValueError, match="does not fit"):
        _fill_streamed(DMLList(["A", "B"]), 3, {(3, 1): "X"})  # no empty position for it
    with pytest.raises(ValueError, match="do not match"):
        _fill_streamed(DMLList(["A"]), 3, {(2, 0): "old"})     # a part of another step
