"""Conv2DTranspose: every input pixel spreads a kh x kw patch onto the output channels
(steps_image.py runs Conv1DTranspose on it).

DML layout: kernel (C, F*kh*kw) from Keras (kh, kw, F, C), C = the input channels; bias (F, 1).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..backend.step import Step, Unsupported, image, known, zeros
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Pad2D
from ..opdef import Weight, as_column, define, f64
from .activations import fused_activation
from .conv import conv_common, conv_weights
from .shaping import bias, known_size, last_dim, require_rank
from .axes import channels_first


@dataclass(frozen=True)
class Conv2DTranspose:
    """(H, W, C) -> (H', W', filters). kernel (kh, kw, filters, C), bias (filters,).

    The full transposed convolution has (H-1)*sh + kh rows; `padding` is what is cropped from each
    side of it (a negative amount appends that many zero rows/columns, which happens for "valid"
    when the kernel is smaller than the stride). output_padding is Keras' attribute, already
    accounted for in `padding` once resolved.
    """
    filters: int
    kernel: tuple
    strides: tuple = (1, 1)
    padding: Pad2D = Pad2D()
    use_bias: bool = True
    output_padding: tuple | None = None


@handles("Conv2DTranspose")
@channels_first
def conv2d_transpose(ctx: LayerContext) -> list:
    """Conv2DTranspose(filters, kernel_size, strides, padding valid/same, output_padding)."""
    return transposed_convolution(ctx, 2, Conv2DTranspose, "conv2d_transpose")


def transposed_convolution(ctx: LayerContext, rank: int, attrs_class, op: str) -> list:
    """The node of a Conv2D/3DTranspose layer: its filters, kernel, strides, padding,
    output_padding, bias and fused activation."""
    kernel, strides, padding = conv_common(ctx, rank)
    output_padding = ctx.get("output_padding", None)
    if output_padding is not None:
        output_padding = ctx.ints("output_padding", rank)
    weights = conv_weights(ctx, "kernel")
    attrs = attrs_class(int(ctx.get("filters")), kernel, strides, padding, "bias" in weights,
                        output_padding)
    return [ctx.node(op, attrs, tuple(weights.values()), activation=fused_activation(ctx))]


def conv2d_transpose_kernel(kernel: np.ndarray, site=None) -> np.ndarray:
    """(kh, kw, F, C) -> (C, F*kh*kw): row c spreads input channel c onto the F output channels."""
    return f64(np.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[3], -1))


def transpose_dim(node, size, kernel, stride, padding, extra):
    """(crop before, crop after, output size) of one axis of a transposed convolution."""
    size = known_size(node, size, "input size")
    full = (size - 1) * stride + kernel
    if extra is None:
        out = size * stride + max(kernel - stride, 0) if padding == "valid" else size * stride
    else:
        out = full - 2 * (kernel // 2 if padding == "same" else 0) + extra
    total = full - out
    before = 0 if padding == "valid" else max(total, 0) // 2
    return before, total - before, out


def _shape(node, attrs, ins):
    shape = ins[0]
    require_rank(node, shape, 3, "(height, width, channels)")
    if isinstance(attrs.padding, Pad2D):
        p = attrs.padding
        out = tuple((shape[i] - 1) * attrs.strides[i] + attrs.kernel[i] - a - b
                    for i, (a, b) in enumerate(((p.top, p.bottom), (p.left, p.right))))
        return attrs, (*out, attrs.filters)
    extra = attrs.output_padding or (None, None)
    rows, cols = (transpose_dim(node, shape[i], attrs.kernel[i], attrs.strides[i],
                                attrs.padding, extra[i] if attrs.output_padding else None)
                  for i in range(2))
    padding = Pad2D(rows[0], rows[1], cols[0], cols[1])
    return dataclasses.replace(attrs, padding=padding), (rows[2], cols[2], attrs.filters)


def _params(a, ins) -> dict:
    return {"kernel": (*a.kernel, a.filters, last_dim(ins)), **bias(a.use_bias, a.filters)}


def _context(n: Step) -> dict:
    """Keras' crop of the full output: symmetric -> the library's padh/padw; rows to append
    (negative amounts, "valid" with kernel < stride) -> out_padh/out_padw; otherwise the full
    output is cropped with zero_pad2d::crop."""
    c, h, w = image(known(n.in_shape, "image size"))
    (kh, kw), (sh, sw) = n.attrs.kernel, n.attrs.strides
    p = n.attrs.padding
    top, bottom, left, right = p.top, p.bottom, p.left, p.right
    if top < 0 or left < 0:
        raise Unsupported("padding", n.attrs.padding, "no extra rows above or columns left")
    extra_h, extra_w = max(-bottom, 0), max(-right, 0)
    bottom, right = max(bottom, 0), max(right, 0)
    symmetric = top == bottom and left == right
    full_h, full_w = (h - 1) * sh + kh + extra_h, (w - 1) * sw + kw + extra_w
    f = n.attrs.filters
    return dict(
        C=c, H=h, W=w, F=f, symmetric=symmetric, Hfull=full_h, Wfull=full_w,
        Hout=n.out_shape[0], Wout=n.out_shape[1], full=f"{n.out}_full",
        sizes=f"{c}, {h}, {w}, {kh}, {kw}, {sh}, {sw}",
        padding=f"{top}, {left}" if symmetric else "0, 0", out_padding=f"{extra_h}, {extra_w}",
        crops=f"{top}, {bottom}, {left}, {right}",
        b=n.params.get("bias") or zeros(f, 1), db=n.param_grads.get("bias") or f"{n.out}_dzero",
        sources=() if symmetric else ("zero_pad2d",))


define("conv2d_transpose", Conv2DTranspose, shape=_shape, params=_params,
       weights=(Weight("kernel", "W", layout=conv2d_transpose_kernel),
                Weight("bias", "b", layout=as_column)),
       template="conv2d_transpose.dml.j2", context=_context,
       sources=("conv2d_transpose",), library=("conv2d_transpose", "zero_pad2d"),
       family=__name__)
