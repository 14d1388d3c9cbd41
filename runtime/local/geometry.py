"""Argument checks and geometry shared by the DNN kernels (conv2d, pooling).

Shape arguments arrive as lists (input_shape=[N, C, H, W], ...); Geom turns one call's
arguments into checked ints and the output sizes they imply, with SystemDS's rules and
error messages that name the builtin.
"""
from __future__ import annotations

import copy
import operator

import numpy as np

from ..errors import DMLRuntimeError


def fail(builtin: str, message: str) -> DMLRuntimeError:
    return DMLRuntimeError(f"{builtin}: {message}")


def ints(builtin: str, name: str, values, count: int) -> tuple[int, ...]:
    """A shape argument as a tuple of `count` Python ints."""
    try:
        items = list(values)
    except TypeError:
        raise fail(builtin, f"{name} must be a list of {count} integers, got {values!r}") from None
    if len(items) != count:
        raise fail(builtin, f"{name} must have {count} values, got {len(items)}: {items}")
    out = []
    for v in items:
        try:
            iv = operator.index(v)
        except TypeError:
            fv = float(v)
            if not fv.is_integer():
                raise fail(builtin, f"{name} must hold integers, got {items}") from None
            iv = int(fv)
        out.append(iv)
    return tuple(out)


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    dt = np.result_type(*arrays)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def checked_matrix(builtin: str, name: str, A, rows: int, cols: int, dtype) -> np.ndarray:
    A = np.asarray(A)
    if A.ndim != 2:
        raise fail(builtin, f"{name} must be a matrix, got an array with {A.ndim} dimensions")
    if A.shape != (rows, cols):
        raise fail(builtin, f"{name} is {A.shape[0]} x {A.shape[1]}, expected {rows} x {cols}")
    return A.astype(dtype, copy=False)


class Geom:
    """Checked geometry of one conv/pool call."""

    __slots__ = ("N", "C", "H", "W", "F", "kh", "kw", "sh", "sw", "ph", "pw", "Ho", "Wo")

    def __init__(self, builtin, input_shape, window, window_name, stride, padding, filters=None):
        N, C, H, W = ints(builtin, "input_shape", input_shape, 4)
        kh, kw = window
        sh, sw = ints(builtin, "stride", stride, 2)
        ph, pw = ints(builtin, "padding", padding, 2)
        for label, v in (("N", N), ("C", C), ("H", H), ("W", W)):
            if v < 1:
                raise fail(builtin, f"input_shape {label} must be positive, got {list(input_shape)}")
        if kh < 1 or kw < 1:
            raise fail(builtin, f"{window_name} height and width must be positive, got [{kh}, {kw}]")
        if sh < 1 or sw < 1:
            raise fail(builtin, f"stride must be positive, got [{sh}, {sw}]")
        if ph < 0 or pw < 0:
            raise fail(builtin, f"padding must not be negative, got [{ph}, {pw}]")
        if H + 2 * ph < kh:
            raise fail(builtin, f"padded image height {H + 2 * ph} (H={H}, padding {ph}) "
                                 f"is less than the {window_name} height {kh}")
        if W + 2 * pw < kw:
            raise fail(builtin, f"padded image width {W + 2 * pw} (W={W}, padding {pw}) "
                                 f"is less than the {window_name} width {kw}")
        self.N, self.C, self.H, self.W = N, C, H, W
        self.F = C if filters is None else filters
        self.kh, self.kw, self.sh, self.sw, self.ph, self.pw = kh, kw, sh, sw, ph, pw
        self.Ho = (H + 2 * ph - kh) // sh + 1
        self.Wo = (W + 2 * pw - kw) // sw + 1

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


def conv_geom(builtin, input_shape, filter_shape, stride, padding) -> Geom:
    F, Cf, Hf, Wf = ints(builtin, "filter_shape", filter_shape, 4)
    if F < 1 or Cf < 1:
        raise fail(builtin, f"filter_shape F and C must be positive, got {list(filter_shape)}")
    g = Geom(builtin, input_shape, (Hf, Wf), "filter", stride, padding, filters=F)
    if Cf != g.C:
        raise fail(builtin, f"filter_shape has {Cf} channels but input_shape has {g.C}")
    return g


def pool_geom(builtin, input_shape, pool_size, stride, padding) -> Geom:
    return Geom(builtin, input_shape, ints(builtin, "pool_size", pool_size, 2),
                 "pool", stride, padding)


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
