"""conv2d and its two gradients as matrix products over im2col patches, chunk by chunk.

The patches of a batch ("im2col") form a (C*Hf*Wf) x (N*Hout*Wout) matrix: row (c, i, j)
holds, for every image n and output cell (y, x), the padded input Xpad[n, c, y*sh + i, x*sw + j].
All three passes are one matrix product each over it:

    conv2d:                 out  = W @ cols                  (F x N*L, L = Hout*Wout)
    conv2d_backward_filter: dW^T = cols @ dout_cm^T          (dout_cm: dout as F x N*L)
    conv2d_backward_data:   with stride 1, conv2d of dout with the flipped filters;
                            otherwise dcols = W^T @ dout_cm, then col2im adds each kernel
                            offset's plane back into the padded image (one add per offset)

The patch matrix is Hf*Wf times larger than the images (25x for 5x5 kernels, 60 MB for the
second LeNet convolution in float32), so it is never built whole: the batch is cut into chunks
of images whose patches take about _CHUNK_BYTES, and each chunk is copied from a strided view
(no copy until then) into a reused scratch buffer and consumed by its product while it is still
in cache. Chunks are independent and run on the worker threads of parallel.py. The only Python
loops run over chunks and over kernel offsets (col2im).

When the native kernels are built (native.py), conv2d and its filter gradient run as direct
convolutions instead where the CPU runs them fast (direct_conv.py: the same chunks, no patch
matrix; direct_conv.applies says which layers), and so does the stride-1 data gradient through
the flipped convolution; these numpy versions stay the reference that the tests hold them to,
and the path for everything the native ones skip. With them, unpadded 1x1 convolutions go to
pointwise.py (one BLAS product per chunk), and one filter over one channel to the depthwise
kernels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import depthwise, direct_conv, native, pointwise
from .geometry import Geom, conv_geom, float_dtype, offset_slice, pad
from .parallel import run_chunks
from .pooling import max_pool_rows
from .scratch import scratch

# Patches per chunk, in bytes. Large enough that each product is a big, efficient GEMM (a few
# thousand columns), small enough that the chunk stays in the last-level cache.
_CHUNK_BYTES = 8 << 20
# At least this many chunks (batch permitting), so that every worker gets some; a constant, not
# the worker count, so that the chunks and hence the sums are the same on any machine.
_MIN_CHUNKS = 8


# ... but no chunk smaller than this (unless the batch is): the deep layers of a small input
# (DenseNet's 3x3 convolutions over 1x1 to 4x4 maps) are a few hundred microseconds of work,
# which 8 hand-offs and 8 small products made several times slower.
_MIN_CHUNK_BYTES = 1 << 20


def _chunks(g: Geom, itemsize: int) -> list[tuple[int, int]]:
    """Ranges of images whose patches take about _CHUNK_BYTES, at least _MIN_CHUNKS of them
    where each still has _MIN_CHUNK_BYTES."""
    per_image = max(g.C * g.kh * g.kw * g.Ho * g.Wo * itemsize, 1)
    step = max(1, min(_CHUNK_BYTES // per_image, -(-g.N // _MIN_CHUNKS)),
               _MIN_CHUNK_BYTES // per_image)
    return [(first, min(g.N, first + step)) for first in range(0, g.N, step)]


def _patches(g: Geom, X: np.ndarray) -> np.ndarray:
    """The (C, kh, kw, N, Ho, Wo) strided view [c, i, j, n, y, x] = Xpad[n, c, y*sh + i, x*sw + j]."""
    xp = pad(X.reshape(g.N, g.C, g.H, g.W), g.ph, g.pw)
    windows = sliding_window_view(xp, (g.kh, g.kw), axis=(2, 3))[:, :, ::g.sh, ::g.sw]
    return windows.transpose(1, 4, 5, 0, 2, 3)


def _im2col(g: Geom, patches: np.ndarray, first: int, last: int) -> np.ndarray:
    """The (C*kh*kw) x (m*Ho*Wo) patch matrix of images first..last-1, in this thread's
    scratch buffer (the next chunk overwrites it)."""
    cols = scratch("im2col", (g.C, g.kh, g.kw, last - first, g.Ho, g.Wo), patches.dtype)
    np.copyto(cols, patches[:, :, :, first:last])
    return cols.reshape(g.C * g.kh * g.kw, -1)


def _channel_major(g: Geom, dout: np.ndarray, first: int, last: int) -> np.ndarray:
    """Rows first..last-1 of dout (N x F*L) as F x (m*L), the column order of _im2col."""
    L = g.Ho * g.Wo
    out = scratch("dout", (g.F, last - first, L), dout.dtype)
    np.copyto(out, dout[first:last].reshape(last - first, g.F, L).transpose(1, 0, 2))
    return out.reshape(g.F, -1)


@dataclass(frozen=True)
class PoolInto:
    """A max pool of the convolution's result (geometry: its pool geometry over the batch)
    written into out (N x pooled columns) chunk by chunk, while each chunk is in cache."""
    geometry: Geom
    out: np.ndarray

    def after(self, epilogue):
        """An epilogue that runs `epilogue` (when given), then pools the chunk."""
        def run(first: int, last: int, chunk: np.ndarray) -> None:
            if epilogue is not None:
                epilogue(first, last, chunk)
            max_pool_rows(self.geometry, chunk.reshape(last - first, -1), self.out[first:last])
        return run


def conv2d(X, W, input_shape: Sequence[int], filter_shape: Sequence[int],
           stride: Sequence[int], padding: Sequence[int], bias=None,
           epilogue=None, relu: bool = False, pool: PoolInto | None = None,
           keep: bool = True) -> np.ndarray | None:
    """Cross-correlation of each image with each filter (no kernel flip), zero padding.

    out[n, f, y, x] = sum_{c,i,j} Xpad[n, c, y*sh + i, x*sw + j] * W[f, c, i, j]  (+ bias[f])

    A bias (F x 1, of the result's dtype) is added chunk by chunk while the chunk is still in
    cache: the same bits as bias_add on the result, without its pass over memory. With `relu`
    the result is relu's (numpy's maximum with 0, bit for bit), applied by the direct kernels
    as they store each value, by the other paths on each chunk while it is in cache. Then
    epilogue(first, last, chunk), when given, is called on each chunk of images' results
    (first..last-1, an images x F x Ho*Wo view) once it is complete, and `pool` pools it. Where
    the kernels pool from their registers (direct_conv.pools_in_kernel) and the caller does not
    `keep` the result, None is returned and the result is never written.

    SystemDS refuses (and so do we): nrow(X) != N, ncol(X) != C*H*W,
    ncol(W) != C*Hf*Wf, a padded image smaller than the filter, negative padding,
    stride 0. A stride that does not divide H + 2*ph - Hf drops the remainder.
    """
    b = "conv2d"
    g = conv_geom(b, input_shape, filter_shape, stride, padding)
    dt = float_dtype(X, W)
    X = g.input(X, dt)
    W = g.filter(W, dt)
    channel_bias = None if bias is None else np.asarray(bias, dtype=dt).reshape(1, g.F, 1)
    if _runs_direct(g, dt.itemsize):
        return direct_conv.conv2d(g, X, W, _chunks(g, dt.itemsize), channel_bias, epilogue, relu,
                                  pool, keep)
    plain = _relu_then(epilogue) if relu else epilogue     # for kernels that store no relu
    if pool is not None:
        plain = pool.after(plain)
    if native.enabled() and pointwise.applies(g):
        return pointwise.conv2d(g, X, W, channel_bias, plain)
    if native.enabled() and g.C == g.F == 1:
        # one filter over single planes (a per-plane filter, as a DML body may write one):
        # a depthwise convolution, whose kernels run over planes without any patches
        bias = np.zeros((1, 1), dt) if channel_bias is None else channel_bias.reshape(1, 1)
        return _finished(depthwise.forward(g, X, W, bias), g, plain)
    L = g.Ho * g.Wo
    out = np.empty((g.N, g.F, L), dtype=dt)
    patches = _patches(g, X)

    def chunk(first: int, last: int) -> None:
        cols = _im2col(g, patches, first, last)
        product = scratch("product", (g.F, cols.shape[1]), dt)
        np.matmul(W, cols, out=product)
        out[first:last] = product.reshape(g.F, last - first, L).transpose(1, 0, 2)
        if channel_bias is not None:
            out[first:last] += channel_bias
        if plain is not None:
            plain(first, last, out[first:last])
    run_chunks(chunk, _chunks(g, dt.itemsize))
    return out.reshape(g.N, g.out_cols)


def _relu_then(epilogue):
    """A chunk's relu (numpy's maximum with 0, in place), then `epilogue`: for the paths whose
    kernels cannot apply the relu as they store."""
    def run(first: int, last: int, chunk: np.ndarray) -> None:
        np.maximum(chunk, chunk.dtype.type(0), out=chunk)
        if epilogue is not None:
            epilogue(first, last, chunk)
    return run


def _finished(out: np.ndarray, g, epilogue) -> np.ndarray:
    """A result computed whole, given to the epilogue as one chunk."""
    if epilogue is not None:
        epilogue(0, g.N, out.reshape(g.N, g.F, g.Ho * g.Wo))
    return out


def conv2d_backward_filter(X, dout, input_shape: Sequence[int], filter_shape: Sequence[int],
                           stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of conv2d with respect to the filter: an F x (C*Hf*Wf) matrix."""
    b = "conv2d_backward_filter"
    g = conv_geom(b, input_shape, filter_shape, stride, padding)
    dt = float_dtype(X, dout)
    X = g.input(X, dt)
    dout = g.dout(dout, dt)
    if native.enabled() and pointwise.applies(g):
        return pointwise.conv2d_backward_filter(g, X, dout)
    if native.convolutions_enabled() and direct_conv.applies(g, forward=False, itemsize=dt.itemsize):
        return direct_conv.conv2d_backward_filter(g, X, dout, _chunks(g, dt.itemsize))
    patches = _patches(g, X)

    # Computed transposed, cols @ dout_cm^T: OpenBLAS runs this shape (a long inner dimension,
    # a small output) markedly faster than dout_cm @ cols^T, in both precisions.
    def chunk(first: int, last: int) -> np.ndarray:
        return _im2col(g, patches, first, last) @ _channel_major(g, dout, first, last).T
    parts = run_chunks(chunk, _chunks(g, dt.itemsize))
    dWt = parts[0]
    for part in parts[1:]:                      # in chunk order: the same sum on any threads
        dWt += part
    return np.ascontiguousarray(dWt.T)


def conv2d_backward_data(W, dout, input_shape: Sequence[int], filter_shape: Sequence[int],
                         stride: Sequence[int], padding: Sequence[int]) -> np.ndarray:
    """Gradient of conv2d with respect to the input: an N x (C*H*W) matrix."""
    b = "conv2d_backward_data"
    g = conv_geom(b, input_shape, filter_shape, stride, padding)
    dt = float_dtype(W, dout)
    W = g.filter(W, dt)
    dout = g.dout(dout, dt)
    if _as_convolution(g):
        return _flipped_convolution(g, W, dout)
    dxp = np.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=dt)

    def chunk(first: int, last: int) -> None:
        dcols = scratch("im2col", (g.C * g.kh * g.kw, (last - first) * g.Ho * g.Wo), dt)
        np.matmul(W.T, _channel_major(g, dout, first, last), out=dcols)
        _col2im_add(g, dcols, dxp[first:last])
    run_chunks(chunk, _chunks(g, dt.itemsize))
    if g.ph or g.pw:
        dxp = np.ascontiguousarray(dxp[:, :, g.ph:g.ph + g.H, g.pw:g.pw + g.W])
    return dxp.reshape(g.N, g.in_cols)


# One strided add of col2im costs about as much as this many strided copies of im2col
# (an add reads its target too, and numpy runs it over short rows); measured on LeNet's shapes.
_ADD_PER_COPY = 3


def _as_convolution(g: Geom) -> bool:
    """With stride 1, the data gradient is a convolution of dout (zero padded by kh-1-ph rows,
    kw-1-pw columns) with the flipped filters, channels swapped. Its im2col copies F*kh*kw rows
    where col2im adds C*kh*kw; it pays when F is not much larger than C."""
    return (g.sh == 1 and g.sw == 1 and g.ph < g.kh and g.pw < g.kw
            and g.F <= _ADD_PER_COPY * g.C)


def _flipped_convolution(g: Geom, W: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """dX[n, c] = sum_f full-correlation of dout[n, f] with W[f, c] rotated by 180 degrees.
    On the direct kernels, chunks of a dout that is mostly zeros visit only its nonzero values
    (direct_conv.conv2d_backward_data), with the same bits."""
    flipped = W.reshape(g.F, g.C, g.kh, g.kw)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    flipped = np.ascontiguousarray(flipped).reshape(g.C, g.F * g.kh * g.kw)
    shapes = ([g.N, g.F, g.Ho, g.Wo], [g.C, g.F, g.kh, g.kw], [1, 1],
              [g.kh - 1 - g.ph, g.kw - 1 - g.pw])
    fg = conv_geom("conv2d", *shapes)
    itemsize = dout.dtype.itemsize
    if (_runs_direct(fg, itemsize) and direct_conv.sparse_data_gradient_applies(fg, W)):
        return direct_conv.conv2d_backward_data(g, W, np.ascontiguousarray(dout), fg, flipped,
                                                _chunks(fg, itemsize))
    return conv2d(dout, flipped, *shapes)


def _runs_direct(g: Geom, itemsize: int) -> bool:
    """Whether conv2d runs this layer on the direct kernels (its first paths take the others)."""
    return (native.convolutions_enabled() and not pointwise.applies(g) and not g.C == g.F == 1
            and direct_conv.applies(g, itemsize=itemsize))


def _col2im_add(g: Geom, dcols: np.ndarray, dxp: np.ndarray) -> None:
    """Adds the patch gradients dcols ((C*kh*kw) x (m*Ho*Wo)) into the padded planes dxp
    (m, C, Hp, Wp): kernel offset (i, j) of output cell (y, x) lands on (y*sh + i, x*sw + j)."""
    m = dxp.shape[0]
    d6 = dcols.reshape(g.C, g.kh, g.kw, m, g.Ho, g.Wo)
    target = dxp.transpose(1, 0, 2, 3)
    for i in range(g.kh):
        for j in range(g.kw):
            rows, cols = offset_slice(g, i, j)
            target[:, :, rows, cols] += d6[:, i, j]
