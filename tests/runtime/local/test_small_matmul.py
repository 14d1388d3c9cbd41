"""Small matrix products add up in SystemDS' order (local/small_matmul.py), checked against a
plain loop spelling that order out, and on values where the order shows."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kerasdml.runtime.api import run_string
from kerasdml.runtime.local.small_matmul import MAX_STEPS, blocked_product, small_product


def _dot(row, column) -> float:
    """SystemDS' dense dot product: inner % 8 products one by one, then blocks of 8."""
    products = [x * y for x, y in zip(row, column)]
    rest = len(products) % 8
    total = 0.0
    for p in products[:rest]:
        total += p
    for start in range(rest, len(products), 8):
        block = products[start]
        for p in products[start + 1:start + 8]:
            block += p
        total += block
    return total


def _vector_matrix(vector, matrix) -> list[float]:
    cells = []
    for j in range(len(matrix[0])):
        total, first = 0.0, len(vector) % 2
        if first:
            total += vector[0] * matrix[0][j]
        for k in range(first, len(vector), 2):
            total += vector[k] * matrix[k][j] + vector[k + 1] * matrix[k + 1][j]
        cells.append(total)
    return cells


def _blocked(row, column) -> float:
    """SystemDS' general dense product of one cell: blocks of 24 inner positions, in each the
    nonzero products, (count % 4) of them as a first group, then groups of 4."""
    total = 0.0
    for start in range(0, len(row), 24):
        products = [x * y for x, y in zip(row[start:start + 24], column[start:start + 24]) if x != 0]
        rest = len(products) % 4
        groups = ([products[:rest]] if rest else []) + [products[g:g + 4] for g in range(rest, len(products), 4)]
        for group in groups:
            partial = group[0]
            for p in group[1:]:
                partial += p
            total += partial
    return total


@pytest.mark.parametrize("shape", [(7, 13, 1), (1, 21, 1), (5, 9, 4), (9, 16, 5), (1, 11, 4),
                                   (1, 10, 3), (20, 30, 8), (18, 50, 40), (17, 20, 30)])
def test_products_follow_systemds_order(shape):
    rows, inner, cols = shape
    rng = np.random.default_rng(3)
    a = rng.standard_normal((rows, inner)) * 10.0 ** rng.integers(-8, 8, (rows, inner))
    a[rng.random((rows, inner)) < 0.2] = 0.0          # the general product skips zero cells
    b = rng.standard_normal((inner, cols))
    got = small_product(a, b)
    if rows == 1 and cols > 1:
        expected = [_vector_matrix(a[0].tolist(), b.tolist())]
    elif rows > 16 and rows <= cols:
        expected = [[_blocked(a[i].tolist(), b[:, j].tolist()) for j in range(cols)] for i in range(rows)]
    else:
        expected = [[_dot(a[i].tolist(), b[:, j].tolist()) for j in range(cols)] for i in range(rows)]
    assert_array_equal(got, np.array(expected))


def test_large_or_unprobed_products_are_left_to_blas():
    assert small_product(np.ones((4, MAX_STEPS + 1)), np.ones((MAX_STEPS + 1, 1))) is None
    assert small_product(np.ones((4, 300)), np.ones((300, 40))) is None  # a short left side, long
    wide = np.ones((8, 40))
    wide[3, 5] = np.nan
    assert small_product(np.ones((4, 8)), wide) is None                  # NaN in a BLAS lane
    assert small_product(np.ones((1, 2 * MAX_STEPS + 2)), np.ones((2 * MAX_STEPS + 2, 3))) is None
    assert small_product(np.ones((3, 4), dtype=np.float32), np.ones((4, 1), dtype=np.float32)) is None


def test_order_shows_in_the_result():
    a = np.array([[1e16, 1, 1, 1, 1, 1, 1, 1, 1, -1e16, 1, 1]])
    assert small_product(a, np.ones((12, 1)))[0, 0] == 4.0      # SystemDS prints 4.0
    assert float(np.sum(a)) != 4.0 or float((a @ np.ones((12, 1)))[0, 0]) != 4.0


def test_transposed_product_runs_as_vector_matrix():
    A = np.array([[0.5, 1.0], [1.5, 2.0], [2.5, 3.0], [3.5, 4.0], [1.0, 0.2], [0.8, 1.9],
                  [2.2, 3.1], [2.9, 4.2]])
    v = np.array([[0.5, 0.5, 0.5, -0.5, 0.5, -0.5, -0.5, -0.5]]).T
    g = run_string("g = t(A) %*% v", inputs={"A": A, "v": v}, outputs=["g"])["g"]
    assert g[0, 0] == -1.9499999999999997        # SystemDS' digits; a dot product gives ...002
    assert_array_equal(g[:, 0], _vector_matrix(v[:, 0].tolist(), A.tolist()))


@pytest.mark.parametrize("rows", [6, 37, 2000])
def test_transposed_self_product_is_exactly_symmetric(rows):
    """SystemDS' tsmm sums the upper triangle and copies it to the lower one."""
    seq = np.arange(1, rows + 1, dtype=np.float64)
    X = np.column_stack([np.sin(seq) * 3, np.cos(seq * 0.7) * 2, (seq % 5) / 4, np.ones(rows)])
    A = run_string("A = t(X) %*% X", inputs={"X": X}, outputs=["A"])["A"]
    assert_array_equal(A, A.T)
    if rows == 37:
        assert A[0, 2] == 3.015347225004069     # SystemDS' digits (the lower cell sums to ...067)


def test_a_short_left_side_sums_its_first_columns_in_groups_and_the_others_fused():
    """4 x 8 times 8 x 10 (SystemDS' vector lanes of 8 on this machine): the first 10 % 8 columns
    as the blocked kernel sums them, the other 8 with a fused multiply-add per product."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(4, 8)), rng.normal(size=(8, 10))
    a[1, 2] = 0.0
    got = small_product(a, b)
    assert_array_equal(got[:, :2], blocked_product(a, b[:, :2].copy()))
    exact = [[float(sum(Fraction(x) * Fraction(y) for x, y in zip(row, column)))
              for column in b.T] for row in a]
    for i in range(4):       # fused: each step rounds once, so a cell is within 1 ulp per product
        for j in range(2, 10):
            assert abs(got[i, j] - exact[i][j]) <= 8 * np.spacing(abs(exact[i][j]))
