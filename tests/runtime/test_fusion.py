"""Fused expression patterns (runtime/fusion.py): the same bits as the plain evaluation, and
the plain evaluation wherever the fused kernel does not apply."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.errors import DMLRuntimeError


def _run(script, inputs, precision="double"):
    stats = Statistics()
    with np.errstate(invalid="ignore"):             # inf * 0 in the special values
        result = run_string(script, inputs=inputs, outputs=["Y"], precision=precision,
                            stats=stats)
    return result["Y"], stats.counts


def _total(counts, name: str) -> int:
    """Runs of an operation, into a new matrix or in place (runtime/inplace.py)."""
    return counts[name] + counts[name + " in place"]


def _values(shape, special: bool):
    rng = np.random.default_rng(4)
    X, D = rng.standard_normal(shape), rng.standard_normal(shape)
    if special:
        X.flat[::7], X.flat[3::11], X.flat[5::13] = np.nan, 0.0, -0.0
        D.flat[::5], D.flat[2::9] = np.inf, np.nan
    return X, D


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("special", [False, True], ids=["normal", "special"])
@pytest.mark.parametrize("script", ["Y = D * (X > 0)", "Y = (X > 0) * D"])
def test_relu_gradient_is_the_plain_product(script, special, precision):
    X, D = _values((300, 257), special)          # enough rows for the parallel blocks
    got, counts = _run(script, {"X": X, "D": D}, precision)
    dtype = np.float32 if precision == "single" else np.float64
    with np.errstate(invalid="ignore"):
        expected = D.astype(dtype) * (X.astype(dtype) > 0).astype(dtype)
    assert got.dtype == dtype
    assert_array_equal(np.signbit(got), np.signbit(expected))
    assert_array_equal(got, expected)
    assert _total(counts, "relu_gradient") == 1 and _total(counts, "*") == 0


@pytest.mark.parametrize("script, inputs", [
    ("Y = D * (X > 0)", {"D": 2.5, "X": np.array([[1.0, -1.0]])}),             # scalar values
    ("Y = D * (X > 0)", {"D": np.ones((2, 3)), "X": np.array([[1.0, -1.0, 0.0]])}),  # a row
    ("Y = D * (X > 0.5)", {"D": np.ones((1, 2)), "X": np.array([[1.0, 0.2]])}),     # not 0
])
def test_other_operands_take_the_plain_path(script, inputs):
    got, counts = _run(script, inputs)
    with np.errstate(invalid="ignore"):
        threshold = 0.5 if "0.5" in script else 0
        expected = np.asarray(inputs["D"]) * (np.asarray(inputs["X"]) > threshold)
    assert_array_equal(got, expected)
    assert _total(counts, "*") == 1


def test_shape_errors_stay_the_plain_ones():
    with pytest.raises(DMLRuntimeError, match="dimensions do not match"):
        _run("Y = D * (X > 0)", {"D": np.ones((2, 3)), "X": np.ones((3, 2))})


CONVOLUTION = """
out = bias_add(conv2d(X, W, input_shape=[4, 3, 9, 8], filter_shape=[5, 3, 3, 3],
                      stride=[1, 2], padding=[1, 0]), b)
"""
PLAIN = """
c = conv2d(X, W, input_shape=[4, 3, 9, 8], filter_shape=[5, 3, 3, 3], stride=[1, 2],
           padding=[1, 0])
out = bias_add(c, b)
"""


def _convolution(script, precision, bias_rows=5, native_on=True):
    from kerasdml.runtime.local import native
    rng = np.random.default_rng(6)
    inputs = {"X": rng.standard_normal((4, 3 * 9 * 8)), "W": rng.standard_normal((5, 27)),
              "b": rng.standard_normal((bias_rows, 1))}
    stats = Statistics()
    with native.use(native_on):
        out = run_string(script, inputs=inputs, outputs=["out"], precision=precision,
                         stats=stats)["out"]
    return out, stats.counts


@pytest.mark.parametrize("native_on", [True, False], ids=["native", "numpy"])
@pytest.mark.parametrize("precision", ["double", "single"])
def test_convolution_with_bias_is_the_plain_pair(precision, native_on):
    fused, counts = _convolution(CONVOLUTION, precision, native_on=native_on)
    plain, plain_counts = _convolution(PLAIN, precision, native_on=native_on)
    assert counts["conv2d_bias_add"] == 1 and counts["bias_add"] == 0
    assert _total(plain_counts, "bias_add") == 1
    assert fused.dtype == plain.dtype
    assert_array_equal(fused, plain)


def test_convolution_with_a_wrong_bias_reports_bias_add():
    with pytest.raises(DMLRuntimeError) as fused:
        _convolution(CONVOLUTION, "double", bias_rows=4)
    with pytest.raises(DMLRuntimeError) as plain:
        _convolution(PLAIN, "double", bias_rows=4)
    assert "bias_add" in str(fused.value)
    assert str(fused.value).split("error: ")[-1] == str(plain.value).split("error: ")[-1]


def test_a_user_function_named_conv2d_is_not_fused():
    script = """
conv2d = function(matrix[double] X, matrix[double] W) return (matrix[double] out) {
  out = X
}
out = bias_add(conv2d(X, W), b)
"""
    out, counts = _convolution(script, "double", bias_rows=72)
    assert counts["conv2d_bias_add"] == 0 and counts["bias_add"] == 1


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("special", [False, True], ids=["normal", "special"])
@pytest.mark.parametrize("script", ["Y = X - D * 0.01", "Y = X - 0.01 * D", "Y = X - D * 3"])
def test_gradient_step_is_the_plain_difference(script, special, precision):
    X, D = _values((400, 130), special)
    got, counts = _run(script, {"X": X, "D": D}, precision)
    dtype = np.float32 if precision == "single" else np.float64
    scale = 3 if script.endswith("3") else 0.01
    with np.errstate(invalid="ignore"):
        expected = X.astype(dtype) - D.astype(dtype) * scale
    assert got.dtype == dtype
    assert_array_equal(np.signbit(got), np.signbit(expected))
    assert_array_equal(got, expected)
    assert _total(counts, "gradient_step") == 1 and _total(counts, "-") == 0


@pytest.mark.parametrize("script, inputs", [
    ("Y = X - D * E", {"X": np.ones((2, 2)), "D": np.ones((2, 2)), "E": np.full((2, 2), 3.0)}),
    ("Y = X - D * 2", {"X": np.ones((2, 2)), "D": np.ones((1, 2))}),            # a row vector
    ("Y = X - D * 2", {"X": 1.5, "D": np.ones((2, 2))}),                        # a scalar X
])
def test_gradient_step_of_other_operands_is_plain(script, inputs):
    got, counts = _run(script, inputs)
    env = {k: np.asarray(v) for k, v in inputs.items()}
    assert_array_equal(got, eval(script.split("= ", 1)[1], {}, env))
    assert _total(counts, "gradient_step") == 0 and _total(counts, "-") == 1


def _clamp_values(shape, dtype):
    """Normal values around the bounds, the bounds themselves, zeros of both signs, infinities
    and NaNs of both signs with payloads (max then min keep a NaN cell's bits)."""
    rng = np.random.default_rng(12)
    X = (rng.standard_normal(shape) * 4).astype(dtype)
    X.flat[::5], X.flat[1::7], X.flat[2::11] = -0.0, 0.0, 6.0
    X.flat[3::13], X.flat[4::17] = np.inf, -np.inf
    bits = X.view(np.uint32 if dtype == np.float32 else np.uint64)
    top = bits.dtype.type(1 << (8 * X.itemsize - 1))
    nan = np.array([np.nan], dtype=dtype).view(bits.dtype)[0]
    bits.flat[6::19], bits.flat[7::23] = nan | 5, top | nan | 9
    return X


def _clamped(X, low, high):
    dtype = X.dtype.type
    return np.minimum(np.maximum(X, dtype(float(low))), dtype(float(high)))


def _same_bits(got, expected):
    assert got.dtype == expected.dtype
    assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("native_on", [True, False], ids=["native", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
@pytest.mark.parametrize("bounds", [(0, 6.0), (-1.0, 1), (2.5, -2.5), (-np.inf, 0.0), (0, 0)],
                         ids=["relu6", "hard_tanh", "crossed", "infinite", "zeros"])
@pytest.mark.parametrize("shape", [(300, 1001), (3, 5), (0, 4)], ids=["large", "small", "empty"])
def test_clamp_is_max_then_min_to_the_bit(shape, bounds, dtype, native_on):
    from kerasdml.runtime.local import native
    from kerasdml.runtime.local.elementwise import clamp
    X = _clamp_values(shape, dtype)
    expected = _clamped(X, *bounds)
    with native.use(native_on):
        _same_bits(clamp(X, *bounds), expected)
        in_place = X.copy()
        assert clamp(in_place, *bounds, out=in_place) is in_place
        _same_bits(in_place, expected)
        _same_bits(clamp(X[:, 1:], *bounds), expected[:, 1:])     # a view: not contiguous


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("script", ["Y = min(max(X, 0), 6.0)", "Y = min(max(0, X), 6)"])
def test_relu6_is_one_clamp_with_the_plain_bits(script, precision):
    dtype = np.float32 if precision == "single" else np.float64
    X = _clamp_values((300, 257), dtype)
    got, counts = _run(script, {"X": X}, precision)
    _same_bits(got, _clamped(X, 0, 6))
    assert _total(counts, "clamp") == 1 and _total(counts, "max") == _total(counts, "min") == 0


def test_a_variable_read_for_the_last_time_is_clamped_in_place():
    script = "T = X + 1\nY = min(max(T, 0), 6)"
    got, counts = _run(script, {"X": np.arange(-4.0, 8.0).reshape(3, 4)})
    assert_array_equal(got, np.clip(np.arange(-3.0, 9.0), 0, 6).reshape(3, 4))
    assert counts["clamp in place"] == 1 and counts["clamp"] == 0


@pytest.mark.parametrize("script, inputs", [
    ("Y = min(max(X, 0), 6)", {"X": 7.5}),                                       # a scalar X
    ("Y = min(max(X, 0), B)", {"X": np.array([[-1.0, 9.0]]), "B": np.full((1, 2), 6.0)}),
    ("Y = min(max(X, Z), 6)", {"X": np.array([[-1.0, 9.0]]), "Z": np.zeros((1, 2))}),
    ("Y = min(max(X, 0), 0/0)", {"X": np.array([[-1.0, 9.0]])}),                 # a NaN bound
])
def test_clamp_of_other_operands_is_plain(script, inputs):
    got, counts = _run(script, inputs)
    env = {k: np.asarray(v) for k, v in inputs.items()}
    with np.errstate(invalid="ignore"):
        expected = np.minimum(np.maximum(env["X"], env.get("Z", 0.0)),
                              env.get("B", np.nan if "0/0" in script else 6.0))
    assert_array_equal(np.asarray(got, dtype=float).reshape(expected.shape), expected)
    assert _total(counts, "clamp") == 0 and _total(counts, "min") == 1
