"""1x1 convolutions (no padding) as plain matrix products, chunk by chunk.

A pointwise convolution (the second half of every SeparableConv2D, the projections of
Xception, MobileNet and ResNet blocks) has no patches: with a chunk of images laid out channel
by channel as C x (m*H*W) (every sh-th row and sw-th column of them, for strides), the layer
is one matrix product W @ X and its filter gradient one dout @ X^T. The direct kernels
(direct_conv.py) are built for spatial filters and few pixels per filter row; here BLAS runs
one large product per chunk instead (the deep layers of a small-input network have a few
pixels and hundreds of channels). conv.py sends these layers
here; chunks run on the worker threads, and gradient parts are summed in chunk order. A batch
of small maps, too few pixels to cut by images, is cut by blocks of filters instead.
"""
from __future__ import annotations

import numpy as np

from .geometry import Geom
from .parallel import run_chunks, split
from .scratch import scratch

# Chunks per call, whatever the thread count (sums must not depend on it); a chunk of fewer
# than _MIN_COLUMNS output pixels would make BLAS products too narrow to pay their set-up.
_CHUNKS = 4
_MIN_COLUMNS = 256
# Output pixels per image from which conv2d multiplies image by image (_per_image)
_PER_IMAGE_PIXELS = 128
# A batch of small maps (ResNet's and Inception's last stages: 3x3 or 1x1 pixels) is one
# product too narrow to cut by images; it is cut by filters instead, into this many blocks of at
# least _MIN_FILTERS (a fixed cut, whatever the thread count: the same bits on any machine),
# when it has _MIN_SPLIT_COLUMNS pixels at least (fewer: too little work to hand off).
_FILTER_BLOCKS = 4
_MIN_FILTERS = 32
_MIN_SPLIT_COLUMNS = 128


def applies(g: Geom) -> bool:
    return g.kh == g.kw == 1 and g.ph == g.pw == 0


def _image_chunks(g: Geom) -> list[tuple[int, int]]:
    pixels = g.Ho * g.Wo
    return split(g.N, max(1, min(_CHUNKS, g.N * pixels // _MIN_COLUMNS)))


def _pixels(g: Geom, X: np.ndarray, first: int, last: int) -> np.ndarray:
    """The input pixels the filters meet, images first..last-1, as C x (m*Ho*Wo) (scratch)."""
    planes = X[first:last].reshape(last - first, g.C, g.H, g.W)
    met = planes[:, :, ::g.sh, ::g.sw][:, :, :g.Ho, :g.Wo]
    out = scratch("pointwise_x", (g.C, last - first, g.Ho, g.Wo), X.dtype)
    np.copyto(out, met.transpose(1, 0, 2, 3))
    return out.reshape(g.C, -1)


def _outputs(g: Geom, dout: np.ndarray, first: int, last: int) -> np.ndarray:
    """Rows first..last-1 of dout as F x (m*Ho*Wo) (scratch)."""
    rows = dout[first:last].reshape(last - first, g.F, -1)
    out = scratch("pointwise_dout", (g.F, last - first, rows.shape[2]), dout.dtype)
    np.copyto(out, rows.transpose(1, 0, 2))
    return out.reshape(g.F, -1)


def _per_image(g: Geom) -> bool:
    """Whether one product per image (W @ the image's C x H*W plane, written straight into its
    output rows) beats one per chunk: it copies nothing, but a product of a few pixels' columns
    is too narrow for BLAS to run well (measured on ResNet50V2's and Xception's layers: 1.2-1.6x
    faster at 144 pixels and more, 0.5-0.8x at 36 and fewer)."""
    return g.sh == g.sw == 1 and g.Ho * g.Wo >= _PER_IMAGE_PIXELS


def _filter_blocks(g: Geom, image_chunks: list) -> list[tuple[int, int]]:
    """Ranges of filters to cut the product into: several only when the images are one chunk."""
    if len(image_chunks) > 1 or _per_image(g) or g.N * g.Ho * g.Wo < _MIN_SPLIT_COLUMNS:
        return [(0, g.F)]
    return split(g.F, max(1, min(_FILTER_BLOCKS, g.F // _MIN_FILTERS)))


def conv2d(g: Geom, X: np.ndarray, W: np.ndarray, channel_bias: np.ndarray | None,
           epilogue=None) -> np.ndarray:
    """out (N x F*Ho*Wo) = W (F x C) applied to each pixel's channels (+ channel_bias, 1 x F x 1),
    then epilogue(first, last, chunk) on each chunk of images when given (conv.conv2d)."""
    L = g.Ho * g.Wo
    out = np.empty((g.N, g.F, L), dtype=X.dtype)
    planes = X.reshape(g.N, g.C, g.H * g.W)
    images = _image_chunks(g)
    blocks = _filter_blocks(g, images)
    if len(blocks) > 1:
        return _by_filters(g, _pixels(g, X, 0, g.N), W, channel_bias, epilogue, out, blocks)

    def chunk(first: int, last: int) -> None:
        if _per_image(g):
            np.matmul(W, planes[first:last], out=out[first:last])
        else:
            product = scratch("pointwise_product", (g.F, (last - first) * L), X.dtype)
            np.matmul(W, _pixels(g, X, first, last), out=product)
            out[first:last] = product.reshape(g.F, last - first, L).transpose(1, 0, 2)
        if channel_bias is not None:
            out[first:last] += channel_bias
        if epilogue is not None:
            epilogue(first, last, out[first:last])
    run_chunks(chunk, images)
    return out.reshape(g.N, g.out_cols)


def _by_filters(g: Geom, pixels: np.ndarray, W: np.ndarray, channel_bias: np.ndarray | None,
                epilogue, out: np.ndarray, blocks: list[tuple[int, int]]) -> np.ndarray:
    """conv2d of the whole batch (pixels: C x N*Ho*Wo) as one product per block of filters."""
    L = g.Ho * g.Wo

    def block(first: int, last: int) -> None:
        product = scratch("pointwise_product", (last - first, g.N * L), out.dtype)
        np.matmul(W[first:last], pixels, out=product)
        rows = out[:, first:last]
        rows[...] = product.reshape(last - first, g.N, L).transpose(1, 0, 2)
        if channel_bias is not None:
            rows += channel_bias[:, first:last]
    run_chunks(block, blocks)
    if epilogue is not None:
        epilogue(0, g.N, out)
    return out.reshape(g.N, g.out_cols)


def conv2d_backward_filter(g: Geom, X: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """dW (F x C): the sum over images and output pixels of dout's channels times the
    channels of the input pixels they came from."""
    def chunk(first: int, last: int) -> np.ndarray:
        return _outputs(g, dout, first, last) @ _pixels(g, X, first, last).T
    parts = run_chunks(chunk, _image_chunks(g))
    total = parts[0]
    for part in parts[1:]:                      # in chunk order: the same sum on any threads
        total += part
    return total
