"""conv2d and its filter gradient as direct convolutions in native code, chunk by chunk.

The native kernels (native.py) read the im2col patch matrix straight from a zero-padded NHWC
copy of the images, so the patches (25x the images for 5x5 kernels) are never written out and
the product never waits on memory. What stays here is layout work, all of it the size of the
images, not of their patches: each chunk of images is copied into a padded NHWC scratch buffer,
the filters are reordered to rows (i, j, c) and padded to whole vectors, and the filter gradient
goes back to DML's layout (F x C*Hf*Wf); the kernels read and write outputs and output
gradients in DML's layout themselves. conv.py decides when this path runs and keeps the
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
    """Images first..last-1 of X as (m, H+2ph, W+2pw, C), zero borders, in this thread's scratch."""
    m, ph, pw = last - first, g.ph, g.pw
    xp = scratch("direct_images", (m, g.H + 2 * ph, g.W + 2 * pw, g.C), X.dtype)
    if ph:
        xp[:, :ph] = 0
        xp[:, ph + g.H:] = 0
    if pw:
        xp[:, ph:ph + g.H, :pw] = 0
        xp[:, ph:ph + g.H, pw + g.W:] = 0
    planes = X[first:last].reshape(m, g.C, g.H, g.W)
    xp[:, ph:ph + g.H, pw:pw + g.W] = planes.transpose(0, 2, 3, 1)
    return xp


def _filters_by_offset(g: Geom, W: np.ndarray, width: int) -> np.ndarray:
    """W (F x C*kh*kw) as K x width, rows in (i, j, c) order, zero columns past F."""
    wt = np.zeros((g.kh * g.kw * g.C, width), dtype=W.dtype)
    wt[:, :g.F] = W.reshape(g.F, g.C, g.kh, g.kw).transpose(2, 3, 1, 0).reshape(-1, g.F)
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
    by_offset = total[:, :g.F].reshape(g.kh, g.kw, g.C, g.F)
    return np.ascontiguousarray(by_offset.transpose(3, 2, 0, 1)).reshape(g.F, -1)
