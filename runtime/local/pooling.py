"""max_pool, avg_pool and their gradients on strided views of the (padded) image planes.

Images are the rows of an N x (C*H*W) matrix; a pool works per channel on each H x W plane.
max_pool reduces the window rows first (whole, contiguous plane rows), then the window columns;
the backward passes take one vectorised step per pool offset (Hp*Wp steps at most), and avg_pool
on windows that tile the image (stride == pool_size, no padding) uses a reshape. Max pooling,
and average pooling where the native kernels run it, work on ranges of images on the worker
threads (parallel.py).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import native
from .geometry import Geom, float_dtype, offset_slice, pad, pool_geom
from .parallel import run_chunks, split

# max pooling runs on this many ranges of images, in parallel where there are cores for it
_CHUNKS = 4


def _pool_input(b, g: Geom, X, dout=None):
    dt = float_dtype(X) if dout is None else float_dtype(X, dout)
    X = g.input(X, dt)
    if dout is not None:
        dout = g.dout(dout, dt)
    return X, dout


def _tiles(g: Geom) -> bool:
    """Windows tile the image exactly (apart from dropped trailing rows/columns)."""
    return g.sh == g.kh and g.sw == g.kw and g.ph == 0 and g.pw == 0


def _tiled_view(g: Geom, X: np.ndarray) -> np.ndarray:
    """X as (N, C, Ho, kh, Wo, kw), cropped to the part the windows cover."""
    x4 = X.reshape(g.N, g.C, g.H, g.W)[:, :, :g.Ho * g.kh, :g.Wo * g.kw]
    return x4.reshape(g.N, g.C, g.Ho, g.kh, g.Wo, g.kw)


def _untile(g: Geom, t6: np.ndarray) -> np.ndarray:
    """Inverse of _tiled_view for gradients: (N, C, Ho, kh, Wo, kw) -> N x (C*H*W)."""
    Hc, Wc = g.Ho * g.kh, g.Wo * g.kw
    if Hc == g.H and Wc == g.W:
        return np.ascontiguousarray(t6).reshape(g.N, g.in_cols)
    dx = np.zeros((g.N, g.C, g.H, g.W), dtype=t6.dtype)
    dx[:, :, :Hc, :Wc] = t6.reshape(g.N, g.C, Hc, Wc)
    return dx.reshape(g.N, g.in_cols)


def _native_geometry(g: Geom, images: int) -> dict[str, int]:
    return dict(planes=images * g.C, H=g.H, W=g.W, kh=g.kh, kw=g.kw, sh=g.sh, sw=g.sw,
                ph=g.ph, pw=g.pw, Ho=g.Ho, Wo=g.Wo)


def _pool_planes(g: Geom, X: np.ndarray, pad_value) -> np.ndarray:
    """X as (N, C, H+2ph, W+2pw) planes, padded with pad_value (no copy without padding)."""
    return pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw, pad_value)


def _max_windows(g: Geom, xp: np.ndarray) -> np.ndarray:
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
    g = pool_geom(b, input_shape, pool_size, stride, padding)
    X, _ = _pool_input(b, g, X)
    out = np.empty((g.N, g.out_cols), dtype=X.dtype)
    run_chunks(lambda first, last: max_pool_rows(g, X[first:last], out[first:last]),
               split(g.N, _CHUNKS))
    return out


def max_pool_rows(g: Geom, X: np.ndarray, out: np.ndarray) -> None:
    """max_pool of the images X (some rows of a batch of geometry g) into out, in this thread:
    each image's result depends on that image alone, so any split of a batch gives its bits."""
    if native.enabled():
        native.max_pool(X, out, **_native_geometry(g, len(X)))
        return
    part = g.with_images(len(X))
    out[:] = _max_windows(part, _pool_planes(part, X, -np.finfo(X.dtype).max)
                          ).reshape(len(X), g.out_cols)


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

    One vectorised step per window offset, in row-major order: the cells at that
    offset that equal their window's maximum take the window's remaining gradient,
    which is then cleared so that later ties get nothing.
    """
    b = "max_pool_backward"
    g = pool_geom(b, input_shape, pool_size, stride, padding)
    X, dout = _pool_input(b, g, X, dout)
    return max_pool_backward_batch(g, X, dout)


def max_pool_backward_batch(g: Geom, X: np.ndarray, dout: np.ndarray,
                            signs: np.ndarray | None = None) -> np.ndarray:
    """max_pool_backward of a checked batch of geometry g, on ranges of images in parallel;
    times (signs > 0) when signs is given (see max_pool_backward_rows)."""
    dX = np.empty((g.N, g.in_cols), dtype=X.dtype)
    run_chunks(lambda first, last: max_pool_backward_rows(
        g, X[first:last], dout[first:last], dX[first:last],
        None if signs is None else signs[first:last]), split(g.N, _CHUNKS))
    return dX


def max_pool_backward_rows(g: Geom, X: np.ndarray, dout: np.ndarray, dX: np.ndarray,
                           signs: np.ndarray | None = None) -> None:
    """max_pool_backward of some rows of a batch of geometry g into dX, in this thread (per
    image, as max_pool_rows). Given signs (the input of a relu before the pool), the result is
    multiplied by (signs > 0), the relu's gradient: the native kernel does it as it writes."""
    if native.enabled():
        native.max_pool_backward(X, dout, dX, signs, **_native_geometry(g, len(X)))
        return
    dX[:] = _max_pool_backward_images(g.with_images(len(X)), X, dout)
    if signs is not None:
        np.multiply(dX, np.greater(signs, 0), out=dX)


def _max_pool_backward_images(g: Geom, X: np.ndarray, dout: np.ndarray) -> np.ndarray:
    xp = _pool_planes(g, X, -np.finfo(X.dtype).max)
    best = _max_windows(g, xp)
    if _tiles(g):
        return _max_pool_backward_tiled(g, X, dout, best)
    remaining = dout.reshape(g.N, g.C, g.Ho, g.Wo).copy()   # windows not yet placed
    dxp = np.zeros(xp.shape, dtype=X.dtype)
    hit = np.empty(best.shape, dtype=bool)
    # remaining * hit is the fast masked select, and remaining - remaining * hit clears
    # exactly; but it would turn an infinite dout into NaN, so those take np.where.
    place = _place_finite if np.isfinite(remaining).all() else _place_any
    disjoint = g.sh >= g.kh and g.sw >= g.kw      # every cell lies in one window at most
    K = g.kh * g.kw
    for k in range(K):
        rows, cols = offset_slice(g, *divmod(k, g.kw))
        np.equal(xp[:, :, rows, cols], best, out=hit)
        place(dxp[:, :, rows, cols], remaining, hit, disjoint, k < K - 1)
    if g.ph or g.pw:
        dxp = dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W]
    return dxp.reshape(g.N, g.in_cols)


def _max_pool_backward_tiled(g: Geom, X: np.ndarray, dout: np.ndarray, best: np.ndarray):
    """max_pool_backward when the windows tile the planes: one comparison of every cell with its
    window's maximum over the (N, C, Ho, kh, Wo*kw) view, then, only if some window has ties,
    one pass per offset keeping the first maximum. (The maximum and dout are widened along the
    columns first, so that numpy's inner loops run over whole plane rows, not over kw cells.)"""
    x5 = _tiled_view(g, X).reshape(g.N, g.C, g.Ho, g.kh, g.Wo * g.kw)
    hits = x5 == best.repeat(g.kw, axis=3)[:, :, :, None, :]
    if g.kh * g.kw > 1 and np.count_nonzero(hits) != best.size:
        h6 = hits.reshape(g.N, g.C, g.Ho, g.kh, g.Wo, g.kw)
        free = np.ones(best.shape, dtype=bool)         # window has not placed its gradient
        for i in range(g.kh):
            for j in range(g.kw):
                h = h6[:, :, :, i, :, j]
                h &= free
                free ^= h
    d5 = dout.reshape(g.N, g.C, g.Ho, g.Wo).repeat(g.kw, axis=3)[:, :, :, None, :]
    # hits * d5 is the fast masked select; it would turn an infinite dout into NaN where
    # hits is False, so non-finite douts take np.where.
    if np.isfinite(dout).all():
        grad = np.multiply(hits, d5)
    else:
        grad = np.where(hits, d5, X.dtype.type(0))
    return _untile(g, grad.reshape(g.N, g.C, g.Ho, g.kh, g.Wo, g.kw))


def _place_finite(target, remaining, hit, disjoint: bool, clear: bool) -> None:
    """target (+)= remaining where hit; then remaining = 0 there (finite gradients)."""
    if disjoint:
        np.multiply(remaining, hit, out=target)    # target is still all zero
        if clear:
            remaining -= target
    else:
        part = remaining * hit
        target += part
        if clear:
            remaining -= part


def _place_any(target, remaining, hit, disjoint: bool, clear: bool) -> None:
    """_place_finite for gradients that hold Inf or NaN."""
    target += np.where(hit, remaining, remaining.dtype.type(0))
    if clear:
        remaining[hit] = 0


def avg_pool(X, input_shape: Sequence[int], pool_size: Sequence[int],
             stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Mean over each pool window, per channel.

    SystemDS pads with zeros and always divides by pool_h*pool_w: padded cells
    count in the divisor (TF's "count_include_pad"). A 2x2 window with one real
    cell v in the corner gives v/4; a window wholly in the padding gives 0.
    """
    b = "avg_pool"
    g = pool_geom(b, input_shape, pool_size, stride, padding)
    X, _ = _pool_input(b, g, X)
    if not native.enabled():
        return np.ascontiguousarray(_avg_windows(g, X)).reshape(g.N, g.out_cols)
    X = np.ascontiguousarray(X)
    out = np.empty((g.N, g.out_cols), dtype=X.dtype)
    # the C kernel does numpy's operations in numpy's order, image by image
    run_chunks(lambda first, last: native.avg_pool(X[first:last], out[first:last],
                                                   **_native_geometry(g, last - first)),
               split(g.N, _CHUNKS))
    return out


def _avg_windows(g: Geom, X: np.ndarray) -> np.ndarray:
    """The mean of every pool window of the images X: (N, C, Ho, Wo).

    SystemDS's order of operations, so that results agree to the last bit even
    under cancellation: sum each window row left to right, scale it by
    1/(kh*kw), add the scaled rows top to bottom.
    """
    mult = X.dtype.type(1.0 / (g.kh * g.kw))
    if _tiles(g):
        t6 = _tiled_view(g, X)
        rows = [t6[:, :, :, i, :, 0].copy() for i in range(g.kh)]
        for i in range(g.kh):
            for j in range(1, g.kw):
                rows[i] += t6[:, :, :, i, :, j]
    else:
        xp = pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw)
        rows = []
        for i in range(g.kh):
            rs, cs = offset_slice(g, i, 0)
            row = xp[:, :, rs, cs].copy()
            for j in range(1, g.kw):
                rs, cs = offset_slice(g, i, j)
                row += xp[:, :, rs, cs]
            rows.append(row)
    out = rows[0]
    out *= mult
    for row in rows[1:]:
        row *= mult
        out += row
    return out


def avg_pool_backward(X, dout, input_shape: Sequence[int], pool_size: Sequence[int],
                      stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of avg_pool: every cell of a window receives dout / (pool_h*pool_w).

    As in the forward pass the divisor counts padded cells; the shares that fall on
    padding are dropped. X only fixes the dtype and is shape-checked.
    """
    b = "avg_pool_backward"
    g = pool_geom(b, input_shape, pool_size, stride, padding)
    X, dout = _pool_input(b, g, X, dout)
    if not native.enabled():
        return _avg_pool_backward_images(g, dout)
    dout = np.ascontiguousarray(dout)
    dX = np.empty((g.N, g.in_cols), dtype=X.dtype)
    run_chunks(lambda first, last: native.avg_pool_backward(
        dout[first:last], dX[first:last], **_native_geometry(g, last - first)),
        split(g.N, _CHUNKS))
    return dX


def _avg_pool_backward_images(g: Geom, dout: np.ndarray) -> np.ndarray:
    share = dout.reshape(g.N, g.C, g.Ho, g.Wo) * dout.dtype.type(1.0 / (g.kh * g.kw))
    if _tiles(g):
        t6 = np.broadcast_to(share[:, :, :, None, :, None],
                             (g.N, g.C, g.Ho, g.kh, g.Wo, g.kw))
        return _untile(g, t6)
    dxp = np.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=dout.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = offset_slice(g, i, j)
            dxp[:, :, rs, cs] += share
    if g.ph or g.pw:
        dxp = dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W]
    return np.ascontiguousarray(dxp).reshape(g.N, g.in_cols)
