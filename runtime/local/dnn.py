"""Numpy kernels for DML's DNN builtins (conv2d, pooling, bias), SystemDS semantics.

Layout, as in SystemDS: a batch of images is an N x (C*H*W) matrix, one image per
row, channels first, each channel's H x W plane flattened row-major. Outputs use
the same layout: N x (F*Hout*Wout) with

    Hout = (H + 2*ph - Hf) // sh + 1,   Wout = (W + 2*pw - Wf) // sw + 1

(integer division, so a stride that does not divide evenly drops the last rows
and columns, as SystemDS does). A filter bank is an F x (C*Hf*Wf) matrix.

Everything is computed on the whole batch at once: the convolutions are one BLAS
matrix product each over an im2col copy made from a strided view (laid out
kernel-major, (C*Hf*Wf) x (N*Hout*Wout), which measured fastest for all three
passes); the backward data pass is a matrix product followed by a col2im that
accumulates one slicing add per kernel offset. Pooling works on strided views
of the (padded) planes: max_pool reduces the window rows, then the window
columns; the backward passes take one vectorised step per pool offset, or, when
the windows tile the image (stride == pool_size, no padding), a reshape.
The only Python loops run over kernel/pool offsets (Hf*Wf steps at most).

Summary of SystemDS's semantics (details in each function's docstring):
max_pool pads with -Double.MAX_VALUE; max_pool_backward gives a window's whole
gradient to the first maximum in row-major order; avg_pool pads with zeros and
always divides by pool_h*pool_w (padded cells count).

Dtypes are preserved: float32 inputs give float32 outputs, float64 give float64
(mixed inputs follow numpy's promotion; non-float inputs compute in float64).

Facts about SystemDS 3.4.0 that these kernels reproduce (checked by running it;
see tests/runtime/fixtures/dnn/make_fixtures.dml):
  * All shape arguments are required for the pools too: max_pool without stride=
    or padding= is a validation error ("Expected stride1 to be expanded"). Any
    stride and padding are accepted with any pool_size, including padding >=
    pool_size (windows that lie wholly in the padding).
  * nrow(X) must equal N of input_shape and ncol(X) must equal C*H*W
    ("Incorrect dimensions in DnnOp: 9 != 10"); ncol(W) must equal C*Hf*Wf with C
    taken from input_shape; ncol(dout) must equal F*Hout*Wout (or C*Hout*Wout).
  * A padded image smaller than the filter/pool is refused ("padded image
    height:3 cannot be less than filter_height:4"); negative padding is refused;
    stride 0 crashes with "/ by zero". All of these raise DMLRuntimeError here.
"""
from __future__ import annotations

import operator
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import DMLRuntimeError

__all__ = [
    "conv2d", "conv2d_backward_filter", "conv2d_backward_data",
    "max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward",
    "bias_add", "bias_multiply",
]


# --------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------

def _fail(builtin: str, message: str) -> DMLRuntimeError:
    return DMLRuntimeError(f"{builtin}: {message}")


def _ints(builtin: str, name: str, values, count: int) -> tuple[int, ...]:
    """A shape argument as a tuple of `count` Python ints."""
    try:
        items = list(values)
    except TypeError:
        raise _fail(builtin, f"{name} must be a list of {count} integers, got {values!r}") from None
    if len(items) != count:
        raise _fail(builtin, f"{name} must have {count} values, got {len(items)}: {items}")
    out = []
    for v in items:
        try:
            iv = operator.index(v)
        except TypeError:
            fv = float(v)
            if not fv.is_integer():
                raise _fail(builtin, f"{name} must hold integers, got {items}") from None
            iv = int(fv)
        out.append(iv)
    return tuple(out)


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    dt = np.result_type(*arrays)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def _matrix(builtin: str, name: str, A, rows: int, cols: int, dtype) -> np.ndarray:
    A = np.asarray(A)
    if A.ndim != 2:
        raise _fail(builtin, f"{name} must be a matrix, got an array with {A.ndim} dimensions")
    if A.shape != (rows, cols):
        raise _fail(builtin, f"{name} is {A.shape[0]} x {A.shape[1]}, expected {rows} x {cols}")
    return A.astype(dtype, copy=False)


class _Geom:
    """Checked geometry of one conv/pool call."""

    __slots__ = ("N", "C", "H", "W", "F", "kh", "kw", "sh", "sw", "ph", "pw", "Ho", "Wo")

    def __init__(self, builtin, input_shape, window, window_name, stride, padding, filters=None):
        N, C, H, W = _ints(builtin, "input_shape", input_shape, 4)
        kh, kw = window
        sh, sw = _ints(builtin, "stride", stride, 2)
        ph, pw = _ints(builtin, "padding", padding, 2)
        for label, v in (("N", N), ("C", C), ("H", H), ("W", W)):
            if v < 1:
                raise _fail(builtin, f"input_shape {label} must be positive, got {list(input_shape)}")
        if kh < 1 or kw < 1:
            raise _fail(builtin, f"{window_name} height and width must be positive, got [{kh}, {kw}]")
        if sh < 1 or sw < 1:
            raise _fail(builtin, f"stride must be positive, got [{sh}, {sw}]")
        if ph < 0 or pw < 0:
            raise _fail(builtin, f"padding must not be negative, got [{ph}, {pw}]")
        if H + 2 * ph < kh:
            raise _fail(builtin, f"padded image height {H + 2 * ph} (H={H}, padding {ph}) "
                                 f"is less than the {window_name} height {kh}")
        if W + 2 * pw < kw:
            raise _fail(builtin, f"padded image width {W + 2 * pw} (W={W}, padding {pw}) "
                                 f"is less than the {window_name} width {kw}")
        self.N, self.C, self.H, self.W = N, C, H, W
        self.F = C if filters is None else filters
        self.kh, self.kw, self.sh, self.sw, self.ph, self.pw = kh, kw, sh, sw, ph, pw
        self.Ho = (H + 2 * ph - kh) // sh + 1
        self.Wo = (W + 2 * pw - kw) // sw + 1

    @property
    def in_cols(self) -> int:
        return self.C * self.H * self.W

    @property
    def out_cols(self) -> int:
        return self.F * self.Ho * self.Wo


def _conv_geom(builtin, input_shape, filter_shape, stride, padding) -> _Geom:
    F, Cf, Hf, Wf = _ints(builtin, "filter_shape", filter_shape, 4)
    if F < 1 or Cf < 1:
        raise _fail(builtin, f"filter_shape F and C must be positive, got {list(filter_shape)}")
    g = _Geom(builtin, input_shape, (Hf, Wf), "filter", stride, padding, filters=F)
    if Cf != g.C:
        raise _fail(builtin, f"filter_shape has {Cf} channels but input_shape has {g.C}")
    return g


def _pool_geom(builtin, input_shape, pool_size, stride, padding) -> _Geom:
    return _Geom(builtin, input_shape, _ints(builtin, "pool_size", pool_size, 2),
                 "pool", stride, padding)


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------

def _pad(x4: np.ndarray, ph: int, pw: int, value=0) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x4
    N, C, H, W = x4.shape
    out = np.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x4.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x4
    return out


def _offset_slice(g: _Geom, i: int, j: int):
    """The (rows, cols) slices of a padded plane that kernel offset (i, j) touches."""
    return (slice(i, i + g.sh * (g.Ho - 1) + 1, g.sh),
            slice(j, j + g.sw * (g.Wo - 1) + 1, g.sw))


def _im2col(g: _Geom, X: np.ndarray) -> np.ndarray:
    """Patches of X as a (C*kh*kw) x (N*Ho*Wo) C-contiguous matrix (one copy).

    Row (c, i, j) holds, for every image n and output cell (y, x), the input
    Xpad[n, c, y*sh + i, x*sw + j]. This "kernel-major" layout makes the copy
    from the strided view cheap (the innermost axis stays the image column axis)
    and lets all three convolution passes run as one large GEMM each.
    """
    xp = _pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw)
    # (N, C, Ho, Wo, kh, kw) view, no copy
    v = sliding_window_view(xp, (g.kh, g.kw), axis=(2, 3))[:, :, ::g.sh, ::g.sw]
    cols = np.empty((g.C, g.kh, g.kw, g.N, g.Ho, g.Wo), dtype=X.dtype)
    np.copyto(cols, v.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(g.C * g.kh * g.kw, g.N * g.Ho * g.Wo)


def _col2im(g: _Geom, dcols: np.ndarray) -> np.ndarray:
    """Sum (C*kh*kw) x (N*Ho*Wo) patch gradients back into an N x (C*H*W) matrix."""
    d6 = dcols.reshape(g.C, g.kh, g.kw, g.N, g.Ho, g.Wo)
    dxp = np.zeros((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=dcols.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = _offset_slice(g, i, j)
            dxp[:, :, rs, cs] += d6[:, i, j]
    dx = dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx).reshape(g.N, g.C * g.H * g.W)


def _dout_fnl(g: _Geom, dout: np.ndarray) -> np.ndarray:
    """dout (N x F*Ho*Wo) as F x (N*Ho*Wo), matching _im2col's column order."""
    L = g.Ho * g.Wo
    return np.ascontiguousarray(dout.reshape(g.N, g.F, L).transpose(1, 0, 2)).reshape(g.F, g.N * L)


# --------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------

def conv2d(X, W, input_shape: Sequence[int], filter_shape: Sequence[int],
           stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Cross-correlation of each image with each filter (no kernel flip), zero padding.

    out[n, f, y, x] = sum_{c,i,j} Xpad[n, c, y*sh + i, x*sw + j] * W[f, c, i, j]

    SystemDS refuses (and so do we): nrow(X) != N, ncol(X) != C*H*W,
    ncol(W) != C*Hf*Wf, a padded image smaller than the filter, negative padding,
    stride 0. A stride that does not divide H + 2*ph - Hf drops the remainder.
    """
    b = "conv2d"
    g = _conv_geom(b, input_shape, filter_shape, stride, padding)
    dt = _float_dtype(X, W)
    X = _matrix(b, "input X", X, g.N, g.in_cols, dt)
    W = _matrix(b, "filter W", W, g.F, g.C * g.kh * g.kw, dt)
    out = W @ _im2col(g, X)                                # (F, N*L)
    out = out.reshape(g.F, g.N, g.Ho * g.Wo).transpose(1, 0, 2)
    return np.ascontiguousarray(out).reshape(g.N, g.out_cols)


def conv2d_backward_filter(X, dout, input_shape: Sequence[int], filter_shape: Sequence[int],
                           stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of conv2d with respect to the filter: an F x (C*Hf*Wf) matrix."""
    b = "conv2d_backward_filter"
    g = _conv_geom(b, input_shape, filter_shape, stride, padding)
    dt = _float_dtype(X, dout)
    X = _matrix(b, "input X", X, g.N, g.in_cols, dt)
    dout = _matrix(b, "dout", dout, g.N, g.out_cols, dt)
    return _dout_fnl(g, dout) @ _im2col(g, X).T            # (F, N*L) @ (N*L, CKK)


def conv2d_backward_data(W, dout, input_shape: Sequence[int], filter_shape: Sequence[int],
                         stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of conv2d with respect to the input: an N x (C*H*W) matrix."""
    b = "conv2d_backward_data"
    g = _conv_geom(b, input_shape, filter_shape, stride, padding)
    dt = _float_dtype(W, dout)
    W = _matrix(b, "filter W", W, g.F, g.C * g.kh * g.kw, dt)
    dout = _matrix(b, "dout", dout, g.N, g.out_cols, dt)
    return _col2im(g, W.T @ _dout_fnl(g, dout))           # (CKK, F) @ (F, N*L)


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------

def _pool_input(b, g: _Geom, X, dout=None):
    dt = _float_dtype(X) if dout is None else _float_dtype(X, dout)
    X = _matrix(b, "input X", X, g.N, g.in_cols, dt)
    if dout is not None:
        dout = _matrix(b, "dout", dout, g.N, g.out_cols, dt)
    return X, dout


def _tiles(g: _Geom) -> bool:
    """Windows tile the image exactly (apart from dropped trailing rows/columns)."""
    return g.sh == g.kh and g.sw == g.kw and g.ph == 0 and g.pw == 0


def _tiled_view(g: _Geom, X: np.ndarray) -> np.ndarray:
    """X as (N, C, Ho, kh, Wo, kw), cropped to the part the windows cover."""
    x4 = X.reshape(g.N, g.C, g.H, g.W)[:, :, :g.Ho * g.kh, :g.Wo * g.kw]
    return x4.reshape(g.N, g.C, g.Ho, g.kh, g.Wo, g.kw)


def _untile(g: _Geom, t6: np.ndarray) -> np.ndarray:
    """Inverse of _tiled_view for gradients: (N, C, Ho, kh, Wo, kw) -> N x (C*H*W)."""
    Hc, Wc = g.Ho * g.kh, g.Wo * g.kw
    if Hc == g.H and Wc == g.W:
        return np.ascontiguousarray(t6).reshape(g.N, g.in_cols)
    dx = np.zeros((g.N, g.C, g.H, g.W), dtype=t6.dtype)
    dx[:, :, :Hc, :Wc] = t6.reshape(g.N, g.C, Hc, Wc)
    return dx.reshape(g.N, g.in_cols)


def _pool_planes(g: _Geom, X: np.ndarray, pad_value) -> np.ndarray:
    """X as (N, C, H+2ph, W+2pw) planes, padded with pad_value (no copy without padding)."""
    return _pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw, pad_value)


def _max_windows(g: _Geom, xp: np.ndarray) -> np.ndarray:
    """Maximum of every pool window of the padded planes xp: (N, C, Ho, Wo).

    Separable: first the maximum over the kh rows of each window (on whole,
    contiguous plane rows), then over its kw columns.
    """
    rows = None
    for i in range(g.kh):
        r = xp[:, :, i:i + g.sh * (g.Ho - 1) + 1:g.sh, :]
        if rows is None:
            rows = r.copy()
        else:
            np.maximum(rows, r, out=rows)
    out = None
    for j in range(g.kw):
        c = rows[:, :, :, j:j + g.sw * (g.Wo - 1) + 1:g.sw]
        if out is None:
            out = c.copy()
        else:
            np.maximum(out, c, out=out)
    return out


def max_pool(X, input_shape: Sequence[int], pool_size: Sequence[int],
             stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Maximum over each pool window, per channel.

    SystemDS pads with -Double.MAX_VALUE (-1.7976931348623157e308), not zero and
    not -inf: padding never wins against a real value, and a window lying wholly
    in the padding outputs -1.7976931348623157e308. Here the pad value is
    -finfo(dtype).max, i.e. exactly that in float64 (float32: -3.4028235e38).
    """
    b = "max_pool"
    g = _pool_geom(b, input_shape, pool_size, stride, padding)
    X, _ = _pool_input(b, g, X)
    out = _max_windows(g, _pool_planes(g, X, -np.finfo(X.dtype).max))
    return out.reshape(g.N, g.out_cols)


def max_pool_backward(X, dout, input_shape: Sequence[int], pool_size: Sequence[int],
                      stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of max_pool: each window's dout goes to its maximum, summed over windows.

    Ties (SystemDS): the whole dout of a window goes to ONE cell, the first maximum
    in row-major order within the window (top-most, then left-most); it is not
    split. Padding cells hold -Double.MAX_VALUE as in max_pool; the gradient of a
    window lying wholly in the padding is dropped.

    Overlapping windows (stride < pool_size) that pick the same cell add up
    their gradients, as SystemDS's dense kernel does. (SystemDS 3.4.0 builds this
    output as a sparse block and there appends one entry per window, so such a
    cell ends up with duplicate entries and the sum is lost; we don't copy that
    bug. The test fixtures avoid it; see make_fixtures.dml.)
    """
    b = "max_pool_backward"
    g = _pool_geom(b, input_shape, pool_size, stride, padding)
    X, dout = _pool_input(b, g, X, dout)
    d4 = dout.reshape(g.N, g.C, g.Ho, g.Wo)
    xp = _pool_planes(g, X, -np.finfo(X.dtype).max)
    best = _max_windows(g, xp)
    K = g.kh * g.kw
    # d4 * hit is the fast masked select; it would turn an inf dout into nan
    # where hit is False, so non-finite douts take the (slower) np.where.
    finite = bool(np.isfinite(d4).all())
    zero = X.dtype.type(0)
    if _tiles(g):
        # Windows tile the planes: compare all cells with their window's maximum
        # in one pass over the (N, C, Ho, kh, Wo, kw) view, then keep only the
        # first maximum of windows that have ties.
        # (The window maximum and dout are widened along the columns first, so
        # that numpy's inner loops run over whole plane rows, not over kw cells.)
        x5 = _tiled_view(g, X).reshape(g.N, g.C, g.Ho, g.kh, g.Wo * g.kw)
        hits = x5 == best.repeat(g.kw, axis=3)[:, :, :, None, :]
        if K > 1 and np.count_nonzero(hits) != best.size:
            h6 = hits.reshape(g.N, g.C, g.Ho, g.kh, g.Wo, g.kw)
            free = np.ones(best.shape, dtype=bool)
            for i in range(g.kh):
                for j in range(g.kw):
                    h = h6[:, :, :, i, :, j]
                    h &= free
                    free ^= h
        d5 = d4.repeat(g.kw, axis=3)[:, :, :, None, :]
        grad = np.multiply(hits, d5) if finite else np.where(hits, d5, zero)
        return _untile(g, grad.reshape(g.N, g.C, g.Ho, g.kh, g.Wo, g.kw))
    dxp = np.zeros(xp.shape, dtype=X.dtype)
    disjoint = g.sh >= g.kh and g.sw >= g.kw
    free = np.ones(best.shape, dtype=bool)      # window has not placed its gradient yet
    hit = np.empty(best.shape, dtype=bool)
    for k in range(K):                           # row-major offsets: first maximum wins
        rs, cs = _offset_slice(g, *divmod(k, g.kw))
        np.equal(xp[:, :, rs, cs], best, out=hit)
        if K > 1:
            hit &= free
            free ^= hit
        dst = dxp[:, :, rs, cs]
        if disjoint and finite:
            np.multiply(d4, hit, out=dst)        # dst is still all zero
        elif finite:
            dst += d4 * hit
        else:
            dst += np.where(hit, d4, zero)
    if g.ph or g.pw:
        dxp = np.ascontiguousarray(dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W])
    return dxp.reshape(g.N, g.in_cols)


def avg_pool(X, input_shape: Sequence[int], pool_size: Sequence[int],
             stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Mean over each pool window, per channel.

    SystemDS pads with zeros and always divides by pool_h*pool_w: padded cells
    count in the divisor (TF's "count_include_pad"). A 2x2 window with one real
    cell v in the corner gives v/4; a window wholly in the padding gives 0.
    """
    b = "avg_pool"
    g = _pool_geom(b, input_shape, pool_size, stride, padding)
    X, _ = _pool_input(b, g, X)
    # SystemDS's order of operations, so that results agree to the last bit even
    # under cancellation: sum each window row left to right, scale it by
    # 1/(kh*kw), add the scaled rows top to bottom.
    mult = X.dtype.type(1.0 / (g.kh * g.kw))
    if _tiles(g):
        t6 = _tiled_view(g, X)
        rows = [t6[:, :, :, i, :, 0].copy() for i in range(g.kh)]
        for i in range(g.kh):
            for j in range(1, g.kw):
                rows[i] += t6[:, :, :, i, :, j]
    else:
        xp = _pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw)
        rows = []
        for i in range(g.kh):
            rs, cs = _offset_slice(g, i, 0)
            row = xp[:, :, rs, cs].copy()
            for j in range(1, g.kw):
                rs, cs = _offset_slice(g, i, j)
                row += xp[:, :, rs, cs]
            rows.append(row)
    out = rows[0]
    out *= mult
    for row in rows[1:]:
        row *= mult
        out += row
    return np.ascontiguousarray(out).reshape(g.N, g.out_cols)


def avg_pool_backward(X, dout, input_shape: Sequence[int], pool_size: Sequence[int],
                      stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of avg_pool: every cell of a window receives dout / (pool_h*pool_w).

    As in the forward pass the divisor counts padded cells; the shares that fall on
    padding are dropped. X only fixes the dtype and is shape-checked.
    """
    b = "avg_pool_backward"
    g = _pool_geom(b, input_shape, pool_size, stride, padding)
    X, dout = _pool_input(b, g, X, dout)
    share = dout.reshape(g.N, g.C, g.Ho, g.Wo) * X.dtype.type(1.0 / (g.kh * g.kw))
    if _tiles(g):
        t6 = np.broadcast_to(share[:, :, :, None, :, None],
                             (g.N, g.C, g.Ho, g.kh, g.Wo, g.kw))
        return _untile(g, t6)
    dxp = np.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=X.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = _offset_slice(g, i, j)
            dxp[:, :, rs, cs] += share
    if g.ph or g.pw:
        dxp = dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W]
    return np.ascontiguousarray(dxp).reshape(g.N, g.in_cols)


# --------------------------------------------------------------------------
# bias
# --------------------------------------------------------------------------

def _bias(b: str, X, bias, op) -> np.ndarray:
    X = np.asarray(X)
    bias = np.asarray(bias)
    dt = _float_dtype(X, bias)
    if X.ndim != 2:
        raise _fail(b, f"input X must be a matrix, got an array with {X.ndim} dimensions")
    if bias.ndim != 2 or bias.shape[1] != 1:
        shape = " x ".join(map(str, bias.shape))
        raise _fail(b, f"bias must be a column vector (F x 1), got {shape}")
    N, cols = X.shape
    F = bias.shape[0]
    if F == 0 or cols % F != 0:
        raise _fail(b, f"input X has {cols} columns, not a multiple of the bias's {F} rows")
    out = op(X.astype(dt, copy=False).reshape(N, F, cols // F),
             bias.astype(dt, copy=False).reshape(1, F, 1))
    return out.reshape(N, cols)


def bias_add(X, b) -> np.ndarray:
    """X (N x F*H*W) plus b[f] (b is F x 1) on every cell of channel f."""
    return _bias("bias_add", X, b, np.add)


def bias_multiply(X, b) -> np.ndarray:
    """X (N x F*H*W) times b[f] (b is F x 1) on every cell of channel f."""
    return _bias("bias_multiply", X, b, np.multiply)
