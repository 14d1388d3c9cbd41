"""dml_lib's image-layout conversions (nn/util/layout.dml) as one transpose per batch
(runtime/local/layout.py, through runtime/intrinsics.py): the DML body's bits in both
precisions, on awkward sizes and on NaN, infinities and zeros of both signs; the body for what
the kernel does not take."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.intrinsics import KERNELS, SWITCH_VARIABLE

SCRIPT = """
source("nn/util/layout.dml") as layout
first = layout::channels_first(X, C, H, W)
last = layout::channels_last(X, C, H, W)
"""
# N, C, H, W: one image, one channel, one pixel, H != W, more channels than pixels
SIZES = [(1, 1, 1, 1), (1, 3, 4, 5), (4, 1, 3, 2), (3, 5, 2, 7), (2, 16, 1, 1), (6, 2, 1, 9)]
KERNEL_NAMES = ("layout::channels_first", "layout::channels_last")


def images(N, C, H, W, dtype) -> np.ndarray:
    X = np.random.default_rng(C * 100 + H * 10 + W).standard_normal((N, C * H * W))
    X.flat[:5] = [np.nan, -0.0, np.inf, -np.inf, 0.0][:X.size]
    return X.astype(dtype)


def run(X, C, H, W, precision, stats=None) -> dict:
    return run_string(SCRIPT, inputs=dict(X=X, C=C, H=H, W=W), outputs=["first", "last"],
                      precision=precision, stats=stats)


def same_bits(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("precision, dtype", [("double", np.float64), ("single", np.float32)])
@pytest.mark.parametrize("N, C, H, W", SIZES, ids=["x".join(map(str, s)) for s in SIZES])
def test_one_transpose_gives_the_dml_bodys_bits(N, C, H, W, precision, dtype, monkeypatch):
    X = images(N, C, H, W, dtype)
    stats, body_stats = Statistics(), Statistics()
    kernel = run(X, C, H, W, precision, stats)
    monkeypatch.setenv(SWITCH_VARIABLE, "0")
    body = run(X, C, H, W, precision, body_stats)
    for name in ("first", "last"):
        assert same_bits(kernel[name], body[name]), name
    assert all(stats.counts[name] == 1 for name in KERNEL_NAMES)
    # the body's loop copies one channel per indexing; with the kernels none runs
    assert body_stats.counts["rightIndex"] == 2 * C and "rightIndex" not in stats.counts


@pytest.mark.parametrize("N, C, H, W", SIZES, ids=["x".join(map(str, s)) for s in SIZES])
def test_the_conversions_are_keras_and_channels_first_orders(N, C, H, W):
    X = images(N, C, H, W, np.float64)
    found = run(X, C, H, W, "double")
    keras = X.reshape(N, H, W, C)
    assert same_bits(found["first"], keras.transpose(0, 3, 1, 2).reshape(N, -1).copy())
    back = run(found["first"], C, H, W, "double")["last"]
    assert same_bits(back, X)


def test_the_result_is_a_new_array_when_nothing_moves():
    convert = KERNELS["nn/util/layout.dml"]["channels_first"]
    X = images(3, 1, 2, 2, np.float64)
    out = convert(dict(X=X, C=1, H=2, W=2))[0]
    assert not np.shares_memory(out, X) and out.flags.c_contiguous and same_bits(out, X)


NOT_TAKEN = {
    "wrong columns": dict(X=np.zeros((2, 11)), C=3, H=2, W=2),
    "no rows": dict(X=np.zeros((0, 12)), C=3, H=2, W=2),
    "zero channels": dict(X=np.zeros((2, 0)), C=0, H=2, W=2),
    "integers": dict(X=np.zeros((2, 12), dtype=np.int64), C=3, H=2, W=2),
    "one axis": dict(X=np.zeros(12), C=3, H=2, W=2),
    "a double size": dict(X=np.zeros((2, 12)), C=3.0, H=2, W=2),
    "a list": dict(X=[[0.0] * 12] * 2, C=3, H=2, W=2),
}


@pytest.mark.parametrize("function", ["channels_first", "channels_last"])
@pytest.mark.parametrize("arguments", list(NOT_TAKEN.values()), ids=list(NOT_TAKEN))
def test_arguments_the_kernel_does_not_take_leave_it_to_the_body(function, arguments):
    assert KERNELS["nn/util/layout.dml"][function](dict(arguments)) is None


def test_wrong_sizes_get_the_dml_bodys_error(monkeypatch):
    X = np.zeros((2, 12))
    with pytest.raises(DMLRuntimeError) as kernel_on:
        run(X, 3, 2, 3, "double")
    monkeypatch.setenv(SWITCH_VARIABLE, "0")
    with pytest.raises(DMLRuntimeError) as kernel_off:
        run(X, 3, 2, 3, "double")
    assert str(kernel_on.value) == str(kernel_off.value)
    assert "layout.dml" in str(kernel_on.value) and "channels_first" in str(kernel_on.value)
