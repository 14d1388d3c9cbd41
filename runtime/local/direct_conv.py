"""conv2d and its filter gradient as direct convolutions in native code, chunk by chunk.

The native kernels (native.py) read the im2col patch matrix straight from a zero-padded copy
of the images, so the patches (25x the images for 5x5 kernels) are never written out and the
product never waits on memory. Everything stays in DML's channel-major layout; what is left
here is the size of the images or the filters, not of the patches: each chunk of images is
copied into a padded scratch buffer (whole plane rows), and the filters are transposed and
padded to whole vectors. conv.py decides when this path runs and keeps the
numpy kernels that the tests hold it to; chunks are ranges of images run on the worker threads,
filter-gradient parts are summed in chunk order, so results do not depend on the thread count.
"""
from __future__ import annotations

import numpy as np

from . import native
from .geometry import Geom
from .parallel import run_chunks
from .scratch import scratch


def _padded_width(count: int, dtype) -> int:
    lanes = native.lanes(dtype)
    return -(-count // lanes) * lanes


def _geometry(g: Geom, images: int, width: int) -> dict[str, int]:
    return dict(n=images, Hp=g.H + 2 * g.ph, Wp=g.W + 2 * g.pw, C=g.C, kh=g.kh, kw=g.kw,
                sh=g.sh, sw=g.sw, Ho=g.Ho, Wo=g.Wo, Fp=width, F=g.F)


def _padded_images(g: Geom, X: np.ndarray, first: int, last: int) -> np.ndarray:
    """Images first..last-1 of X as (m, C, H+2ph, W+2pw), zero borders, in this thread's
    scratch (X itself when there is no padding)."""
    m, ph, pw = last - first, g.ph, g.pw
    planes = X[first:last].reshape(m, g.C, g.H, g.W)
    if not ph and not pw:
        return np.ascontiguousarray(planes)
    xp = scratch("direct_images", (m, g.C, g.H + 2 * ph, g.W + 2 * pw), X.dtype)
    if ph:
        xp[:, :, :ph] = 0
        xp[:, :, ph + g.H:] = 0
    if pw:
        xp[:, :, ph:ph + g.H, :pw] = 0
        xp[:, :, ph:ph + g.H, pw + g.W:] = 0
    xp[:, :, ph:ph + g.H, pw:pw + g.W] = planes
    return xp


def _filters_by_offset(g: Geom, W: np.ndarray, width: int) -> np.ndarray:
    """W (F x C*kh*kw) transposed to K x width, zero columns past F."""
    wt = np.zeros((g.C * g.kh * g.kw, width), dtype=W.dtype)
    wt[:, :g.F] = W.T
    return wt


def conv2d(g: Geom, X: np.ndarray, W: np.ndarray, chunks: list[tuple[int, int]],
           channel_bias: np.ndarray | None = None) -> np.ndarray:
    """out (N x F*Ho*Wo) = conv2d(X, W) (+ channel_bias, 1 x F x 1), geometry g."""
    dt, L = X.dtype, g.Ho * g.Wo
    width = _padded_width(g.F, dt)
    wt = _filters_by_offset(g, W, width)
    bias = None
    if channel_bias is not None:
        bias = np.zeros(width, dtype=dt)
        bias[:g.F] = channel_bias.ravel()
    out = np.empty((g.N, g.F, L), dtype=dt)

    def chunk(first: int, last: int) -> None:
        native.conv_forward(_padded_images(g, X, first, last), wt, bias, out[first:last],
                            **_geometry(g, last - first, width))
    run_chunks(chunk, chunks)
    return out.reshape(g.N, g.out_cols)


def conv2d_backward_filter(g: Geom, X: np.ndarray, dout: np.ndarray,
                           chunks: list[tuple[int, int]]) -> np.ndarray:
    """dW (F x C*kh*kw) = the gradient of conv2d(X, W) with respect to W, given dout."""
    dt, L = X.dtype, g.Ho * g.Wo
    width = _padded_width(g.F, dt)

    def chunk(first: int, last: int) -> np.ndarray:
        part = np.zeros((g.kh * g.kw * g.C, width), dtype=dt)
        native.conv_backward_filter(_padded_images(g, X, first, last), dout[first:last], part,
                                    **_geometry(g, last - first, width))
        return part
    parts = run_chunks(chunk, chunks)
    total = parts[0]
    for part in parts[1:]:                      # in chunk order: the same sum on any threads
        total += part
    return np.ascontiguousarray(total[:, :g.F].T)
