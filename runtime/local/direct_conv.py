"""conv2d and its filter gradient as direct convolutions in native code, chunk by chunk.

The native kernels (native.py) read the im2col patch matrix straight from a zero-padded copy
of the images, so the patches (25x the images for 5x5 kernels) are never written out and the
product never waits on memory. Everything stays in DML's channel-major layout; what is left
here is the size of the images or the filters, not of the patches: each chunk of images is
copied into a padded scratch buffer (whole plane rows), and the filters are transposed and
padded to whole vectors. The kernels multiply only the kernel taps that fall on the image,
not on its zero padding (common.h's taps: the forward kernels per output pixel, the filter
gradient per kernel offset), so their geometry also names the padding and the image's size.
Stride-1 layers with few input channels run the row kernels (vectors of output pixels), the
others the channel kernels (vectors of filters). conv.py decides when
this path runs and keeps the numpy kernels that the tests hold it to; chunks are ranges of
images run on the worker threads, and filter-gradient parts are summed in chunk order, so
results do not depend on the thread count.

On AVX2 (the narrow version of the kernels, 16 registers) the direct forward convolution beats
im2col + BLAS only while a patch row is short: OpenBLAS packs its operands into cache-sized
panels, which the direct kernel does not, and a deep layer's weight strips (K x 4 vectors)
and patch rows then stream from the L2 cache. `applies` sends the other layers, the row kernels' layers
(their tiles are sized for AVX-512) and the filter gradient back to conv.py's numpy path. On
AVX-512 the same happens later: forward layers whose weights outgrow the L2 cache (the deep
3x3 layers of ResNets and VGGs) go back to im2col + BLAS too.
"""
from __future__ import annotations

import numpy as np

from . import native
from .geometry import Geom
from .parallel import run_chunks
from .scratch import scratch


# The deepest patch row (C*kh*kw) the narrow forward kernel takes: measured (channels last) on
# the real models' layers at batch 32 on a 2-core AVX2 EPYC under load, it runs 1.1-1.9x
# faster than im2col + BLAS on 3x3 over 32-80 channels, 5x5 over 48 and the stems, about as
# fast at 576-864, and 0.6x at 1,152 (3x3 over 128 channels).
_NARROW_DEPTH = 1024


# On AVX-512 (the wide version) the forward kernel streams the whole K x F weight matrix for
# every tile of output pixels; once it outgrows the L2 cache (2 MB per core on the Xeon it was
# measured on) im2col + BLAS, which packs it into panels, wins. Measured at batch 32: weights of
# 0.5-1.3 MB (3x3 over 80-192 channels, 1x7 over 192) run faster direct; 2.1 MB and more (3x3
# to 256-512 filters over 224-512 channels) faster, up to several times, as im2col + BLAS.
_WIDE_WEIGHT_BYTES = 3 << 19


def applies(g: Geom, forward: bool = True, itemsize: int = 4) -> bool:
    """Whether this layer's convolution (or its filter gradient, forward=False) should run here
    rather than as im2col + BLAS, given the version of the kernels the CPU runs and the size of
    a value (itemsize)."""
    depth = g.C * g.kh * g.kw
    if native.forced_on():
        return True
    if native.convolution_version() != native.NARROW:
        return not forward or _row_kernels(g) or depth * g.F * itemsize <= _WIDE_WEIGHT_BYTES
    return forward and not _row_kernels(g) and depth <= _NARROW_DEPTH


def _padded_width(count: int, dtype) -> int:
    lanes = native.lanes(dtype)
    return -(-count // lanes) * lanes


def _geometry(g: Geom, images: int, width: int, dtype, relu: bool = False) -> dict[str, int]:
    return dict(n=images, Hp=g.H + 2 * g.ph, Wp=_row_stride(g, dtype), C=g.C, kh=g.kh, kw=g.kw,
                sh=g.sh, sw=g.sw, Ho=g.Ho, Wo=g.Wo, Fp=width, F=g.F, relu=int(relu), ph=g.ph,
                pw=g.pw, H=g.H, W=g.W)


# The row kernels serve stride-1 convolutions of at most this many input channels: there a
# patch row is too short to fill the channel-vectorised kernels' tiles (LeNet's first layer).
_ROW_KERNEL_CHANNELS = 4


def _row_kernels(g: Geom) -> bool:
    return g.sh == 1 and g.sw == 1 and g.C <= _ROW_KERNEL_CHANNELS


def _row_stride(g: Geom, dtype) -> int:
    """Padded row length for the kernels: the row kernels' pairs of vectors may run past a
    row's end."""
    if not _row_kernels(g):
        return g.W + 2 * g.pw
    pair = 2 * native.lanes(dtype)
    return -(-g.Wo // pair) * pair + g.kw - 1


def pools_in_kernel(g: Geom, pool: Geom) -> bool:
    """Whether the convolution's kernels pool their results themselves, from their registers,
    so the full-size result need not be written to be pooled: the row kernels' layers, pooled
    2 x 2 with stride 2 and no padding (LeNet's first)."""
    return _row_kernels(g) and (pool.kh, pool.kw, pool.sh, pool.sw, pool.ph, pool.pw) == \
        (2, 2, 2, 2, 0, 0)


def _padded_images(g: Geom, X: np.ndarray, first: int, last: int) -> np.ndarray:
    """Images first..last-1 of X as (m, C, H+2ph, row stride), zero borders, in this thread's
    scratch (X itself when there is nothing to pad)."""
    m, ph, pw = last - first, g.ph, g.pw
    width = _row_stride(g, X.dtype)
    planes = X[first:last].reshape(m, g.C, g.H, g.W)
    if not ph and width == g.W:
        return np.ascontiguousarray(planes)
    xp = scratch("direct_images", (m, g.C, g.H + 2 * ph, width), X.dtype)
    native.pad_planes(np.ascontiguousarray(planes), xp, planes=m * g.C, H=g.H, W=g.W, ph=ph,
                      pw=pw, Hp=g.H + 2 * ph, Wp=width)
    return xp


def _filters_by_offset(g: Geom, W: np.ndarray, width: int) -> np.ndarray:
    """W (F x C*kh*kw) transposed to K x width, zero columns past F."""
    wt = np.zeros((g.C * g.kh * g.kw, width), dtype=W.dtype)
    wt[:, :g.F] = W.T
    return wt


# Channels last: the narrow version reads the images as (m, Hp, Wp, C). A kernel row i of a
# patch is then kw*C contiguous values, so the kernels see one channel of images Wp*C wide with
# kernels kw*C wide and a column stride of sw*C: the same kernel, a long contiguous inner loop
# instead of C*kh short ones, each on another cache line (16 registers leave no room to hide
# those misses). The weights follow: columns in (i, j, c) order.

def _channels_last(g: Geom, X: np.ndarray, first: int, last: int) -> np.ndarray:
    """Images first..last-1 of X as (m, H+2ph, W+2pw, C), zero borders, in this thread's
    scratch."""
    m, ph, pw = last - first, g.ph, g.pw
    xp = scratch("direct_channels_last", (m, g.H + 2 * ph, g.W + 2 * pw, g.C), X.dtype)
    if ph:
        xp[:, :ph] = 0
        xp[:, ph + g.H:] = 0
    if pw:
        xp[:, ph:ph + g.H, :pw] = 0
        xp[:, ph:ph + g.H, pw + g.W:] = 0
    xp[:, ph:ph + g.H, pw:pw + g.W] = X[first:last].reshape(m, g.C, g.H, g.W).transpose(0, 2, 3, 1)
    return xp


def _channels_last_geometry(g: Geom, images: int, width: int, relu: bool) -> dict[str, int]:
    return dict(n=images, Hp=g.H + 2 * g.ph, Wp=(g.W + 2 * g.pw) * g.C, C=1, kh=g.kh,
                kw=g.kw * g.C, sh=g.sh, sw=g.sw * g.C, Ho=g.Ho, Wo=g.Wo, Fp=width, F=g.F,
                relu=int(relu), ph=g.ph, pw=g.pw * g.C, H=g.H, W=g.W * g.C)


def _channels_last_filters(g: Geom, W: np.ndarray, width: int) -> np.ndarray:
    """W (F x C*kh*kw, columns (c, i, j)) as K x width with rows in (i, j, c) order."""
    by_offset = W.reshape(g.F, g.C, g.kh, g.kw).transpose(0, 2, 3, 1).reshape(g.F, -1)
    return _filters_by_offset(g, by_offset, width)


def _forward_chunk(g: Geom, X: np.ndarray, W: np.ndarray, out: np.ndarray | None,
                   channel_bias: np.ndarray | None, relu: bool, pooled: np.ndarray | None = None):
    """The function that writes out[first:last] (images x F x Ho*Wo) = conv2d(X, W) of images
    first..last-1, (+ channel_bias), through relu when `relu`, on the kernels this layer and
    CPU take; with `pooled` (the row kernels only: pools_in_kernel) also its 2 x 2 max pool
    into pooled[first:last], and out may be None."""
    dt = X.dtype
    if _row_kernels(g):
        bias = None if channel_bias is None else np.ascontiguousarray(channel_bias.ravel())
        W = np.ascontiguousarray(W)

        def chunk(first: int, last: int) -> None:
            native.row_conv_forward(_padded_images(g, X, first, last), W, bias,
                                    None if out is None else out[first:last],
                                    None if pooled is None else pooled[first:last],
                                    **_geometry(g, last - first, g.F, dt, relu))
        return chunk
    width = _padded_width(g.F, dt)
    bias = None
    if channel_bias is not None:
        bias = np.zeros(width, dtype=dt)
        bias[:g.F] = channel_bias.ravel()
    if native.convolution_version() == native.NARROW:
        wt = _channels_last_filters(g, W, width)

        def chunk(first: int, last: int) -> None:
            native.conv_forward(_channels_last(g, X, first, last), wt, bias, out[first:last],
                                **_channels_last_geometry(g, last - first, width, relu))
        return chunk
    wt = _filters_by_offset(g, W, width)

    def chunk(first: int, last: int) -> None:
        native.conv_forward(_padded_images(g, X, first, last), wt, bias, out[first:last],
                            **_geometry(g, last - first, width, dt, relu))
    return chunk


def conv2d(g: Geom, X: np.ndarray, W: np.ndarray, chunks: list[tuple[int, int]],
           channel_bias: np.ndarray | None = None, epilogue=None, relu: bool = False,
           pool=None, keep: bool = True) -> np.ndarray | None:
    """out (N x F*Ho*Wo) = conv2d(X, W) (+ channel_bias, 1 x F x 1), through relu as the
    kernels store it when `relu`, geometry g; then epilogue(first, last, chunk) on each chunk
    of images when given, and the max pool `pool` (conv.PoolInto) of the chunk: in the
    kernels where they take it (pools_in_kernel), which then leave out unwritten (None
    returned) unless `keep` (conv.conv2d)."""
    in_kernel = pool is not None and epilogue is None and pools_in_kernel(g, pool.geometry)
    if pool is not None and not in_kernel:
        epilogue = pool.after(epilogue)
    out = np.empty((g.N, g.F, g.Ho * g.Wo), dtype=X.dtype) if keep or not in_kernel else None
    convolve = _forward_chunk(g, X, W, out, channel_bias, relu,
                              pool.out.reshape(g.N, g.F, -1) if in_kernel else None)
    if epilogue is None:
        chunk = convolve
    else:
        def chunk(first: int, last: int) -> None:
            convolve(first, last)
            epilogue(first, last, out[first:last])
    run_chunks(chunk, chunks)
    return None if out is None else out.reshape(g.N, g.out_cols)


def conv2d_backward_filter(g: Geom, X: np.ndarray, dout: np.ndarray,
                           chunks: list[tuple[int, int]]) -> np.ndarray:
    """dW (F x C*kh*kw) = the gradient of conv2d(X, W) with respect to W, given dout."""
    dt = X.dtype
    rows = _row_kernels(g)
    width = g.F if rows else _padded_width(g.F, dt)
    kernel = native.row_conv_backward_filter if rows else native.conv_backward_filter

    def chunk(first: int, last: int) -> np.ndarray:
        part = np.zeros((g.F, g.C * g.kh * g.kw) if rows else (g.C * g.kh * g.kw, width), dtype=dt)
        geometry = _geometry(g, last - first, width, dt)
        if rows or not native.sparse_conv_backward_filter(np.ascontiguousarray(X[first:last]),
                                                          dout[first:last], part,
                                                          **geometry):
            kernel(_padded_images(g, X, first, last), dout[first:last], part, **geometry)
        return part
    parts = run_chunks(chunk, chunks)
    total = parts[0]
    for part in parts[1:]:                      # in chunk order: the same sum on any threads
        total += part
    return total if rows else np.ascontiguousarray(total[:, :g.F].T)


def sparse_data_gradient_applies(flipped: Geom, W: np.ndarray) -> bool:
    """Whether conv2d_backward_data (flipped: the flipped convolution that computes it, which
    conv.conv2d would run here) may visit only dout's nonzero values: with the wide channel
    kernels, whose sums it keeps bit for bit, and finite filters (0 * Inf is NaN in their
    sums)."""
    return (native.convolution_version() == native.WIDE and not _row_kernels(flipped)
            and bool(np.isfinite(W).all()))


def conv2d_backward_data(g: Geom, W: np.ndarray, dout: np.ndarray, flipped: Geom,
                         flipped_W: np.ndarray, chunks: list[tuple[int, int]]) -> np.ndarray:
    """dX (N x C*H*W) of the stride-1 layer g, as the flipped convolution (geometry flipped,
    filters flipped_W) computes it on the forward kernel; a chunk whose dout is mostly zeros
    (behind relu and max pooling) visits only its nonzero values instead: the same bits."""
    dt = dout.dtype
    out = np.empty((g.N, g.C, g.H * g.W), dtype=dt)
    dense = _forward_chunk(flipped, dout, flipped_W, out, None, False)
    channels = _padded_width(g.C, dt)
    by_pixel = np.zeros((g.F, g.kh, g.kw, channels), dtype=dt)
    by_pixel[..., :g.C] = W.reshape(g.F, g.C, g.kh, g.kw).transpose(0, 2, 3, 1)

    def chunk(first: int, last: int) -> None:
        if not native.sparse_conv_backward_data(by_pixel, dout[first:last], out[first:last],
                                                **_geometry(g, last - first, g.F, dt)):
            dense(first, last)
    run_chunks(chunk, chunks)
    return out.reshape(g.N, g.in_cols)
