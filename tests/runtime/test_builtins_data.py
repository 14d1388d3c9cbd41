"""The data builtins through DML: order, table, sample, removeEmpty (reorg), read and write (io),
and the DNN builtins (conv2d, pooling, bias), compared with numpy computations and with the
kernels they wrap, on random inputs; plus their error messages.

Inputs are bound from Python, so these tests do not depend on matrix() or seq()."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.local import dnn

RNG = np.random.default_rng(20240611)


def run(text: str, outputs=("Y",), precision="double", args=None, **inputs):
    return run_string(text, inputs=inputs, outputs=list(outputs), precision=precision, args=args)


def run1(text: str, **inputs):
    return run(text, **inputs)["Y"]


def raises(message: str):
    return pytest.raises(DMLRuntimeError, match=message)


def column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


# ======================================================================================
# order
# ======================================================================================

def reference_order(X: np.ndarray, columns: list[int], decreasing: bool) -> list[int]:
    """0-based row order by Python's (stable) sorted; decreasing by negated keys, so that ties
    keep their original order in both directions."""
    sign = -1.0 if decreasing else 1.0
    return sorted(range(X.shape[0]), key=lambda i: tuple(sign * X[i, c - 1] for c in columns))


@pytest.mark.parametrize("decreasing", [False, True])
@pytest.mark.parametrize("trial", range(4))
def test_order_by_one_column_is_stable_in_both_directions(decreasing, trial):
    X = RNG.integers(0, 4, size=(60, 3)).astype(float)  # many ties
    X[:, 2] = np.arange(60)  # the original row number, to see the order of ties
    by = int(RNG.integers(1, 3))
    flag = "TRUE" if decreasing else "FALSE"
    out = run(f"Y = order(target=X, by={by}, decreasing={flag})\n"
              f"I = order(target=X, by={by}, decreasing={flag}, index.return=TRUE)",
              outputs=("Y", "I"), X=X)
    expected = reference_order(X, [by], decreasing)
    np.testing.assert_array_equal(out["Y"], X[expected])
    assert out["I"].shape == (60, 1) and out["I"].dtype == np.float64
    np.testing.assert_array_equal(out["I"], column(np.array(expected) + 1))


@pytest.mark.parametrize("decreasing", [False, True])
def test_order_by_a_vector_of_columns_is_lexicographic(decreasing):
    X = RNG.integers(0, 3, size=(80, 4)).astype(float)
    flag = "TRUE" if decreasing else "FALSE"
    for by in ([2, 1], [3, 1, 4], [4]):
        Y = run1(f"Y = order(target=X, by=B, decreasing={flag})", X=X, B=column(by))
        np.testing.assert_array_equal(Y, X[reference_order(X, by, decreasing)])


def test_order_defaults_sort_a_column_vector_ascending():
    v = RNG.standard_normal((50, 1))
    np.testing.assert_array_equal(run1("Y = order(target=v)", v=v), np.sort(v, axis=0))
    np.testing.assert_array_equal(run1("Y = order(target=v, decreasing=TRUE)", v=v),
                                  -np.sort(-v, axis=0))


def test_order_keeps_single_precision():
    X = RNG.standard_normal((10, 2))
    out = run("Y = order(target=X, by=2, index.return=TRUE)", precision="single", X=X)
    assert out["Y"].dtype == np.float32
    np.testing.assert_array_equal(out["Y"].ravel(),
                                  np.argsort(X[:, 1].astype(np.float32), kind="stable") + 1)


def test_order_result_is_a_copy():
    X = RNG.standard_normal((5, 2))
    original = X.copy()
    out = run("Y = order(target=X, by=1)\nY[1, 1] = 100", outputs=("Y", "X"), X=X)
    assert out["Y"][0, 0] == 100
    np.testing.assert_array_equal(out["X"], original)


@pytest.mark.parametrize("call, message", [
    ("order(target=X, by=3)", r"order: by=3 is not a column of the 2-column target \(1\.\.2\)"),
    ("order(target=X, by=0)", r"order: by=0 is not a column"),
    ("order(target=X, by=1.5)", r"order: by must be an integer, got 1\.5"),
    ("order(target=X, by=\"a\")", r"order: by must be a number, got string"),
    ("order(target=3)", r"order: target must be a matrix, got int"),
    ("order(target=X, by=X)", r"order: by must be a column index or a vector of column indices, "
                              r"got a matrix 4x2"),
    ("order(target=X, index=TRUE)", r"builtin `order` has no parameter `index`; its parameters "
                                    r"are target, by, decreasing, index\.return"),
])
def test_order_errors(call, message):
    with raises(message):
        run1(f"Y = {call}", X=RNG.standard_normal((4, 2)))


# ======================================================================================
# table
# ======================================================================================

def reference_table(a, b, w, rows, cols) -> np.ndarray:
    out = np.zeros((rows, cols))
    for i, j, weight in zip(a, b, w):
        if i <= rows and j <= cols:
            out[int(i) - 1, int(j) - 1] += weight
    return out


@pytest.mark.parametrize("trial", range(3))
def test_table_counts_and_weights_pairs(trial):
    n = 200
    A = column(RNG.integers(1, 6, n))
    B = column(RNG.integers(1, 5, n))
    W = column(RNG.standard_normal(n))
    out = run("C = table(A, B)\nS = table(A, B, W)\n", outputs=("C", "S"), A=A, B=B, W=W)
    rows, cols = int(A.max()), int(B.max())
    np.testing.assert_array_equal(out["C"], reference_table(A.ravel(), B.ravel(), np.ones(n),
                                                            rows, cols))
    np.testing.assert_allclose(out["S"], reference_table(A.ravel(), B.ravel(), W.ravel(), rows,
                                                         cols), rtol=1e-12, atol=1e-12)


def test_table_with_dimensions_pads_and_drops():
    A = column(RNG.integers(1, 6, 100))
    B = column(RNG.integers(1, 5, 100))
    W = column(RNG.random(100))
    out = run("P = table(A, B, 7, 6)\nD = table(A, B, 3, 2)\nWD = table(A, B, W, 3, 9)",
              outputs=("P", "D", "WD"), A=A, B=B, W=W)
    a, b = A.ravel(), B.ravel()
    np.testing.assert_array_equal(out["P"], reference_table(a, b, np.ones(100), 7, 6))
    np.testing.assert_array_equal(out["D"], reference_table(a, b, np.ones(100), 3, 2))
    np.testing.assert_allclose(out["WD"], reference_table(a, b, W.ravel(), 3, 9), rtol=1e-12)
    assert out["P"][5:, :].sum() == 0 and out["P"][:, 4:].sum() == 0


def test_table_one_hot_from_an_index_column():
    y = column(RNG.integers(1, 4, 30))
    idx = column(np.arange(1, 31))
    Y = run1("Y = table(idx, y, 30, 5)", idx=idx, y=y)
    expected = np.zeros((30, 5))
    expected[np.arange(30), y.ravel().astype(int) - 1] = 1
    np.testing.assert_array_equal(Y, expected)


def test_table_scalar_second_argument_and_scalar_weight():
    A = column([1, 3, 3, 2, 3])
    out = run("C = table(A, 2)\nS = table(A, 1, 0.5)", outputs=("C", "S"), A=A)
    np.testing.assert_array_equal(out["C"], [[0, 1], [0, 1], [0, 3]])
    np.testing.assert_array_equal(out["S"], [[0.5], [0.5], [1.5]])


def test_table_skips_nan_cells_as_systemds_does():
    A = column([1, np.nan, 2, 2])
    B = column([1, 1, np.nan, 2])
    W = column([1.0, 1.0, 1.0, np.nan])
    out = run("C = table(A, B)\nS = table(A, B, W)", outputs=("C", "S"), A=A, B=B, W=W)
    np.testing.assert_array_equal(out["C"], [[1, 0], [0, 1]])
    # the pairs with a NaN weight are skipped too, so they do not count for the dimensions
    np.testing.assert_array_equal(out["S"], [[1]])


def test_table_sixth_argument_is_accepted():
    A, B = column([1, 2]), column([2, 1])
    np.testing.assert_array_equal(run1("Y = table(A, B, 1, 2, 2, TRUE)", A=A, B=B),
                                  [[0, 1], [1, 0]])


def test_table_in_single_precision():
    Y = run("Y = table(A, B)", precision="single", A=column([1, 2]), B=column([1, 1]))["Y"]
    assert Y.dtype == np.float32


@pytest.mark.parametrize("A, B, call, message", [
    ([1, 0, 2], [1, 1, 1], "table(A, B)", r"table: the values of A must be at least 1 .*0\.0"),
    ([1, 2, 2], [1, -1, 1], "table(A, B)", r"the values of B must be at least 1 .*-1\.0"),
    ([1, 0.5, 2], [1, 1, 1], "table(A, B)", r"the values of A must be at least 1 .*0\.5"),
    ([1, np.inf], [1, 1], "table(A, B)", r"the values of A must be at least 1 .*Infinity"),
    ([1, 2], [1, 1, 1], "table(A, B)", r"table: B is a matrix 3x1, but A is 2x1"),
    ([1, 2], [1, 1], "table(A, B, A, 2, 2, TRUE, 1)", r"table takes 2 to 6 arguments, got 7"),
    ([1, 2], [1, 1], "table(A, B, -1, 2)", r"table: rows must not be negative, got -1"),
    ([1, 2], [1, 1], 'table(A, B, "2", 2)', r"table: rows must be a number, got string"),
    ([1, 2], [1, 1], "table(3, B)", r"table: A \(the first argument\) must be a matrix, got int"),
])
def test_table_errors(A, B, call, message):
    with raises(message):
        run1(f"Y = {call}", A=column(A), B=column(B))


# ======================================================================================
# sample
# ======================================================================================

def test_sample_without_replacement_is_a_permutation_subset():
    out = run("P = sample(50, 50)\nS = sample(1000, 30, FALSE)", outputs=("P", "S"))
    assert out["P"].shape == (50, 1) and out["P"].dtype == np.float64
    np.testing.assert_array_equal(np.sort(out["P"].ravel()), np.arange(1, 51))
    S = out["S"].ravel()
    assert S.shape == (30,) and len(set(S)) == 30
    assert S.min() >= 1 and S.max() <= 1000 and (S == np.round(S)).all()


def test_sample_with_replacement_stays_in_range():
    S = run1("Y = sample(3, 500, TRUE)").ravel()
    assert set(S) == {1.0, 2.0, 3.0}


def test_sample_seed_makes_draws_repeatable():
    out = run("A = sample(100, 10, FALSE, 42)\nB = sample(100, 10, FALSE, 42)\n"
              "C = sample(100, 10, 42)\nD = sample(100, 10, seed=7)",
              outputs=("A", "B", "C", "D"))
    np.testing.assert_array_equal(out["A"], out["B"])
    np.testing.assert_array_equal(out["A"], out["C"])  # a third integer argument is the seed
    assert not np.array_equal(out["A"], out["D"])


def test_sample_uses_the_run_precision():
    assert run("Y = sample(5, 3)", precision="single")["Y"].dtype == np.float32


@pytest.mark.parametrize("call, message", [
    ("sample(5, 6)", r"sample: cannot draw 6 values from 1\.\.5 without replacement"),
    ("sample(5, -1)", r"sample: size must not be negative"),
    ("sample(0, 2, TRUE)", r"sample: range must be at least 1"),
    ("sample(5.5, 2)", r"sample: range must be an integer"),
])
def test_sample_errors(call, message):
    with raises(message):
        run1(f"Y = {call}")


# ======================================================================================
# removeEmpty
# ======================================================================================

def sparse_matrix(rows: int, cols: int) -> np.ndarray:
    X = RNG.standard_normal((rows, cols))
    X[RNG.random(rows) < 0.4, :] = 0
    X[:, RNG.random(cols) < 0.4] = 0
    return X


@pytest.mark.parametrize("trial", range(3))
def test_remove_empty_rows_and_cols(trial):
    X = sparse_matrix(30, 12)
    X[0, 0] = np.nan  # NaN is not empty
    out = run('R = removeEmpty(target=X, margin="rows")\nC = removeEmpty(target=X, margin="cols")',
              outputs=("R", "C"), X=X)
    np.testing.assert_array_equal(out["R"], X[(X != 0).any(axis=1)])
    np.testing.assert_array_equal(out["C"], X[:, (X != 0).any(axis=0)])


def test_remove_empty_with_select():
    X = RNG.standard_normal((10, 6))
    rows = (RNG.random((10, 1)) < 0.5).astype(float)
    cols = (RNG.random((1, 6)) < 0.5).astype(float)
    rows[0, 0] = cols[0, 0] = 1
    out = run('R = removeEmpty(target=X, margin="rows", select=s)\n'
              'C = removeEmpty(target=X, margin="cols", select=c)',
              outputs=("R", "C"), X=X, s=rows, c=cols)
    np.testing.assert_array_equal(out["R"], X[rows.ravel() != 0])
    np.testing.assert_array_equal(out["C"], X[:, cols.ravel() != 0])


def test_remove_empty_of_an_all_zero_matrix():
    Z = np.zeros((4, 3))
    out = run('A = removeEmpty(target=Z, margin="rows")\n'
              'B = removeEmpty(target=Z, margin="cols")\n'
              'C = removeEmpty(target=Z, margin="rows", empty.return=FALSE)',
              outputs=("A", "B", "C"), Z=Z)
    np.testing.assert_array_equal(out["A"], np.zeros((1, 3)))
    np.testing.assert_array_equal(out["B"], np.zeros((4, 1)))
    assert out["C"].shape == (0, 3)


@pytest.mark.parametrize("call, message", [
    ('removeEmpty(target=X, margin="row")', r'removeEmpty: margin must be "rows" or "cols", got \'row\''),
    ('removeEmpty(target=X, margin="rows", select=t(X[, 1]))',
     r"removeEmpty: select must be a 3x1 vector \(one entry per row of target\), got 1x3"),
    ('removeEmpty(target=3, margin="rows")', r"removeEmpty: target must be a matrix, got int"),
    ('removeEmpty(target=X)', r"builtin `removeEmpty` is missing argument `margin`"),
])
def test_remove_empty_errors(call, message):
    with raises(message):
        run1(f"Y = {call}", X=RNG.standard_normal((3, 2)))


# ======================================================================================
# read and write
# ======================================================================================

def test_csv_round_trip_with_header_and_separator(tmp_path):
    M = RNG.standard_normal((7, 4)) * 10.0 ** RNG.integers(-20, 20, (7, 4))
    out = run('write(M, $dir + "/m.csv", format="csv", header=TRUE, sep=";")\n'
              'Y = read($dir + "/m.csv", format="csv", header=TRUE, sep=";")\n'
              'Z = read($dir + "/m.csv")',  # format, header and sep from the .mtd
              outputs=("Y", "Z"), args={"dir": str(tmp_path)}, M=M)
    np.testing.assert_array_equal(out["Y"], M)
    np.testing.assert_array_equal(out["Z"], M)
    text = (tmp_path / "m.csv").read_text().splitlines()
    assert text[0] == "C1;C2;C3;C4" and len(text) == 8
    mtd = json.loads((tmp_path / "m.csv.mtd").read_text())
    assert (mtd["rows"], mtd["cols"], mtd["format"], mtd["sep"]) == (7, 4, "csv", ";")


def test_text_round_trip_is_the_default_format(tmp_path):
    M = sparse_matrix(9, 5)
    out = run('write(M, $dir + "/m")\n'
              'Y = read($dir + "/m", format="text", rows=9, cols=5)',
              args={"dir": str(tmp_path)}, M=M)
    np.testing.assert_array_equal(out["Y"], M)
    first = (tmp_path / "m").read_text().splitlines()[0].split()
    assert len(first) == 3  # i j v
    assert json.loads((tmp_path / "m.mtd").read_text())["format"] == "text"


def test_hdf5_round_trip(tmp_path):
    M = RNG.standard_normal((6, 3))
    Y = run('write(M, $dir + "/w.h5", format="hdf5", dataset="dense/W")\n'
            'Y = read($dir + "/w.h5", format="hdf5", dataset="dense/W", rows=6, cols=3)',
            args={"dir": str(tmp_path)}, M=M)["Y"]
    np.testing.assert_array_equal(Y, M)


def test_scalars_round_trip(tmp_path):
    # SystemDS writes only variables, never literals (see test_write_of_an_expression_is_rejected)
    out = run('i = 3\nd = 2.5\nb = TRUE\ns = "hi there"\n'
              'write(i, $dir + "/i")\nwrite(d, $dir + "/d")\nwrite(b, $dir + "/b")\n'
              'write(s, $dir + "/s")\n'
              'I = read($dir + "/i", data_type="scalar", value_type="int")\n'
              'D = read($dir + "/d", data_type="scalar")\n'
              'B = read($dir + "/b", data_type="scalar", value_type="boolean")\n'
              'S = read($dir + "/s", data_type="scalar", value_type="string")',
              outputs=("I", "D", "B", "S"), args={"dir": str(tmp_path)})
    assert out == {"I": 3, "D": 2.5, "B": True, "S": "hi there"}
    assert type(out["I"]) is int and type(out["B"]) is bool


def test_read_uses_the_run_precision(tmp_path):
    M = RNG.standard_normal((3, 3))
    out = run('write(M, $dir + "/m.csv", format="csv")\nY = read($dir + "/m.csv")',
              precision="single", args={"dir": str(tmp_path)}, M=M)
    assert out["Y"].dtype == np.float32
    np.testing.assert_array_equal(out["Y"], M.astype(np.float32))


def test_write_leaves_no_file_behind_when_it_fails(tmp_path):
    with raises(r"hdf5.* needs dataset="):
        run('write(M, $dir + "/m.h5", format="hdf5")', outputs=(), M=np.ones((2, 2)),
            args={"dir": str(tmp_path)})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("program, message", [
    ('Y = read($dir + "/missing.csv", format="csv")', r"file not found"),
    ('write(M, $dir + "/m.csv", format="csv")\nY = read($dir + "/m.csv", bogus=1)',
     r"unknown parameter 'bogus'"),
    ('write(M, $dir + "/m.csv", format="csv")\nY = read($dir + "/m.csv", rows=5)',
     r"rows=5 in read\(\) disagrees with rows=2"),
    ('write(M, $dir + "/m", format="binary")', r"binary format .* is not supported"),
    ('write(M, $dir + "/m", format="csv", fmt="x")', r"builtin `write` has no parameter `fmt`"),
    ('write(M, 3)', r"write: the file name must be a string, got int"),
    ('Y = read(M)', r"read: the file name must be a string, got matrix 2x2"),
    ('write(M, $dir + "/m", format="csv", sep=M)', r"parameter sep must be a scalar"),
])
def test_io_errors(tmp_path, program, message):
    with raises(message):
        run(program, outputs=(), args={"dir": str(tmp_path)}, M=np.ones((2, 2)))


# ======================================================================================
# DNN builtins
# ======================================================================================

CONV_CASES = [
    # N, C, H, W, F, Hf, Wf, sh, sw, ph, pw
    (2, 1, 5, 5, 3, 3, 3, 1, 1, 0, 0),
    (3, 2, 7, 6, 4, 3, 2, 2, 1, 1, 0),
    (1, 3, 8, 8, 2, 5, 5, 3, 3, 2, 2),
    (2, 2, 4, 9, 1, 1, 4, 1, 2, 0, 1),
]
POOL_CASES = [
    # N, C, H, W, Hp, Wp, sh, sw, ph, pw
    (2, 3, 6, 6, 2, 2, 2, 2, 0, 0),
    (3, 2, 7, 5, 3, 2, 1, 2, 1, 0),
    (1, 1, 4, 4, 1, 1, 1, 1, 0, 0),
    (2, 2, 5, 8, 2, 3, 3, 2, 1, 1),
]


def out_size(extent, window, stride, pad):
    return (extent + 2 * pad - window) // stride + 1


def conv_text(N, C, H, W, F, Hf, Wf, sh, sw, ph, pw) -> str:
    return (f"input_shape=[{N}, {C}, {H}, {W}], filter_shape=[{F}, {C}, {Hf}, {Wf}], "
            f"stride=[{sh}, {sw}], padding=[{ph}, {pw}]")


def pool_text(N, C, H, W, Hp, Wp, sh, sw, ph, pw) -> str:
    return (f"input_shape=[{N}, {C}, {H}, {W}], pool_size=[{Hp}, {Wp}], "
            f"stride=[{sh}, {sw}], padding=[{ph}, {pw}]")


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_convolutions_equal_the_kernels(case):
    N, C, H, W, F, Hf, Wf, sh, sw, ph, pw = case
    Hout, Wout = out_size(H, Hf, sh, ph), out_size(W, Wf, sw, pw)
    X = RNG.standard_normal((N, C * H * W))
    K = RNG.standard_normal((F, C * Hf * Wf))
    dY = RNG.standard_normal((N, F * Hout * Wout))
    shapes = conv_text(*case)
    out = run(f"Y = conv2d(X, K, {shapes})\n"
              f"dK = conv2d_backward_filter(X, dY, {shapes})\n"
              f"dX = conv2d_backward_data(K, dY, {shapes})",
              outputs=("Y", "dK", "dX"), X=X, K=K, dY=dY)
    geometry = dict(input_shape=[N, C, H, W], filter_shape=[F, C, Hf, Wf], stride=[sh, sw],
                    padding=[ph, pw])
    np.testing.assert_array_equal(out["Y"], dnn.conv2d(X, K, **geometry))
    np.testing.assert_array_equal(out["dK"], dnn.conv2d_backward_filter(X, dY, **geometry))
    np.testing.assert_array_equal(out["dX"], dnn.conv2d_backward_data(K, dY, **geometry))
    assert out["Y"].shape == (N, F * Hout * Wout)


def test_conv2d_is_a_cross_correlation():
    """An independent check of one small case, element by element."""
    N, C, H, W, F, k = 2, 2, 4, 5, 3, 3
    X = RNG.standard_normal((N, C * H * W))
    K = RNG.standard_normal((F, C * k * k))
    Y = run1(f"Y = conv2d(X, K, {conv_text(N, C, H, W, F, k, k, 1, 1, 1, 1)})", X=X, K=K)
    xp = np.pad(X.reshape(N, C, H, W), ((0, 0), (0, 0), (1, 1), (1, 1)))
    k4 = K.reshape(F, C, k, k)
    expected = np.zeros((N, F, H, W))
    for y in range(H):
        for x in range(W):
            expected[:, :, y, x] = np.einsum("ncij,fcij->nf", xp[:, :, y:y + k, x:x + k], k4)
    np.testing.assert_allclose(Y, expected.reshape(N, -1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pooling_equals_the_kernels(case):
    N, C, H, W, Hp, Wp, sh, sw, ph, pw = case
    Hout, Wout = out_size(H, Hp, sh, ph), out_size(W, Wp, sw, pw)
    X = RNG.standard_normal((N, C * H * W))
    dY = RNG.standard_normal((N, C * Hout * Wout))
    shapes = pool_text(*case)
    names = ("max_pool", "avg_pool", "max_pool_backward", "avg_pool_backward")
    out = run(f"A = max_pool(X, {shapes})\nB = avg_pool(X, {shapes})\n"
              f"C = max_pool_backward(X, dY, {shapes})\nD = avg_pool_backward(X, dY, {shapes})",
              outputs=("A", "B", "C", "D"), X=X, dY=dY)
    geometry = dict(input_shape=[N, C, H, W], pool_size=[Hp, Wp], stride=[sh, sw],
                    padding=[ph, pw])
    for key, name in zip("ABCD", names):
        kernel = getattr(dnn, name)
        expected = kernel(X, **geometry) if "backward" not in name else kernel(X, dY, **geometry)
        np.testing.assert_array_equal(out[key], expected, err_msg=name)
        assert out[key].flags.writeable, name


def test_shapes_may_be_spelled_out_element_by_element():
    X = RNG.standard_normal((2, 2 * 5 * 5))
    K = RNG.standard_normal((3, 2 * 3 * 3))
    out = run("A = conv2d(X, K, input_shape=[2, 2, 5, 5], filter_shape=[3, 2, 3, 3], "
              "stride=[2, 1], padding=[1, 0])\n"
              "B = conv2d(X, K, input_shape1=2, input_shape2=2, input_shape3=5, input_shape4=5, "
              "filter_shape1=3, filter_shape2=2, filter_shape3=3, filter_shape4=3, "
              "stride1=2, stride2=1, padding1=1, padding2=0)\n"
              "P = max_pool(X, input_shape=[2, 2, 5, 5], pool_size=[2, 2], stride=[1, 1], "
              "padding=[0, 0])\n"
              "Q = max_pool(X, input_shape=[2, 2, 5, 5], pool_size1=2, pool_size2=2, stride1=1, "
              "stride2=1, padding=[0, 0])",
              outputs=("A", "B", "P", "Q"), X=X, K=K)
    np.testing.assert_array_equal(out["A"], out["B"])
    np.testing.assert_array_equal(out["P"], out["Q"])


def test_shape_values_may_be_integral_doubles_and_expressions():
    X = RNG.standard_normal((2, 16))
    Y = run1("n = nrow(X)\nh = 8 / 2\nY = avg_pool(X, input_shape=[n, 1, h, h], "
             "pool_size=[2.0, 2], stride=[2, 2], padding=[0, 0])", X=X)
    np.testing.assert_array_equal(Y, dnn.avg_pool(X, input_shape=[2, 1, 4, 4], pool_size=[2, 2],
                                                  stride=[2, 2], padding=[0, 0]))


def test_dnn_builtins_keep_single_precision():
    X = RNG.standard_normal((2, 18))
    K = RNG.standard_normal((2, 8))
    out = run("Y = conv2d(X, K, input_shape=[2, 2, 3, 3], filter_shape=[2, 2, 2, 2], "
              "stride=[1, 1], padding=[0, 0])\n"
              "P = max_pool(X, input_shape=[2, 2, 3, 3], pool_size=[2, 2], stride=[1, 1], "
              "padding=[0, 0])\nB = bias_add(X, b)",
              outputs=("Y", "P", "B"), precision="single", X=X, K=K, b=np.ones((2, 1)))
    assert {out[k].dtype for k in out} == {np.dtype(np.float32)}


@pytest.mark.parametrize("trial", range(3))
def test_bias_add_and_multiply_act_per_channel(trial):
    N, C, L = 4, int(RNG.integers(1, 5)), int(RNG.integers(1, 7))
    X = RNG.standard_normal((N, C * L))
    b = RNG.standard_normal((C, 1))
    out = run("A = bias_add(X, b)\nM = bias_multiply(X, b)", outputs=("A", "M"), X=X, b=b)
    per_cell = np.repeat(b.ravel(), L)[None, :]
    np.testing.assert_array_equal(out["A"], X + per_cell)
    np.testing.assert_array_equal(out["M"], X * per_cell)


CONV_OK = "input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=[1, 1], padding=[0, 0]"


@pytest.mark.parametrize("call, message", [
    # matrix dimensions disagreeing with the shapes
    ("conv2d(X3, K, " + CONV_OK + ")",
     r"conv2d: input is 3x16, but input_shape=\[2, 1, 4, 4\] needs 2x16 \(N rows, C\*H\*W "
     r"columns\)"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 5], filter_shape=[3, 1, 2, 2], stride=[1, 1], "
     "padding=[0, 0])", r"conv2d: input is 2x16, but input_shape=\[2, 1, 4, 5\] needs 2x20"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 3, 3], stride=[1, 1], "
     "padding=[0, 0])",
     r"conv2d: filter is 3x4, but filter_shape=\[3, 1, 3, 3\] needs 3x9 \(F rows, C\*Hf\*Wf"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 2, 2, 2], stride=[1, 1], "
     "padding=[0, 0])", r"conv2d: filter_shape=\[3, 2, 2, 2\] has C=2 channels, but "
                        r"input_shape=\[2, 1, 4, 4\] has C=1"),
    ("conv2d_backward_filter(X, X, " + CONV_OK + ")",
     r"conv2d_backward_filter: dout is 2x16, but the output of conv2d for these shapes needs "
     r"2x27 \(N rows, F\*Hout\*Wout columns; Hout=3, Wout=3\)"),
    ("conv2d_backward_data(X, X, " + CONV_OK + ")", r"conv2d_backward_data: filter is 2x16"),
    ("max_pool_backward(X, X, input_shape=[2, 1, 4, 4], pool_size=[2, 2], stride=[2, 2], "
     "padding=[0, 0])", r"max_pool_backward: dout is 2x16, but the output of max_pool for these "
                        r"shapes needs 2x4 \(N rows, C\*Hout\*Wout columns; Hout=2, Wout=2\)"),
    ("max_pool(X, input_shape=[2, 1, 3, 3], pool_size=[2, 2], stride=[1, 1], padding=[0, 0])",
     r"max_pool: input is 2x16, but input_shape=\[2, 1, 3, 3\] needs 2x9"),
    ("avg_pool(X, input_shape=[2, 1, 4, 4], pool_size=[6, 2], stride=[1, 1], padding=[0, 0])",
     r"avg_pool: the padded image height 4 \(H=4, padding 0\) is smaller than the pool height 6"),
    # malformed shape arguments
    ("conv2d(X, K, input_shape=[2, 1, 4], filter_shape=[3, 1, 2, 2], stride=[1, 1], "
     "padding=[0, 0])", r"conv2d: input_shape must have 4 values \[N, C, H, W\], got 3: \[2, 1, 4\]"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=[0, 1], "
     "padding=[0, 0])", r"conv2d: stride values must be positive, got \[0, 1\]"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=[1, 1], "
     "padding=[0, -1])", r"conv2d: padding values must not be negative, got \[0, -1\]"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=[1.5, 1], "
     "padding=[0, 0])", r"conv2d: stride must hold integers \[sh, sw\], got \[1\.5, 1\]"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=[1, \"a\"], "
     "padding=[0, 0])", r"conv2d: stride must hold integers \[sh, sw\], got string in \[1, string\]"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=1, "
     "padding=[0, 0])", r"conv2d: stride must be a list \[sh, sw\], got int"),
    ("conv2d(X, K, input_shape=[2, 1, 4, 4], filter_shape=[3, 1, 2, 2], stride=[1, 1])",
     r"conv2d: missing argument padding=\[ph, pw\]"),
    ("max_pool(X, input_shape=[2, 1, 4, 4], pool_size=[2, 2], stride=[1, 1], padding1=0)",
     r"max_pool: padding is given element by element, but padding2 is missing"),
    ("max_pool(X, input_shape=[2, 1, 4, 4], pool_size=[2, 2], stride=[1, 1], padding=[0, 0], "
     "padding1=0)", r"max_pool: give padding=\[ph, pw\] or padding1\.\.padding2, not both"),
    ("max_pool(X, input_shape=[2, 1, 4, 4], pool_size=[0, 2], stride=[1, 1], padding=[0, 0])",
     r"max_pool: pool_size values must be positive, got \[0, 2\]"),
    ("conv2d(3, K, " + CONV_OK + ")", r"conv2d: input must be a matrix, got int"),
    # calls the signature refuses before the program runs
    ("conv2d(X, K, strides=[1, 1], " + CONV_OK + ")", r"builtin `conv2d` has no parameter `strides`"),
    ("max_pool(X, [2, 1, 4, 4], pool_size=[2, 2], stride=[1, 1], padding=[0, 0])",
     r"builtin `max_pool` takes at most 1 positional arguments, got 2"),
    # bias
    ("bias_add(X, K)", r"bias_add: bias must be a column vector \(C x 1, one value per channel\), "
                       r"got 3x4"),
    ("bias_multiply(X, b3)", r"bias_multiply: input has 16 columns, which is not C\*H\*W for the "
                             r"C=3 channels of bias \(3x1\)"),
])
def test_dnn_errors_name_the_builtin_and_the_argument(call, message):
    inputs = dict(X=RNG.standard_normal((2, 16)), X3=RNG.standard_normal((3, 16)),
                  K=RNG.standard_normal((3, 4)), b3=np.ones((3, 1)))
    with raises(message):
        run1(f"Y = {call}", **inputs)


def test_dnn_errors_carry_the_position():
    with raises(r"^prog\.dml:2:\d+: runtime error: conv2d: input is 3x16") as caught:
        run_string("x = 1\nY = conv2d(X, K, " + CONV_OK + ")", file="prog.dml",
                   inputs={"X": np.ones((3, 16)), "K": np.ones((3, 4))})
    assert caught.value.position.line == 2
