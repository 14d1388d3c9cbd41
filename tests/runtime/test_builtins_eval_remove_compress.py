"""The builtins eval, evalList, remove, compress, decompress and exists through DML, and their
error messages. Expected values are what SystemDS 3.4 gives for the same programs (probed with
its jar; tests/runtime/conformance/builtins_eval_remove_compress.dml runs them byte for byte)."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.lists import DMLList

FUNCTIONS = """
scale = function(matrix[double] A, double s) return (matrix[double] B) {
  B = A * s
}
sub = function(double a, double b = 10) return (double c) {
  c = a - b
}
stats = function(matrix[double] A) return (matrix[double] P, double total) {
  P = A + 1
  total = sum(A)
}
count = function(list[unknown] L) return (double n) {
  n = length(L)
}
words = function(double a) return (string s) {
  s = "hello"
}
listed = function(double a) return (list[unknown] L) {
  L = list(a)
}
X = matrix("1 2 3 4", rows=2, cols=2)
"""
X = np.array([[1.0, 2.0], [3.0, 4.0]])


def run1(text: str):
    return run_string(FUNCTIONS + text, outputs=["Y"])["Y"]


def raises(message: str):
    return pytest.raises(DMLRuntimeError, match=message)


# ---- eval / evalList -----------------------------------------------------------------------

@pytest.mark.parametrize("call, expected", [
    ('eval("scale", X, 2)', X * 2),                       # arguments by position
    ('eval("scale", list(X, 3))', X * 3),                 # a positional list holds them
    ('eval("scale", list(s=4, A=X))', X * 4),             # a named list binds by name
    ('eval("sub", 1, 2)', [[-1.0]]),                      # a number comes back as a 1x1 matrix
    ('eval("sub", list(5))', [[-5.0]]),                   # lists fill scalar defaults
    ('eval("sub", list(b=1, a=7))', [[6.0]]),
    ('eval("sub", TRUE, 1)', [[0.0]]),                    # TRUE binds to a double as 1
    ('eval("count", list(1, 2, 3))', [[3.0]]),            # a list parameter takes the list whole
    ('eval("stats", X)', X + 1),                          # the first of several outputs
    ('eval(".defaultNS::sub", 3, 1)', [[2.0]]),
])
def test_eval_calls_the_named_function(call, expected):
    Y = run1(f"Y = {call}")
    assert isinstance(Y, np.ndarray) and np.array_equal(Y, np.asarray(expected))


def test_eval_takes_a_name_known_only_at_run_time_and_a_file_qualified_name(tmp_path):
    (tmp_path / "m.dml").write_text("h = function(double x) return (double y) {\n  y = x * 100\n}\n")
    Y = run1(f'fn = "sub"\nfor (i in 1:1) {{ fn = "sub" }}\nY = eval(fn, 9, 4) + eval("{tmp_path}/m.dml::h", 3)')
    assert Y.tolist() == [[305.0]]


def test_eval_list_returns_all_outputs_named_by_the_function():
    R = run1("Y = evalList(\"stats\", X)")
    assert isinstance(R, DMLList) and R.names == ["P", "total"]
    assert np.array_equal(R[0], X + 1) and R[1] == 10.0
    assert run1('Y = evalList("sub", list(a=1, b=2))') == [-1.0]


def test_values_eval_returns_as_they_are_do_not_change_with_the_callers_variables():
    out = run_string(FUNCTIONS + """
ident = function(matrix[double] A) return (matrix[double] B) { B = A }
V = matrix(0, rows=2, cols=2)
V[1, 1] = 1
Y = eval("ident", V)
L = evalList("ident", V)
C = compress(V)
V[2, 2] = 7
Z = as.matrix(L[1])
""", outputs=["Y", "Z", "C", "V"])
    assert out["Y"].tolist() == out["Z"].tolist() == out["C"].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert out["V"].tolist() == [[1.0, 0.0], [0.0, 7.0]]


@pytest.mark.parametrize("call, message", [
    ('eval("sub", b=2, a=10)', r"eval takes the function's arguments by position, not as `b=`"),
    ('eval("sub", 4)', r"eval: function `sub` takes 2 arguments, got 1"),
    ('eval("sub", 1, 2, 3)', r"eval: function `sub` takes 2 arguments, got 3"),
    ('eval("sub")', r"eval needs at least one argument after the function's name"),
    ('eval(3, 4)', r"eval needs the function's name as a string first, got int"),
    ('eval("nope", X)', r"eval: function `nope` is not defined"),
    ('eval("sub", list(1, 2, 3))', r"eval: function `sub` takes 2 arguments, the list holds 3"),
    ('eval("sub", list(b=1))', r"eval: the argument list leaves out `a` of function `sub`"),
    ('eval("sub", list(a=1, d=2))', r"eval: function `sub` has no parameter `d`"),
    ('eval("scale", list(X))', r"eval: the argument list leaves out `s` of function `scale`"),
    ('eval("words", 1)', r"eval: function `words` returns a string first; eval returns a matrix"),
    ('eval("listed", 1)', r"eval: function `listed` returns a list first"),
    ('evalList("sub", a=1)', r"evalList takes the function's arguments by position"),
])
def test_eval_errors_name_the_builtin_and_the_problem(call, message):
    with raises(message):
        run1(f"Y = {call}")


# ---- remove --------------------------------------------------------------------------------

def remove(index: str, target: str = "list(a=1, b=2, c=3)"):
    out = run_string(f"L = {target}\n[Y, E] = remove(L, {index})", outputs=["Y", "E"])
    return out["Y"], out["E"]


def test_remove_returns_the_rest_with_its_names_and_the_element_unnamed():
    rest, removed = remove("1")
    assert list(rest) == [2, 3] and rest.names == ["b", "c"]
    assert list(removed) == [1] and removed.names == [None]


@pytest.mark.parametrize("index, kept, gone", [("2.7", [1, 3], [2]), ("TRUE", [2, 3], [1]),
                                               ("3", [1, 2], [3])])
def test_remove_truncates_the_index_as_systemds_does(index, kept, gone):
    rest, removed = remove(index)
    assert list(rest) == kept and list(removed) == gone


def test_remove_leaves_the_list_itself_unchanged():
    out = run_string("L = list(1, 2)\n[A, B] = remove(L, 1)\nY = L", outputs=["Y"])
    assert list(out["Y"]) == [1, 2]


@pytest.mark.parametrize("index, target, message", [
    ("0", "list(1, 2)", r"remove: index 0 is out of bounds for a list of length 2"),
    ("3", "list(1, 2)", r"remove: index 3 is out of bounds for a list of length 2"),
    ('"a"', "list(a=1)", r"remove needs a number as the index, got string"),
    ("1", "matrix(1, 2, 2)", r"remove needs a list as its first argument, got matrix 2x2"),
])
def test_remove_errors(index, target, message):
    with raises(message):
        remove(index, target)


def test_remove_must_be_assigned_to_two_variables():
    with raises(r"builtin `remove` returns 2 values"):
        run_string("L = remove(list(1), 1)")


# ---- compress / decompress / exists ---------------------------------------------------------

@pytest.mark.parametrize("name", ["compress", "decompress"])
def test_compress_and_decompress_return_the_matrix_unchanged(name):
    assert np.array_equal(run1(f"Y = {name}(X)"), X)
    with raises(f"{name} needs a matrix, got int"):
        run1(f"Y = {name}(3)")
    with raises(f"builtin `{name}` takes its first argument by position"):
        run1(f"Y = {name}(X=X)")


def test_exists_is_true_for_a_matrix_or_list_variable_and_refuses_names():
    assert run1("L = list(1)\nY = exists(X) & exists(L)") is True
    with raises(r"exists of a string is not supported"):
        run1('Y = exists("X")')
