"""Errors say what went wrong and where (file:line:col), in DML terms, never as a traceback."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kerasdml.runtime.api import run_file, run_string
from kerasdml.runtime.errors import DMLRuntimeError, DMLStopError, DMLSyntaxError

ERRORS = Path(__file__).parent / "conformance" / "errors"

SYNTAX_ERRORS = [
    # program, where (line:col), message pattern
    ("x = (1 + 2\ny = 3\n", "2:1", r"unexpected 'y'; expected .*'\)'"),
    ('x = "abc\n', "1:5", r'unterminated string starting with "'),
    ("x = 1 +\n", "1:8", r"unexpected end of input"),
    ("if (x > 1 {\n  y = 2\n}\n", "1:11", r"unexpected '\{'"),
    ("x = 3 # ok\ny = 4 @ 2\n", "2:7", r"unexpected character '@'"),
    ("f = function(int a) return (int b) { b = a }\nf(1 2)\n", "2:5", r"unexpected '2'"),
]


@pytest.mark.parametrize("program, where, message", SYNTAX_ERRORS)
def test_syntax_error_names_position_line_and_expectation(program, where, message):
    with pytest.raises(DMLSyntaxError, match=message) as caught:
        run_string(program, file="prog.dml")
    error = caught.value
    assert f"{error.position.line}:{error.position.column}" == where
    rendered = str(error)
    assert rendered.startswith(f"prog.dml:{where}: syntax error: ")
    line_no, column = map(int, where.split(":"))
    source_line = program.splitlines()[line_no - 1] if line_no <= len(program.splitlines()) else ""
    if source_line:  # the offending line, then a caret under the column
        assert f"    {source_line}\n    {' ' * (column - 1)}^" in rendered


def test_write_of_an_expression_is_rejected_before_anything_runs(tmp_path):
    # SystemDS writes only a variable: write(X + 1, ...) fails validation, so nothing prints
    out = io.StringIO()
    with pytest.raises(DMLSyntaxError, match=r"write's first argument must be a variable name") as caught:
        run_string(f'X = 1\nprint("before")\nwrite(X + 1, "{tmp_path}/f.csv")\n', file="prog.dml", out=out)
    assert (caught.value.position.line, caught.value.position.column) == (3, 1)
    assert out.getvalue() == "" and not list(tmp_path.iterdir())


RUNTIME_ERRORS = [
    ("x = 1\ny = z + x\n", 2, r"undefined variable `z`"),
    ("A = matrix(1, rows=3, cols=4)\nB = matrix(1, rows=5, cols=2)\nC = A %*% B\n", 3,
     r"`%\*%` of matrix 3x4 and matrix 5x2: inner dimensions 4 and 5 differ"),
    ("X = matrix(1, rows=5, cols=3)\ni = 7\nv = X[i, 1]\n", 3, r"index \[7, 1\] out of bounds for 5x3|out of bounds"),
    ("X = matrix(1, rows=2, cols=2)\nY = matrix(1, rows=3, cols=2)\nZ = X + Y\n", 3, r"dimensions do not match"),
    ("x = TRUE + 1\n", 1, r"no boolean arithmetic"),
    ("x = 7\ny = 0\nz = x %/% y\n", 3, r"integer division by zero"),
    ("x = nosuch(3)\n", 1, r"unknown function `nosuch`"),
    ("x = 3\nstop(\"bad value: \" + x)\n", 2, r"bad value: 3"),
    ("assert(1 > 2)\n", 1, r"assertion failed"),
    ("x = sum(1, 2, 3)\n", 1, r"builtin `sum`"),
    ("x = $missing + 1\n", 1, r"command-line argument `\$missing` was not given"),
    ("R = matrix(0, rows=3, cols=1)\nx = 0\nparfor (i in 1:3) {\n  x = x + i\n}\n", 3,
     r"parfor iterations depend on each other through x"),
    ("s = 0\nparfor (i in 1:3) {\n  s += i\n}\n", 2,
     r"parfor iterations depend on each other through s \(s \+= \.\.\. adds up matrices only"),
    ('source("no/such/file.dml") as lib\n', 1, r"sourced file 'no/such/file.dml' not found"),
    ("for (i in seq(1, 2, 0.5)) { print(i) }\n", 1, r"increment must be a whole number"),
    ("F = as.frame(matrix(1, rows=1, cols=1))\n", 1, r"`as.frame` works on frames, which kerasdml does not"),
    ("Y = pca(matrix(1, rows=2, cols=2))\n", 1, r"`pca` is one of SystemDS' builtin functions written in "
     r"DML \(scripts/builtin/pca.dml\)"),
    ("A = matrix(0, rows=2, cols=2)\nx = solve(A, matrix(1, rows=2, cols=1))\n", 2, r"singular"),
    ("A = matrix(\"1 2 2 1\", rows=2, cols=2)\nL = cholesky(A)\n", 2, r"positive definite"),
    ("M = matrix(0, rows=2, cols=3)\nM[1, ] = 7\n", 2, r"1x3 region with a scalar"),
    ("e = eigen(matrix(1, rows=2, cols=2))\n", 1, r"builtin `eigen` returns 2 values"),
    ("x = ifelse(1, 2)\n", 1, r"builtin `ifelse` is missing argument `no`"),
    ('M = matrix("1 Inf", rows=1, cols=2)\n', 1, r"'Inf', which is not a number .*spelled Infinity"),
    ("Y = toOneHot(matrix(3, rows=2, cols=1), 2)\n", 1, r"numClasses must be >= largest value"),
    ("W = msvm(X=matrix(1, rows=4, cols=2), Y=matrix(\"1 2 1 2\", rows=4, cols=1), verbose=TRUE)\n", 1,
     r"msvm: verbose=TRUE is not supported .*pass verbose=FALSE"),
    ("R = img_mirror_linearized(matrix(1, rows=2, cols=6), TRUE, 2, 2)\n", 1,
     r"img_mirror_linearized: each row of img_matrix must hold a 2x2 image \(4 columns\), got 2x6"),
    ("Y = imputeByMeanApply(matrix(1, rows=2, cols=3), matrix(1, rows=1, cols=2))\n", 1,
     r"imputeByMeanApply: imputedVec must be a 1x3 row vector"),
    ('f = function(double a) return (double b) { b = a }\ny = eval("f", a=1)\n', 2,
     r"eval takes the function's arguments by position, not as `a=`"),
    ('L = evalList("f", list(1, 2))\n', 1, r"evalList: function `f` is not defined"),
    ("c = countDistinctApprox(matrix(1, rows=2, cols=2))\n", 1,
     r"the SystemDS builtin `countDistinctApprox` is not supported"),
    ("x = 2\nt = typeof(x)\n", 2, r"the SystemDS builtin `typeof` is not supported"),
    ("M = rowClassMeet(matrix(1, rows=2, cols=2), matrix(1, rows=2, cols=2))\n", 1,
     r"the SystemDS builtin `rowClassMeet` is not supported"),
    ('E = einsum("ij,jk->ik", matrix(1, rows=2, cols=2), matrix(1, rows=2, cols=2))\n', 1,
     r"the SystemDS builtin `einsum` is not supported"),
    ("L = as.list(matrix(1, rows=2, cols=2))\n", 1, r"as.list needs a list, got matrix 2x2"),
    ("L = as.list(3)\n", 1, r"as.list needs a list, got int"),
    # SystemDS takes any string but "TRUE"/"true" as FALSE; refused here
    ('f = function(boolean b) return (boolean c) { c = !b }\nx = f("yes")\n', 2,
     r"`b` is declared boolean but got the string 'yes' \(TRUE, true, FALSE or false convert\)"),
    ('f = function(int i) return (int j) { j = i + 1 }\nx = f("3x")\n', 2,
     r"`i` is declared int but got the string '3x', which is not a number"),
]


def test_a_function_named_like_a_systemds_script_builtin_is_called():
    program = "scale = function(double x) return (double y) {\n  y = x * 10\n}\nprint(scale(2))\n"
    out = io.StringIO()
    run_string(program, out=out)
    assert out.getvalue() == "20.0\n"


@pytest.mark.parametrize("program, line, message", RUNTIME_ERRORS)
def test_runtime_error_names_line_and_cause(program, line, message):
    with pytest.raises(DMLRuntimeError, match=message) as caught:
        run_string(program, file="prog.dml", out=io.StringIO())
    assert caught.value.position is not None
    assert (caught.value.position.file, caught.value.position.line) == ("prog.dml", line)
    assert str(caught.value).startswith(f"prog.dml:{line}:")


def test_error_inside_function_shows_dml_call_stack():
    program = ("inner = function(matrix[double] X) return (matrix[double] Y) {\n"
               "  Y = X %*% X\n"
               "}\n"
               "outer = function(matrix[double] X) return (matrix[double] Y) {\n"
               "  Y = inner(X)\n"
               "}\n"
               "Z = outer(matrix(1, rows=2, cols=3))\n")
    with pytest.raises(DMLRuntimeError) as caught:
        run_string(program, file="prog.dml")
    assert caught.value.position.line == 2
    assert caught.value.call_stack == ("outer", "inner")
    assert "call stack (innermost last): outer -> inner" in str(caught.value)


def test_sourced_function_with_unknown_parameter_is_named(tmp_path):
    (tmp_path / "affine.dml").write_text(
        "forward = function(matrix[double] X, matrix[double] W) return (matrix[double] out) {\n"
        "  out = X %*% W\n}\n")
    script = tmp_path / "main.dml"
    script.write_text('source("affine.dml") as affine\nX = matrix(1, rows=2, cols=2)\n'
                      "Y = affine::forward(X=X, Z=X)\n")
    with pytest.raises(DMLRuntimeError, match=r"function `forward` has no parameter `Z`; its parameters "
                                              r"are X, W") as caught:
        run_file(script)
    assert caught.value.position.line == 3


@pytest.mark.parametrize("program, message", [
    ("f = function(int a, int b) return (int c) { c = a + b }\nx = f(1, 2, 3)\n", r"takes 2 arguments, got 3"),
    ("f = function(int a, int b) return (int c) { c = a + b }\nx = f(1)\n", r"missing argument `b`"),
    ("f = function(int a) return (int c, int d) { c = a; d = a }\nx = f(1)\n", r"returns 2 value\(s\)"),
])
def test_wrong_calls_fail_before_anything_runs(program, message):
    out = io.StringIO()
    with pytest.raises(DMLRuntimeError, match=message):
        run_string('print("started")\n' + program, out=out)
    assert out.getvalue() == ""  # checked when the program is compiled, like SystemDS


def test_assigning_a_call_without_outputs_runs_it_and_leaves_no_value():
    out = io.StringIO()
    program = ('f = function(int a) return () { print("ran " + a) }\n'
               'z = f(3)\nprint(z)\n')
    with pytest.raises(DMLRuntimeError, match=r"undefined variable `z`") as caught:
        run_string(program, out=out)
    assert out.getvalue() == "ran 3\n" and caught.value.position.line == 3


def test_assigning_a_multi_output_call_with_control_flow_takes_the_first():
    program = ("f = function(int a) return (int c, int d) {\n"
               "  if (a > 0) { c = a + 1 } else { c = 0 }\n  d = a * 2\n}\nx = f(4)\n")
    assert run_string(program, outputs=["x"])["x"] == 5


def test_stop_raises_stop_error_after_earlier_prints():
    out = io.StringIO()
    with pytest.raises(DMLStopError, match="stopped here"):
        run_string('print("before")\nstop("stopped here")\nprint("after")\n', out=out)
    assert out.getvalue() == "before\n"


def test_inputs_are_never_modified_by_left_indexing():
    original = np.zeros((2, 2))
    result = run_string("X[1, 1] = 5\nY = X\n", inputs={"X": original}, outputs=["Y", "X"])
    assert original[0, 0] == 0 and result["X"][0, 0] == 5


# Programs that SystemDS rejects and that kerasdml rejects too (the others are documented extensions).
REJECTED_LIKE_SYSTEMDS = sorted(
    p for p in ERRORS.glob("*.dml")
    if p.stem not in {"logical_andand", "syntax_minus_assign", "accumulate_undefined",
                      "syntax_semicolon_after_brace", "mixed_named_positional"})


@pytest.mark.parametrize("program", REJECTED_LIKE_SYSTEMDS, ids=[p.stem for p in REJECTED_LIKE_SYSTEMDS])
def test_programs_systemds_rejects_fail_with_a_positioned_error(program, monkeypatch):
    monkeypatch.chdir(program.parent)
    args = {"z": 0} if program.stem == "int_div_by_zero" else {}
    with pytest.raises((DMLSyntaxError, DMLRuntimeError)) as caught:
        run_file(program, args=args, out=io.StringIO())
    assert caught.value.position is not None and caught.value.position.file.endswith(program.name)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kerasdml.compiler.launch", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_cli_reports_error_on_stderr_without_traceback_and_exits_nonzero(tmp_path):
    script = tmp_path / "bad.dml"
    script.write_text('print("hello")\nx = undefined_thing + 1\n')
    done = run_cli("run", str(script))
    assert done.returncode == 1
    assert done.stdout == "hello\n"
    assert f"{script}:2:1: runtime error: undefined variable `undefined_thing`" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_debug_shows_python_traceback(tmp_path):
    script = tmp_path / "bad.dml"
    script.write_text("x = y\n")
    done = run_cli("--debug", "run", str(script))
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_cli_passes_typed_arguments_and_prints_stats(tmp_path):
    script = tmp_path / "args.dml"
    script.write_text('print($a + 1)\nprint($b)\nprint($1 + " " + $2)\n')
    done = subprocess.run([sys.executable, "-m", "kerasdml.compiler.launch", "run", str(script),
                           "-nvargs", "a=41", "b=2.50", "--stats"], capture_output=True, text=True)
    assert done.returncode == 1 and "`$1` was not given" in done.stderr  # -args missing
    done = subprocess.run([sys.executable, "-m", "kerasdml.compiler.launch", "run", str(script),
                           "-nvargs", "a=41", "b=2.50", "--stats", "-args", "TRUE", "x y"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "42\n2.5\nTRUE x y\n"
    assert "Total elapsed time" in done.stderr and "print" in done.stderr
