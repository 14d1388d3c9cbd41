"""Volumes: Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D, ZeroPadding3D and
UpSampling3D over (depth, height, width, channels).

DML holds a volume in Keras' order, one row of D*H*W*C values per sample (only 3-D samples,
images, are held channels-first), so a Flatten of a volume needs no permutation. dml_lib's
conv3d.dml, conv3d_transpose.dml and pool3d.dml take and give such rows and run on the 2-D
builtins inside.
ZeroPadding3D and UpSampling3D act on one axis at a time, innermost first, in the (outer, size,
inner) view of a row that crop.dml uses: padding is crop's backward (and its gradient crop's
forward), upsampling is upsample_axis.dml.

Padding stays as Keras names it ("valid", "same") in the frontend; the shape rule turns it into
(before, after) amounts per spatial axis once the input size is known.

DML layouts: conv3d kernel (F, Df*C*Hf*Wf) from Keras (Df, Hf, Wf, C, F); conv3d_transpose
kernel (C, Df*F*Hf*Wf) from Keras (Df, Hf, Wf, F, C), C = the input channels; biases (F, 1).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..backend.step import Step, known, zeros
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, as_column, bias_column, define, f64
from .activations import fused_activation
from .axes import channels_first
from .conv import conv_common, conv_weights
from .conv_transpose import transpose_dim, transposed_convolution
from .cropping import axis_pairs
from .pooling import window
from .shaping import bias, last_dim, pads, require_rank, window_out


@dataclass(frozen=True)
class Conv3D:
    """(D, H, W, C) -> (D', H', W', filters). kernel (kd, kh, kw, C, filters), bias (filters,).
    padding: Keras' name, then ((front, back), (top, bottom), (left, right))."""
    filters: int
    kernel: tuple
    strides: tuple = (1, 1, 1)
    padding: tuple | str = "valid"
    use_bias: bool = True


@dataclass(frozen=True)
class Conv3DTranspose:
    """(D, H, W, C) -> (D', H', W', filters). kernel (kd, kh, kw, filters, C), bias (filters,).

    The full transposed convolution has (D-1)*sd + kd slices (likewise rows, columns); `padding`
    is Keras' name, then ((front, back), (top, bottom), (left, right)): what is cut from each
    side of it (a negative amount after: that many zero positions appended, which "valid" does
    when the kernel is smaller than the stride). output_padding is Keras' attribute, accounted
    for in `padding` once resolved."""
    filters: int
    kernel: tuple
    strides: tuple = (1, 1, 1)
    padding: tuple | str = "valid"
    use_bias: bool = True
    output_padding: tuple | None = None


@dataclass(frozen=True)
class Pool3D:
    """max_pool3d / avg_pool3d over (D, H, W, C); padding as Conv3D's."""
    size: tuple
    strides: tuple
    padding: tuple | str = "valid"


@dataclass(frozen=True)
class ZeroPad3D:
    """((front, back), (top, bottom), (left, right)) zero positions added."""
    pairs: tuple


@dataclass(frozen=True)
class UpSample3D:
    """Nearest-neighbour upsampling: every position repeated size[0] x size[1] x size[2] times."""
    size: tuple


# --- frontend --------------------------------------------------------------------------------

@handles("Conv3D")
def conv3d(ctx: LayerContext) -> list:
    """Conv3D(filters, kernel_size, strides, padding valid/same)."""
    # not data_format="channels_first": Keras 3 adds that layer's bias along the last axis
    # instead of the channels, so no Keras result would match the layer's meaning
    kernel, strides, padding = conv_common(ctx, 3)
    weights = conv_weights(ctx, "kernel")
    attrs = Conv3D(int(ctx.get("filters")), kernel, strides, padding, "bias" in weights)
    return [ctx.node("conv3d", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


@handles("Conv3DTranspose")
@channels_first
def conv3d_transpose(ctx: LayerContext) -> list:
    """Conv3DTranspose(filters, kernel_size, strides, padding valid/same, output_padding)."""
    return transposed_convolution(ctx, 3, Conv3DTranspose, "conv3d_transpose")


@handles("MaxPooling3D", "AveragePooling3D")
@channels_first
def pool3d(ctx: LayerContext) -> list:
    """Max/AveragePooling3D(pool_size, strides, padding valid/same)."""
    size, strides, padding = window(ctx, 3)
    op = "max_pool3d" if ctx.class_name.startswith("Max") else "avg_pool3d"
    return [ctx.node(op, Pool3D(size, strides, padding))]


@handles("ZeroPadding3D")
@channels_first
def zero_padding3d(ctx: LayerContext) -> list:
    """ZeroPadding3D(padding): n, one value per axis, or one (before, after) pair per axis."""
    ctx.channels_last()
    return [ctx.node("zero_pad3d", ZeroPad3D(axis_pairs(ctx, 3, "padding")))]


@handles("UpSampling3D")
@channels_first
def upsampling3d(ctx: LayerContext) -> list:
    """UpSampling3D(size): every position repeated along depth, height and width."""
    ctx.channels_last()
    return [ctx.node("upsample3d", UpSample3D(ctx.ints("size", 3, 2)))]


def conv3d_kernel(kernel: np.ndarray, site=None) -> np.ndarray:
    """(kd, kh, kw, C, F) -> (F, kd*C*kh*kw): row f is filter f, depth tap by depth tap, each
    tap channels first (conv3d.dml's layout)."""
    return f64(np.transpose(kernel, (4, 0, 3, 1, 2)).reshape(kernel.shape[4], -1))


def conv3d_transpose_kernel(kernel: np.ndarray, site=None) -> np.ndarray:
    """(kd, kh, kw, F, C) -> (C, kd*F*kh*kw): row c spreads input channel c onto the F output
    channels, depth tap by depth tap, each tap channels first (conv3d_transpose.dml's layout):
    conv3d's layout of the convolution it is the adjoint of."""
    return conv3d_kernel(kernel, site)


# --- shapes and parameters -------------------------------------------------------------------

def windowed3d(node, attrs, shape, kernel: tuple, channels) -> tuple:
    """(attrs with explicit (before, after) pairs, output shape) of a 3-D window op."""
    require_rank(node, shape, 4, "(depth, height, width, channels)")
    pairs = attrs.padding if isinstance(attrs.padding, tuple) else (attrs.padding,) * 3
    amounts = tuple(pads(node, pairs[i], shape[i], kernel[i], attrs.strides[i])
                    for i in range(3))
    out = tuple(window_out(node, shape[i], kernel[i], attrs.strides[i], *amounts[i])
                for i in range(3))
    return dataclasses.replace(attrs, padding=amounts), (*out, channels)


def _conv3d_shape(node, attrs, ins):
    return windowed3d(node, attrs, ins[0], attrs.kernel, attrs.filters)


def _conv3d_transpose_shape(node, attrs, ins):
    shape = ins[0]
    require_rank(node, shape, 4, "(depth, height, width, channels)")
    if isinstance(attrs.padding, tuple):
        out = tuple((shape[i] - 1) * attrs.strides[i] + attrs.kernel[i] - sum(attrs.padding[i])
                    for i in range(3))
        return attrs, (*out, attrs.filters)
    extra = attrs.output_padding or (None,) * 3
    axes = [transpose_dim(node, shape[i], attrs.kernel[i], attrs.strides[i], attrs.padding,
                          extra[i]) for i in range(3)]
    padding = tuple((before, after) for before, after, _ in axes)
    return (dataclasses.replace(attrs, padding=padding),
            (*(size for _, _, size in axes), attrs.filters))


def _pool3d_shape(node, attrs, ins):
    return windowed3d(node, attrs, ins[0], attrs.size, ins[0][-1] if ins[0] else None)


def _resized(grow):
    """The shape rule of an op that changes each spatial axis's length by grow(attrs, axis,
    size)."""
    def rule(node, attrs, ins):
        require_rank(node, ins[0], 4, "(depth, height, width, channels)")
        sizes = tuple(None if size is None else grow(attrs, axis, size)
                      for axis, size in enumerate(ins[0][:3]))
        return attrs, (*sizes, ins[0][3])
    return rule


def _conv3d_params(a, ins) -> dict:
    return {"kernel": (*a.kernel, last_dim(ins), a.filters), **bias(a.use_bias, a.filters)}


def _conv3d_transpose_params(a, ins) -> dict:
    return {"kernel": (*a.kernel, a.filters, last_dim(ins)), **bias(a.use_bias, a.filters)}


# --- templates -------------------------------------------------------------------------------

def _numbers(*values) -> str:
    return ", ".join(str(v) for v in values)


def _geometry(n: Step, window: tuple) -> dict:
    """The arguments conv3d.dml and pool3d.dml share: input sizes, window, strides, paddings."""
    d, h, w, c = known(n.in_shape, "volume size")
    pairs = [amount for pair in n.attrs.padding for amount in pair]
    return dict(sizes=_numbers(c, d, h, w, *window, *n.attrs.strides, *pairs),
                out_sizes=_numbers(*n.out_shape[:3]),
                shape_text=f"depth x height x width x channels: {d}x{h}x{w}x{c} -> "
                           f"{'x'.join(map(str, n.out_shape))}")


def _conv3d_context(n: Step) -> dict:
    return dict(_geometry(n, n.attrs.kernel),
                b=n.params.get("bias") or zeros(n.attrs.filters, 1),
                db=n.param_grads.get("bias") or f"{n.out}_dzero")


def _conv3d_transpose_context(n: Step) -> dict:
    """Keras' cut of the full output as conv3d_transpose.dml takes it: amounts cut from each
    side, and the zero positions appended at the end where Keras' cut is negative."""
    d, h, w, c = known(n.in_shape, "volume size")
    cuts = [amount for before, after in n.attrs.padding for amount in (before, max(after, 0))]
    appended = [max(-after, 0) for _, after in n.attrs.padding]
    return dict(sizes=_numbers(c, d, h, w, *n.attrs.kernel, *n.attrs.strides, *cuts),
                out_padding=_numbers(*appended), out_sizes=_numbers(*n.out_shape[:3]),
                shape_text=f"depth x height x width x channels: {d}x{h}x{w}x{c} -> "
                           f"{'x'.join(map(str, n.out_shape))}",
                b=n.params.get("bias") or zeros(n.attrs.filters, 1),
                db=n.param_grads.get("bias") or f"{n.out}_dzero")


def _pool3d_context(n: Step) -> dict:
    return dict(_geometry(n, n.attrs.size),
                maximum="TRUE" if n.node.op == "max_pool3d" else "FALSE")


def _axis_calls(shape: tuple, change) -> list:
    """The arguments of one call per changed spatial axis, innermost first: change(axis, size,
    inner) gives (arguments, new size) or None for an axis left alone."""
    dims, calls = list(shape), []
    for axis in (2, 1, 0):
        changed = change(axis, dims[axis], math.prod(dims[axis + 1:]))
        if changed:
            arguments, dims[axis] = changed
            calls.append(_numbers(*arguments))
    return calls


def _zero_pad3d_context(n: Step) -> dict:
    def pad(axis, size, inner):
        before, after = n.attrs.pairs[axis]
        padded = size + before + after
        return ((padded, inner, before, after), padded) if before or after else None
    return dict(calls=_axis_calls(known(n.in_shape, "volume size"), pad))


def _upsample3d_context(n: Step) -> dict:
    def repeat(axis, size, inner):
        factor = n.attrs.size[axis]
        return ((inner, factor), size * factor) if factor > 1 else None
    return dict(calls=_axis_calls(known(n.in_shape, "volume size"), repeat))


define("conv3d", Conv3D, shape=_conv3d_shape, params=_conv3d_params,
       weights=(Weight("kernel", "W", layout=conv3d_kernel),
                Weight("bias", "b", layout=as_column)),
       template="conv3d.dml.j2", context=_conv3d_context, output_channels=bias_column,
       sources=("conv3d",), family=__name__)
define("conv3d_transpose", Conv3DTranspose, shape=_conv3d_transpose_shape,
       params=_conv3d_transpose_params,
       weights=(Weight("kernel", "W", layout=conv3d_transpose_kernel),
                Weight("bias", "b", layout=as_column)),
       template="conv3d_transpose.dml.j2", context=_conv3d_transpose_context,
       sources=("conv3d_transpose",), family=__name__)
define(("max_pool3d", "avg_pool3d"), Pool3D, shape=_pool3d_shape, template="pool3d.dml.j2",
       context=_pool3d_context, sources=("pool3d",), family=__name__)
define("zero_pad3d", ZeroPad3D,
       shape=_resized(lambda a, axis, size: size + sum(a.pairs[axis])),
       template="zero_pad3d.dml.j2", context=_zero_pad3d_context, sources=("crop",),
       family=__name__)
define("upsample3d", UpSample3D, shape=_resized(lambda a, axis, size: size * a.size[axis]),
       template="upsample3d.dml.j2", context=_upsample3d_context, sources=("upsample_axis",),
       family=__name__)
