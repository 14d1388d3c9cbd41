"""Matrix construction, aggregation and elementwise builtins, run through DML and compared with numpy."""
from __future__ import annotations

import math

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.local.kahan import kahan_sum


def run(text: str, outputs, **inputs):
    names = [outputs] if isinstance(outputs, str) else list(outputs)
    result = run_string(text, inputs=inputs, outputs=names)
    return result[names[0]] if isinstance(outputs, str) else [result[n] for n in names]


def run_single(text: str, outputs, **inputs):
    return run_string(text, inputs=inputs, outputs=[outputs], precision="single")[outputs]


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


# ---- matrix --------------------------------------------------------------------------------------

def test_matrix_from_string_fills_row_major():
    M = run('M = matrix("1 2 3 4 5 6", rows=2, cols=3)', "M")
    np.testing.assert_array_equal(M, [[1, 2, 3], [4, 5, 6]])
    assert M.dtype == np.float64


def test_matrix_from_string_ignores_byrow_as_systemds_does():
    M = run('M = matrix("1 2 3 4 5 6", rows=2, cols=3, byrow=FALSE)', "M")
    np.testing.assert_array_equal(M, [[1, 2, 3], [4, 5, 6]])


def test_matrix_from_matrix_byrow_false_fills_column_major():
    M = run('M = matrix(seq(1, 6), rows=2, cols=3, byrow=FALSE)', "M")
    np.testing.assert_array_equal(M, [[1, 3, 5], [2, 4, 6]])


def test_matrix_fill_with_number():
    M = run("M = matrix(2.5, rows=3, cols=2)", "M")
    np.testing.assert_array_equal(M, np.full((3, 2), 2.5))


def test_matrix_reshapes_a_matrix(rng):
    X = rng.standard_normal((4, 6))
    Y, Z = run("Y = matrix(X, rows=3, cols=8); Z = matrix(X, rows=8, cols=3, byrow=FALSE)", ["Y", "Z"], X=X)
    np.testing.assert_array_equal(Y, X.reshape(3, 8))
    np.testing.assert_array_equal(Z, X.reshape(8, 3, order="F"))


def test_matrix_byrow_false_matches_systemds_example():
    Y = run('M = matrix("1 2 3 4 5 6", rows=2, cols=3); Y = matrix(M, rows=3, cols=2, byrow=FALSE)', "Y")
    np.testing.assert_array_equal(Y, [[1, 5], [4, 3], [2, 6]])


def test_matrix_infers_the_missing_dimension():
    A, B = run('A = matrix("1 2 3 4 5 6", rows=3); B = matrix("1 2 3 4 5 6", cols=3)', ["A", "B"])
    assert A.shape == (3, 2) and B.shape == (2, 3)
    np.testing.assert_array_equal(B, [[1, 2, 3], [4, 5, 6]])


def test_matrix_reshape_leaves_the_source_intact_after_a_write(rng):
    X = rng.standard_normal((2, 3))
    Y, X2 = run("Y = matrix(X, rows=3, cols=2); Y[1, 1] = 100; X2 = X", ["Y", "X2"], X=X.copy())
    assert Y[0, 0] == 100
    np.testing.assert_array_equal(X2, X)


@pytest.mark.parametrize("text, message", [
    ('M = matrix("1 2 3", rows=2, cols=2)', "3 values.*2x2.*needs 4"),
    ('M = matrix("1 2 3 4 5", rows=2)', "5 values"),
    ('M = matrix("1 x 3 4", rows=2, cols=2)', "'x'.*not a number"),
    ("M = matrix(3, rows=2)", "needs both rows= and cols="),
    ("M = matrix(3, rows=-1, cols=2)", "rows must not be negative"),
    ("M = matrix(matrix(1, rows=2, cols=3), rows=4, cols=2)", "matrix 2x3 has 6 values.*4x2"),
])
def test_matrix_errors_name_the_problem(text, message):
    with pytest.raises(DMLRuntimeError, match=message):
        run_string(text)


def test_matrix_single_precision_is_float32():
    M = run_single('M = matrix("1 2 3 4", rows=2, cols=2)', "M")
    F = run_single("F = matrix(0.1, rows=2, cols=2)", "F")
    assert M.dtype == np.float32 and F.dtype == np.float32
    assert F[0, 0] == np.float32(0.1)


# ---- rand ------------------------------------------------------------------------------------------

def test_rand_uniform_bounds_and_dims():
    R = run("R = rand(rows=50, cols=40, min=-3, max=2)", "R")
    assert R.shape == (50, 40)
    assert R.min() >= -3 and R.max() <= 2
    assert R.std() > 0.5  # spread over the interval, not constant


def test_rand_seed_reproduces_and_differs_between_seeds():
    A, B, C = run("A = rand(rows=5, cols=5, seed=42); B = rand(rows=5, cols=5, seed=42); "
                  "C = rand(rows=5, cols=5, seed=43)", ["A", "B", "C"])
    np.testing.assert_array_equal(A, B)
    assert not np.array_equal(A, C)


def test_rand_without_seed_differs_between_calls():
    A, B = run("A = rand(rows=4, cols=4); B = rand(rows=4, cols=4)", ["A", "B"])
    assert not np.array_equal(A, B)


def test_rand_sparsity_controls_nonzero_fraction():
    R, Z = run("R = rand(rows=200, cols=200, min=1, max=2, sparsity=0.3, seed=1); "
               "Z = rand(rows=3, cols=3, sparsity=0)", ["R", "Z"])
    assert abs(np.count_nonzero(R) / R.size - 0.3) < 0.02
    assert np.all((R == 0) | ((R >= 1) & (R <= 2)))
    np.testing.assert_array_equal(Z, np.zeros((3, 3)))


def test_rand_normal_and_poisson():
    N, P = run('N = rand(rows=300, cols=100, pdf="normal", seed=5); '
               'P = rand(rows=300, cols=100, pdf="poisson", lambda=4, seed=6)', ["N", "P"])
    assert abs(N.mean()) < 0.03 and abs(N.std() - 1) < 0.03
    np.testing.assert_array_equal(P, np.round(P))
    assert abs(P.mean() - 4) < 0.1


def test_rand_single_precision():
    R = run_single("R = rand(rows=3, cols=2, min=1, max=3, seed=9)", "R")
    assert R.dtype == np.float32 and R.min() >= 1 and R.max() <= 3


@pytest.mark.parametrize("text, message", [
    ("R = rand(rows=2, cols=2, sparsity=1.5)", "sparsity must lie in"),
    ('R = rand(rows=2, cols=2, pdf="gamma")', "pdf must be one of uniform, normal, poisson"),
    ("R = rand(rows=2, cols=2, min=3, max=1)", r"min \(3.0\) must not exceed max"),
    ("R = rand(rows=2, cols=2, mean=1)", "no parameter `mean`"),
])
def test_rand_errors(text, message):
    with pytest.raises(DMLRuntimeError, match=message):
        run_string(text)


def test_rand_rows_and_cols_default_to_one():
    # SystemDS: rand(min=1, max=3) is a 1x1 matrix, rand(rows=2) a 2x1 one
    R, C = run("R = rand(min=1, max=3, seed=2); C = rand(rows=2, min=4, max=4)", ["R", "C"])
    assert R.shape == (1, 1) and 1 <= R[0, 0] <= 3
    np.testing.assert_array_equal(C, [[4.0], [4.0]])


# ---- seq -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, expected", [
    ("seq(1, 5)", [1, 2, 3, 4, 5]),
    ("seq(5, 1)", [5, 4, 3, 2, 1]),
    ("seq(5, 1, -2)", [5, 3, 1]),
    ("seq(1, 2, 0.25)", [1, 1.25, 1.5, 1.75, 2]),
    ("seq(0, 10, 3)", [0, 3, 6, 9]),
    ("seq(3, 3)", [3]),
])
def test_seq_values(call, expected):
    s = run(f"s = {call}", "s")
    assert s.shape == (len(expected), 1)
    np.testing.assert_array_equal(s[:, 0], expected)


def test_seq_takes_positional_arguments_only_as_in_systemds():
    with pytest.raises(DMLRuntimeError, match="`seq` takes its first argument by position"):
        run_string("s = seq(from=2, to=4)")


def test_seq_matches_repeated_addition():
    s = run("s = seq(0, 1, 0.1)", "s")
    expected, x = [], 0.0
    for _ in range(11):
        expected.append(x)
        x += 0.1
    assert s[:, 0].tolist() == expected


def test_seq_wrong_sign_and_zero_increment():
    with pytest.raises(DMLRuntimeError, match="Wrong sign for the increment"):
        run_string("s = seq(1, 0, 1)")
    with pytest.raises(DMLRuntimeError, match="Wrong sign for the increment"):
        run_string("s = seq(1, 5, -1)")
    with pytest.raises(DMLRuntimeError, match="increment must not be 0"):
        run_string("s = seq(1, 5, 0)")


def test_seq_single_precision():
    assert run_single("s = seq(1, 3)", "s").dtype == np.float32


# ---- cbind, rbind, diag, outer, t, rev ----------------------------------------------------------------

def test_cbind_rbind_match_numpy(rng):
    A, B, C = rng.standard_normal((3, 2)), rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    X, Y = run("X = cbind(A, B, C); Y = rbind(t(A), t(B))", ["X", "Y"], A=A, B=B, C=C)
    np.testing.assert_array_equal(X, np.hstack([A, B, C]))
    np.testing.assert_array_equal(Y, np.vstack([A.T, B.T]))


def test_bind_errors():
    with pytest.raises(DMLRuntimeError, match="same number of rows.*2x2.*3x1"):
        run_string("X = cbind(matrix(1, rows=2, cols=2), matrix(1, rows=3, cols=1))")
    with pytest.raises(DMLRuntimeError, match="same number of columns"):
        run_string("X = rbind(matrix(1, rows=2, cols=2), matrix(1, rows=2, cols=3))")
    with pytest.raises(DMLRuntimeError, match="at least two matrices"):
        run_string("X = rbind(matrix(1, rows=2, cols=2))")
    with pytest.raises(DMLRuntimeError, match="cbind argument 2 must be a matrix, got int"):
        run_string("X = cbind(matrix(1, rows=2, cols=2), 3)")


def test_diag_both_directions(rng):
    v, M = rng.standard_normal((4, 1)), rng.standard_normal((5, 5))
    D, d = run("D = diag(v); d = diag(M)", ["D", "d"], v=v, M=M)
    np.testing.assert_array_equal(D, np.diag(v[:, 0]))
    np.testing.assert_array_equal(d, np.diag(M).reshape(-1, 1))


def test_diag_errors():
    with pytest.raises(DMLRuntimeError, match="column vector or a square matrix, got matrix 2x3"):
        run_string("d = diag(matrix(1, rows=2, cols=3))")


@pytest.mark.parametrize("op, function", [
    ("+", np.add), ("-", np.subtract), ("*", np.multiply), ("/", np.divide), ("^", np.power),
    ("min", np.minimum), ("max", np.maximum), ("<", np.less), (">=", np.greater_equal),
    ("==", np.equal), ("!=", np.not_equal),
])
def test_outer_matches_numpy(op, function, rng):
    a = rng.integers(1, 4, (4, 1)).astype(float)
    b = rng.integers(1, 4, (1, 3)).astype(float)
    R = run(f'R = outer(a, b, "{op}")', "R", a=a, b=b)
    np.testing.assert_allclose(R, function(a, b).astype(float))
    assert R.shape == (4, 3)


def test_outer_errors():
    with pytest.raises(DMLRuntimeError, match="unknown operator '\\*\\*'"):
        run_string('R = outer(matrix(1, rows=2, cols=1), matrix(1, rows=1, cols=2), "**")')
    with pytest.raises(DMLRuntimeError, match="second argument must be a row vector"):
        run_string('R = outer(matrix(1, rows=2, cols=1), matrix(1, rows=2, cols=1), "+")')


def test_transpose_and_rev(rng):
    X = rng.standard_normal((3, 5))
    T, R, back = run("T = t(X); R = rev(X); back = t(t(X))", ["T", "R", "back"], X=X)
    np.testing.assert_array_equal(T, X.T)
    np.testing.assert_array_equal(R, X[::-1])
    np.testing.assert_array_equal(back, X)


def test_transpose_result_can_be_written_without_touching_the_input(rng):
    X = rng.standard_normal((2, 3))
    T, X2 = run("T = t(X); T[1, 1] = 99; X2 = X", ["T", "X2"], X=X.copy())
    assert T[0, 0] == 99
    np.testing.assert_array_equal(X2, X)


# ---- full aggregates ----------------------------------------------------------------------------------

def test_full_aggregates_match_numpy(rng):
    X = rng.standard_normal((37, 23))
    s, m, v, d, lo, hi, p = run("s = sum(X); m = mean(X); v = var(X); d = sd(X); lo = min(X); hi = max(X); "
                                "p = prod(X[1:3, 1:4])", ["s", "m", "v", "d", "lo", "hi", "p"], X=X)
    for value in (s, m, v, d, lo, hi, p):
        assert type(value) is float
    assert s == math.fsum(X.ravel().tolist())
    assert m == pytest.approx(X.mean(), rel=1e-14)
    assert v == pytest.approx(X.var(ddof=1), rel=1e-13)
    assert d == pytest.approx(X.std(ddof=1), rel=1e-13)
    assert (lo, hi) == (X.min(), X.max())
    assert p == pytest.approx(np.prod(X[:3, :4]), rel=1e-13)


def test_sum_is_compensated():
    s, m = run("s = sum(matrix(0.1, rows=10, cols=1)); m = mean(matrix(0.1, rows=10, cols=1))", ["s", "m"])
    assert s == 1.0 and m == 0.1
    assert sum([0.1] * 10) != 1.0  # a plain loop would not get there


@pytest.mark.parametrize("shape", [(1000, 1000), (100000, 3), (3, 50000)])
def test_large_sums_are_correctly_rounded_with_cancellation(shape, rng):
    X = rng.standard_normal(shape) * np.exp(rng.uniform(-20, 20, shape))
    X[:, 0] = -X[:, 1:].sum(axis=1) + rng.standard_normal(shape[0])  # heavy cancellation
    s, c, r = run("s = sum(X); c = colSums(X); r = rowSums(X)", ["s", "c", "r"], X=X)
    assert s == math.fsum(X.ravel().tolist())
    columns = [math.fsum(X[:, j].tolist()) for j in range(min(shape[1], 50))]
    assert c[0, :len(columns)].tolist() == columns
    rows = [math.fsum(X[i].tolist()) for i in range(min(shape[0], 50))]
    assert r[:len(rows), 0].tolist() == rows


def test_sums_with_infinity_and_nan():
    X = np.ones((400, 3))
    X[3, 1] = np.inf
    X[5, 2] = np.nan
    s, c, k = run("s = sum(X[, 1:2]); c = colSums(X); k = cumsum(X)", ["s", "c", "k"], X=X)
    assert s == math.inf
    assert c[0, 0] == 400 and c[0, 1] == math.inf and math.isnan(c[0, 2])
    assert k[2, 1] == 3 and k[3, 1] == math.inf and math.isnan(k[-1, 2]) and k[-1, 0] == 400


def test_var_of_known_values():
    v = run('v = var(matrix("2 4 4 4 5 5 7 9", rows=8, cols=1))', "v")
    assert v == pytest.approx(32 / 7, rel=1e-15)


def test_full_aggregates_need_a_matrix():
    with pytest.raises(DMLRuntimeError, match="argument of sum must be a matrix, got int"):
        run_string("s = sum(3)")


def test_aggregates_of_empty_matrices():
    """SystemDS's starting values: min Infinity, max -Infinity, prod 1; zeros over an empty axis."""
    got = run_string("a = min(X); b = max(X); c = prod(X); C = colMaxs(X); R = rowMaxs(X)",
                     inputs={"X": np.zeros((0, 2))}, outputs=["a", "b", "c", "C", "R"])
    assert (got["a"], got["b"], got["c"]) == (np.inf, -np.inf, 1.0)
    assert got["C"].tolist() == [[0.0, 0.0]] and got["R"].shape == (0, 1)


# ---- min / max ------------------------------------------------------------------------------------------

def test_min_max_scalar_types():
    a, b, c, d, e, f = run("a = min(3, 5); b = max(2, 3.5); c = min(4, 2, 7, 1); d = max(TRUE, FALSE); "
                           "e = max(-1, -1); f = min(2, 2.0)", list("abcdef"))
    assert (a, type(a)) == (3, int)
    assert (b, type(b)) == (3.5, float)
    assert (c, type(c)) == (1.0, float)
    assert (d, type(d)) == (1.0, float)
    assert (e, type(e)) == (-1, int)
    assert (f, type(f)) == (2.0, float)


def test_min_max_elementwise(rng):
    X, Y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    row = rng.standard_normal((1, 5))
    A, B, C, D = run("A = min(X, Y); B = max(X, 0); C = max(X, row); D = min(X, Y, 0.1)",
                     list("ABCD"), X=X, Y=Y, row=row)
    np.testing.assert_array_equal(A, np.minimum(X, Y))
    np.testing.assert_array_equal(B, np.maximum(X, 0))
    np.testing.assert_array_equal(C, np.maximum(X, row))
    np.testing.assert_array_equal(D, np.minimum(np.minimum(X, Y), 0.1))


def test_min_max_errors():
    with pytest.raises(DMLRuntimeError, match="max is not defined for strings"):
        run_string('x = max("a", "b")')
    with pytest.raises(DMLRuntimeError, match="equal dimensions.*2x3 and matrix 3x2"):
        run_string("x = min(matrix(1, rows=2, cols=3), matrix(1, rows=3, cols=2))")
    with pytest.raises(DMLRuntimeError, match="single argument needs a matrix"):
        run_string("x = min(3)")


# ---- row and column aggregates ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, function, axis", [
    ("rowSums", np.sum, 1), ("colSums", np.sum, 0), ("rowMeans", np.mean, 1), ("colMeans", np.mean, 0),
    ("rowMaxs", np.max, 1), ("colMaxs", np.max, 0), ("rowMins", np.min, 1), ("colMins", np.min, 0),
    ("rowProds", np.prod, 1), ("colProds", np.prod, 0),
    ("rowVars", lambda x, axis, keepdims: np.var(x, axis=axis, ddof=1, keepdims=keepdims), 1),
    ("colVars", lambda x, axis, keepdims: np.var(x, axis=axis, ddof=1, keepdims=keepdims), 0),
    ("rowSds", lambda x, axis, keepdims: np.std(x, axis=axis, ddof=1, keepdims=keepdims), 1),
    ("colSds", lambda x, axis, keepdims: np.std(x, axis=axis, ddof=1, keepdims=keepdims), 0),
])
def test_row_col_aggregates_match_numpy(name, function, axis, rng):
    X = rng.standard_normal((7, 4))
    R = run(f"R = {name}(X)", "R", X=X)
    expected = function(X, axis=axis, keepdims=True)
    assert R.shape == expected.shape == ((7, 1) if axis == 1 else (1, 4))
    np.testing.assert_allclose(R, expected, rtol=1e-13)


def test_col_sums_are_compensated():
    c = run("c = colSums(matrix(0.1, rows=10, cols=3))", "c")
    assert c.tolist() == [[1.0, 1.0, 1.0]]


def test_row_index_max_min_take_the_last_tie():
    T = np.array([[1, 3, 3], [2, 2, 1], [5, 5, 5], [0, 9, 4]], dtype=float)
    hi, lo = run("hi = rowIndexMax(T); lo = rowIndexMin(T)", ["hi", "lo"], T=T)
    assert hi[:, 0].tolist() == [3, 2, 3, 2]
    assert lo[:, 0].tolist() == [1, 3, 3, 1]


def test_row_index_max_matches_argmax_without_ties(rng):
    X = rng.standard_normal((50, 9))
    hi, lo = run("hi = rowIndexMax(X); lo = rowIndexMin(X)", ["hi", "lo"], X=X)
    np.testing.assert_array_equal(hi[:, 0], np.argmax(X, axis=1) + 1)
    np.testing.assert_array_equal(lo[:, 0], np.argmin(X, axis=1) + 1)


def test_cumulative_aggregates(rng):
    X = rng.standard_normal((30, 3))
    S, P, lo, hi = run("S = cumsum(X); P = cumprod(X); lo = cummin(X); hi = cummax(X)",
                       ["S", "P", "lo", "hi"], X=X)
    expected = np.array([[kahan_sum(X[:i + 1, j].tolist()) for j in range(3)] for i in range(30)])
    np.testing.assert_array_equal(S, expected)           # a small matrix: SystemDS' Kahan steps
    big = rng.standard_normal((2000, 3))
    sums = run("S = cumsum(X)", "S", X=big)
    np.testing.assert_array_equal(sums[-1], [math.fsum(big[:, j].tolist()) for j in range(3)])
    np.testing.assert_allclose(P, np.cumprod(X, axis=0), rtol=1e-13)
    np.testing.assert_array_equal(lo, np.minimum.accumulate(X, axis=0))
    np.testing.assert_array_equal(hi, np.maximum.accumulate(X, axis=0))


def test_trace(rng):
    X = rng.standard_normal((6, 6))
    assert run("s = trace(X)", "s", X=X) == kahan_sum(np.diag(X).tolist())


def test_aggregates_keep_single_precision(rng):
    X = rng.standard_normal((5, 4)).astype(np.float32)
    text = ("A = rowSums(X); B = colMeans(X); C = rowMaxs(X); D = cumsum(X); E = rowIndexMax(X); "
            "F = colVars(X); G = min(X, 0)")
    result = run_string(text, inputs={"X": X}, outputs=list("ABCDEFG"), precision="single")
    for name, value in result.items():
        assert value.dtype == np.float32, name
    np.testing.assert_allclose(result["A"], X.sum(axis=1, keepdims=True), rtol=1e-6)
    assert type(run_string("s = sum(X)", inputs={"X": X}, outputs=["s"], precision="single")["s"]) is float


# ---- elementwise math ------------------------------------------------------------------------------------------

UNARY = [("exp", np.exp), ("sqrt", np.sqrt), ("abs", np.abs), ("floor", np.floor), ("ceil", np.ceil),
         ("sign", np.sign), ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("asin", np.arcsin),
         ("acos", np.arccos), ("atan", np.arctan), ("sinh", np.sinh), ("cosh", np.cosh),
         ("tanh", np.tanh), ("log", np.log), ("sigmoid", lambda x: 1 / (1 + np.exp(-x)))]


@pytest.mark.parametrize("name, function", UNARY)
def test_unary_math_on_matrices(name, function, rng):
    X = rng.uniform(-0.99, 0.99, (6, 5))
    if name in ("sqrt", "log"):
        X = np.abs(X) + 0.01
    R = run(f"R = {name}(X)", "R", X=X)
    np.testing.assert_allclose(R, function(X), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name, function", UNARY)
def test_unary_math_on_scalars_returns_double(name, function):
    value = run_string(f"y = {name}(0.5); z = {name}(1)", outputs=["y", "z"])
    assert type(value["y"]) is float and type(value["z"]) is float
    assert value["y"] == pytest.approx(float(function(np.float64(0.5))), rel=1e-15)
    assert value["z"] == pytest.approx(float(function(np.float64(1.0))), rel=1e-15)


def test_out_of_domain_scalars_give_nan_and_infinity():
    a, b, c, d, e = run("a = log(0); b = sqrt(-1); c = exp(1000); d = sigmoid(-1000); e = asin(2)", list("abcde"))
    assert a == -math.inf and math.isnan(b) and c == math.inf and d == 0.0 and math.isnan(e)


def test_round_halves_go_up():
    values = run_string("a = round(2.5); b = round(-2.5); c = round(0.5); d = round(-0.5); e = round(7); "
                        "f = round(0.49999999999999994)", outputs=list("abcdef"))
    assert values == {"a": 3.0, "b": -2.0, "c": 1.0, "d": 0.0, "e": 7.0, "f": 0.0}
    assert type(values["e"]) is float
    X = np.array([[-1.5, -0.5, 0.5, 1.5], [2.5, -2.5, 2**52 + 1, -3.7]])
    R = run("R = round(X)", "R", X=X)
    np.testing.assert_array_equal(R, [[-1, 0, 1, 2], [3, -2, 2**52 + 1, -4]])


def test_log_with_base():
    a, b, c, d, e = run("a = log(8, 2); b = log(10, 2); c = log(1000, 10); d = log(8.0, 2.0); e = log(2.0, 4)",
                        list("abcde"))
    assert (a, b, c) == (3, 3, 2) and all(type(v) is int for v in (a, b, c))
    assert (d, e) == (3.0, 0.5) and type(d) is float
    X = np.array([[1.0, 8.0, 64.0]])
    np.testing.assert_allclose(run("R = log(X, 2)", "R", X=X), [[0, 3, 6]])


def test_math_errors():
    with pytest.raises(DMLRuntimeError, match="exp needs a number or a matrix, got string"):
        run_string('y = exp("a")')
    with pytest.raises(DMLRuntimeError, match="log of int in a matrix base is not supported"):
        run_string("y = log(4, matrix(2, rows=1, cols=1))")


def test_math_keeps_single_precision(rng):
    X = rng.uniform(0.1, 2, (3, 3)).astype(np.float32)
    for name in ("exp", "log", "sqrt", "round", "sigmoid", "abs"):
        R = run_string(f"R = {name}(X)", inputs={"X": X}, outputs=["R"], precision="single")["R"]
        assert R.dtype == np.float32, name
    R = run_string("R = log(X, 2)", inputs={"X": X}, outputs=["R"], precision="single")["R"]
    assert R.dtype == np.float32


# ---- ifelse, is.na, replace, xor ----------------------------------------------------------------------------

def test_ifelse_scalar_condition_picks_a_branch():
    a, b, c = run('a = ifelse(TRUE, 1, 2); b = ifelse(3 > 5, "x", "y"); c = ifelse(2 > 1, 1.5, 2)', list("abc"))
    assert (a, type(a)) == (1, int)
    assert b == "y" and c == 1.5


def test_ifelse_matrix_condition(rng):
    M, N = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    A, B, C = run("A = ifelse(M > 0, M, 0); B = ifelse(M > 0, 1, -1); C = ifelse(M < 0, N, M)",
                  list("ABC"), M=M, N=N)
    np.testing.assert_array_equal(A, np.where(M > 0, M, 0))
    np.testing.assert_array_equal(B, np.where(M > 0, 1.0, -1.0))
    np.testing.assert_array_equal(C, np.where(M < 0, N, M))
    assert B.dtype == np.float64


def test_ifelse_errors():
    with pytest.raises(DMLRuntimeError, match="second branch \\(matrix 3x3\\) must have the condition's"):
        run_string("X = ifelse(matrix(1, rows=2, cols=2) > 0, 1, matrix(0, rows=3, cols=3))")
    with pytest.raises(DMLRuntimeError, match="first branch is string"):
        run_string('X = ifelse(matrix(1, rows=2, cols=2) > 0, "a", 0)')


def test_is_na_and_replace():
    X = np.array([[1.0, np.nan, 0.0], [np.nan, 5.0, 0.0]])
    N, R, Z, s, t = run("N = is.na(X); R = replace(target=X, pattern=0/0, replacement=-1); "
                        "Z = replace(target=X, pattern=0, replacement=9); s = is.na(0/0); t = is.nan(1)",
                        list("NRZst"), X=X)
    np.testing.assert_array_equal(N, np.isnan(X).astype(float))
    np.testing.assert_array_equal(R, np.where(np.isnan(X), -1, X))
    np.testing.assert_array_equal(Z[~np.isnan(X)], np.where(X == 0, 9, X)[~np.isnan(X)])
    assert np.isnan(Z).sum() == 2
    assert s is True and t is False


def test_replace_errors():
    with pytest.raises(DMLRuntimeError, match="replace's target must be a matrix, got int"):
        run_string("R = replace(target=3, pattern=1, replacement=2)")


def test_xor():
    A = np.array([[1.0, 0.0, 2.0, 0.0]])
    B = np.array([[1.0, 1.0, 0.0, 0.0]])
    X, s = run("X = xor(A, B); s = xor(TRUE, FALSE)", ["X", "s"], A=A, B=B)
    np.testing.assert_array_equal(X, [[0, 1, 1, 0]])
    assert s is True
