"""Depthwise 2-D convolution and its two gradients, on whole batches: the kernels behind
dml_lib's conv2d_depthwise layer (runtime/intrinsics.py calls them in place of its DML loop
over channels, which makes one conv2d call per channel).

Layout as in conv2d_depthwise.dml: X is N x (C*H*W) channels first; the filters W are
(C*M) x (kh*kw), row c*M + m holding channel c's m-th kernel (M = depth multiplier); the output
is N x (C*M*Ho*Wo), output channel c*M + m being input channel c convolved with that kernel.
Geometry is a Geom (geometry.py) whose F is C*M; padding is symmetric (ph rows above and below,
pw columns left and right), as the builtins take it.

The numpy versions (sliding-window views and einsum) are the reference; where the native
kernels are built (native.py, native/depthwise_kernels.h) they do the work on ranges of planes
on the worker threads. Filter-gradient parts are summed in chunk order, and the chunks depend
on the sizes only, so results do not depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import native
from .geometry import Geom, offset_slice, pad
from .parallel import run_chunks, split

# Planes per chunk: enough work per native call (a few hundred microseconds) to pay its
# hand-off to a worker; at most _MAX_CHUNKS chunks, each with its own filter-gradient part.
_CHUNK_CELLS = 1 << 16
_MAX_CHUNKS = 16


def _plane_chunks(g: Geom) -> list[tuple[int, int]]:
    planes = g.N * g.C
    work = planes * (g.F // g.C) * g.Ho * g.Wo * g.kh * g.kw
    return split(planes, min(_MAX_CHUNKS, max(1, work // _CHUNK_CELLS)))


def _native_geometry(g: Geom, first: int, last: int) -> dict[str, int]:
    return dict(planes=last - first, first=first, C=g.C, H=g.H, W=g.W, M=g.F // g.C,
                kh=g.kh, kw=g.kw, sh=g.sh, sw=g.sw, ph=g.ph, pw=g.pw, Ho=g.Ho, Wo=g.Wo)


def _windows(g: Geom, X: np.ndarray) -> np.ndarray:
    """(N, C, Ho, Wo, kh, kw) view: [n, c, y, x, i, j] = Xpad[n, c, y*sh + i, x*sw + j]."""
    xp = pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw)
    return sliding_window_view(xp, (g.kh, g.kw), axis=(2, 3))[:, :, ::g.sh, ::g.sw]


def _kernels(g: Geom, W: np.ndarray) -> np.ndarray:
    return W.reshape(g.C, g.F // g.C, g.kh, g.kw)


def forward(g: Geom, X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """out = the depthwise convolution of X with W, plus b ((C*M) x 1) per output channel."""
    if native.enabled():
        planes, M, L = g.N * g.C, g.F // g.C, g.Ho * g.Wo
        out = np.empty((planes * M, L), dtype=X.dtype)
        X = np.ascontiguousarray(X).reshape(planes, -1)
        W, bias = np.ascontiguousarray(W), np.ascontiguousarray(b)

        def chunk(first: int, last: int) -> None:
            native.depthwise_forward(X[first:last], W, bias,
                                     out[first * M:last * M], **_native_geometry(g, first, last))
        run_chunks(chunk, _plane_chunks(g))
        return out.reshape(g.N, g.out_cols)
    out = np.einsum("ncyxij,cmij->ncmyx", _windows(g, X), _kernels(g, W), optimize=True)
    out = out.reshape(g.N, g.F, g.Ho * g.Wo) + b.reshape(1, g.F, 1)
    return out.reshape(g.N, g.out_cols)


def backward_data(g: Geom, W: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """dX (N x C*H*W): the gradient of the depthwise convolution with respect to X."""
    if native.enabled():
        planes, M = g.N * g.C, g.F // g.C
        dx = np.empty((planes, g.H * g.W), dtype=dout.dtype)
        W, rows = np.ascontiguousarray(W), np.ascontiguousarray(dout).reshape(planes * M, -1)
        run_chunks(lambda first, last: native.depthwise_backward_data(
            W, rows[first * M:last * M], dx[first:last], **_native_geometry(g, first, last)),
            _plane_chunks(g))
        return dx.reshape(g.N, g.in_cols)
    d5 = dout.reshape(g.N, g.C, g.F // g.C, g.Ho, g.Wo)
    kernels = _kernels(g, W)
    dxp = np.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=dout.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            rows, cols = offset_slice(g, i, j)
            dxp[:, :, rows, cols] += np.einsum("ncmyx,cm->ncyx", d5, kernels[:, :, i, j])
    dx = dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W]
    return np.ascontiguousarray(dx).reshape(g.N, g.in_cols)


def backward_filter(g: Geom, X: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """dW ((C*M) x kh*kw): the gradient of the depthwise convolution with respect to W."""
    if native.enabled():
        planes, M = g.N * g.C, g.F // g.C
        X = np.ascontiguousarray(X).reshape(planes, -1)
        rows = np.ascontiguousarray(dout).reshape(planes * M, -1)

        def chunk(first: int, last: int) -> np.ndarray:
            part = np.zeros((g.F, g.kh * g.kw), dtype=X.dtype)
            native.depthwise_backward_filter(X[first:last], rows[first * M:last * M], part,
                                             **_native_geometry(g, first, last))
            return part
        parts = run_chunks(chunk, _plane_chunks(g))
        total = parts[0]
        for part in parts[1:]:                  # in chunk order: the same sum on any threads
            total += part
        return total
    d5 = dout.reshape(g.N, g.C, g.F // g.C, g.Ho, g.Wo)
    dw = np.einsum("ncyxij,ncmyx->cmij", _windows(g, X), d5, optimize=True)
    return np.ascontiguousarray(dw).reshape(g.F, g.kh * g.kw)
