"""The one conv/pool shape checker: the geometry of a conv2d or pooling call, checked with
SystemDS's rules, and the output sizes it implies.

The DML builtins (runtime/builtins/dnn.py), the numpy kernels (runtime/local/) and Spark's
row-panel operations (runtime/spark/dnn.py) all build a `Geom` here, so a bad call gets the same
message wherever it runs. Shape arguments arrive as lists: input_shape=[N, C, H, W],
filter_shape=[F, C, Hf, Wf], pool_size=[Hp, Wp], stride=[sh, sw], padding=[ph, pw]. A batch of
images is an N x (C*H*W) matrix; the output is N x (F*Hout*Wout) with
Hout = (H + 2*ph - Hf) %/% sh + 1 (likewise Wout; F = C for pooling).
"""
from __future__ import annotations

import copy

import numpy as np

from ..errors import DMLRuntimeError
from ..values import type_name

LENGTHS = {"input_shape": 4, "filter_shape": 4, "pool_size": 2, "stride": 2, "padding": 2}
SPELLED = {"input_shape": "[N, C, H, W]", "filter_shape": "[F, C, Hf, Wf]",
           "pool_size": "[Hp, Wp]", "stride": "[sh, sw]", "padding": "[ph, pw]"}
CONV_SHAPES = ("input_shape", "filter_shape", "stride", "padding")
POOL_SHAPES = ("input_shape", "pool_size", "stride", "padding")


def fail(function: str, message: str) -> DMLRuntimeError:
    return DMLRuntimeError(f"{function}: {message}")


def show(values) -> str:
    """A shape argument as messages show it: numbers as written, other values by their type."""
    return "[" + ", ".join(str(v) if _is_number(v) else type_name(v) for v in values) + "]"


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def shape_values(function: str, name: str, values) -> tuple[int, ...]:
    """One shape argument (a list, tuple or array) as a tuple of checked Python ints."""
    count = LENGTHS[name]
    try:
        items = list(values)
    except TypeError:
        raise fail(function, f"{name} must be a list {SPELLED[name]}, "
                             f"got {type_name(values)}") from None
    if len(items) != count:
        raise fail(function, f"{name} must have {count} values {SPELLED[name]}, "
                             f"got {len(items)}: {show(items)}")
    for item in items:
        if not _is_number(item):
            raise fail(function, f"{name} must hold integers {SPELLED[name]}, "
                                 f"got {type_name(item)} in {show(items)}")
        if not (np.isfinite(item) and float(item).is_integer()):
            raise fail(function, f"{name} must hold integers {SPELLED[name]}, got {show(items)}")
    ints = tuple(int(item) for item in items)
    lowest = 0 if name == "padding" else 1
    if min(ints) < lowest:
        rule = "must not be negative" if lowest == 0 else "must be positive"
        raise fail(function, f"{name} values {rule}, got {show(ints)}")
    return ints


def _output_size(function: str, extent: int, pad: int, window: int, stride: int,
                 axis: str, window_name: str) -> int:
    if extent + 2 * pad < window:
        raise fail(function, f"the padded image {axis} {extent + 2 * pad} "
                             f"({'H' if axis == 'height' else 'W'}={extent}, padding {pad}) is "
                             f"smaller than the {window_name} {axis} {window}")
    return (extent + 2 * pad - window) // stride + 1


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    dt = np.result_type(*arrays)
    return dt if dt.kind == "f" else np.dtype(np.float64)


class Geom:
    """Checked geometry of one conv/pool call (window_name "filter" or "pool")."""

    __slots__ = ("function", "window_name", "N", "C", "H", "W", "F", "kh", "kw", "sh", "sw",
                 "ph", "pw", "Ho", "Wo")

    def __init__(self, function, input_shape, window, window_name, stride, padding, filters=None):
        self.function, self.window_name = function, window_name
        self.N, self.C, self.H, self.W = shape_values(function, "input_shape", input_shape)
        self.kh, self.kw = window
        self.sh, self.sw = shape_values(function, "stride", stride)
        self.ph, self.pw = shape_values(function, "padding", padding)
        self.F = self.C if filters is None else filters
        self.Ho = _output_size(function, self.H, self.ph, self.kh, self.sh, "height", window_name)
        self.Wo = _output_size(function, self.W, self.pw, self.kw, self.sw, "width", window_name)

    def with_images(self, count: int) -> "Geom":
        """The same geometry for a batch of `count` images (a chunk of this one's)."""
        other = copy.copy(self)
        other.N = count
        return other

    @property
    def in_cols(self) -> int:
        return self.C * self.H * self.W

    @property
    def out_cols(self) -> int:
        return self.F * self.Ho * self.Wo

    @property
    def kernel_cells(self) -> int:
        return self.kh * self.kw

    def arguments(self) -> dict:
        """The call's shape arguments as lists, as the builtins and kernels take them."""
        window = ({"filter_shape": [self.F, self.C, self.kh, self.kw]}
                  if self.window_name == "filter" else {"pool_size": [self.kh, self.kw]})
        return {"input_shape": [self.N, self.C, self.H, self.W], **window,
                "stride": [self.sh, self.sw], "padding": [self.ph, self.pw]}

    def shown(self, name: str) -> str:
        return f"{name}={show(self.arguments()[name])}"

    def input(self, X, dtype=None) -> np.ndarray:
        """X checked to be N x C*H*W (and cast to dtype when one is given)."""
        return self._checked("input", X, self.N, self.in_cols, self.shown("input_shape"),
                             "N rows, C*H*W columns", dtype)

    def filter(self, K, dtype=None) -> np.ndarray:
        return self._checked("filter", K, self.F, self.C * self.kernel_cells,
                             self.shown("filter_shape"), "F rows, C*Hf*Wf columns", dtype)

    def dout(self, dout, dtype=None) -> np.ndarray:
        convolution = self.window_name == "filter"
        forward = "conv2d" if convolution else self.function.replace("_backward", "")
        channels = "F" if convolution else "C"
        return self._checked("dout", dout, self.N, self.out_cols,
                             f"the output of {forward} for these shapes",
                             f"N rows, {channels}*Hout*Wout columns; Hout={self.Ho}, Wout={self.Wo}",
                             dtype)

    def _checked(self, name, matrix, rows, cols, source, layout, dtype) -> np.ndarray:
        if not hasattr(matrix, "shape"):    # a distributed matrix has a shape, not an array
            matrix = np.asarray(matrix)
        if len(matrix.shape) != 2:
            raise fail(self.function, f"{name} must be a matrix, got an array with "
                                      f"{len(matrix.shape)} dimensions")
        if tuple(matrix.shape) != (rows, cols):
            raise fail(self.function, f"{name} is {matrix.shape[0]}x{matrix.shape[1]}, but "
                                      f"{source} needs {rows}x{cols} ({layout})")
        return matrix if dtype is None else np.asarray(matrix).astype(dtype, copy=False)


def conv_geom(function, input_shape, filter_shape, stride, padding) -> Geom:
    inputs = shape_values(function, "input_shape", input_shape)
    filters = shape_values(function, "filter_shape", filter_shape)
    F, channels, kh, kw = filters
    if channels != inputs[1]:
        raise fail(function, f"filter_shape={show(filters)} has C={channels} channels, "
                             f"but input_shape={show(inputs)} has C={inputs[1]}")
    return Geom(function, inputs, (kh, kw), "filter", stride, padding, filters=F)


def pool_geom(function, input_shape, pool_size, stride, padding) -> Geom:
    inputs = shape_values(function, "input_shape", input_shape)
    return Geom(function, inputs, shape_values(function, "pool_size", pool_size), "pool",
                stride, padding)


def pad(x4: np.ndarray, ph: int, pw: int, value=0) -> np.ndarray:
    """(N, C, H, W) planes with ph rows above and below, pw columns left and right of `value`."""
    if ph == 0 and pw == 0:
        return x4
    N, C, H, W = x4.shape
    out = np.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x4.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x4
    return out


def offset_slice(g: Geom, i: int, j: int) -> tuple[slice, slice]:
    """The (rows, cols) slices of a padded plane that window offset (i, j) touches."""
    return (slice(i, i + g.sh * (g.Ho - 1) + 1, g.sh),
            slice(j, j + g.sw * (g.Wo - 1) + 1, g.sw))
