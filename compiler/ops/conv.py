"""Convolutions: Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D (a depthwise then a 1x1
convolution). Conv2DTranspose is in conv_transpose.py.

Padding stays as Keras names it ("valid", "same", "causal") in the frontend; the shape rules turn
it into explicit amounts per side once the input size is known.

dilation_rate: the DML expands a kernel to its dense dilated form in the script
(dml_lib's dilate_kernel, whose backward reads the taps' gradients back), so the parameters stay
Keras' taps; shapes and padding use the dilated extent.

DML layouts (biases are (F, 1) columns, one per output channel):
  conv2d            kernel (F, C*kh*kw)    from Keras (kh, kw, C, F); with groups, (F, C/G*kh*kw)
                                           from (kh, kw, C/G, F): dml_lib's conv2d_grouped
  conv1d            kernel (F, C*1*k)      from Keras (k, C, F): a conv2d with Hf=1, Wf=k on
                                           (C, 1, T) images
  depthwise_conv2d  kernel (C*M, kh*kw)    from Keras (kh, kw, C, M); row c*M + m is output
                                           channel c*M + m, as in Keras and dml_lib
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..backend.step import Step, Unsupported, image, known, sequence_rows, zeros
from ..frontend.context import LayerContext, as_role
from ..frontend.registry import handles
from ..ir import Pad1D, Pad2D
from ..opdef import Weight, as_column, bias_column, define, f64
from .activations import fused_activation
from .shaping import bias, last_dim, times, windowed1d, windowed2d
from .axes import channels_first



@dataclass(frozen=True)
class Conv1D:
    """(T, C) -> (T', filters). kernel (k, C, filters), bias (filters,)."""
    filters: int
    kernel: int
    stride: int = 1
    padding: Pad1D = Pad1D()
    use_bias: bool = True
    dilation: int = 1


@dataclass(frozen=True)
class Conv2D:
    """(H, W, C) -> (H', W', filters). kernel (kh, kw, C / groups, filters), bias (filters,);
    with groups > 1, filters f of group f // (filters / groups) read that group's channels."""
    filters: int
    kernel: tuple
    strides: tuple = (1, 1)
    padding: Pad2D = Pad2D()
    use_bias: bool = True
    dilation: tuple = (1, 1)
    groups: int = 1


@dataclass(frozen=True)
class DepthwiseConv2D:
    """(H, W, C) -> (H', W', C*multiplier); output channel c*multiplier + m comes from input
    channel c. kernel (kh, kw, C, multiplier), bias (C*multiplier,)."""
    multiplier: int
    kernel: tuple
    strides: tuple = (1, 1)
    padding: Pad2D = Pad2D()
    use_bias: bool = True
    dilation: tuple = (1, 1)

# --- frontend --------------------------------------------------------------------------------

_PADDINGS_2D = ("valid", "same")


def conv_common(ctx: LayerContext, rank: int, paddings: tuple = _PADDINGS_2D,
                grouped: bool = False, dilated: bool = False) -> tuple:
    """(kernel, strides, padding) after checking what every convolution shares (`grouped`: the
    caller handles groups > 1; `dilated`: the caller reads dilation_rate)."""
    ctx.channels_last()
    if not dilated:
        ctx.no_dilation(rank)
    if ctx.get("groups", 1) != 1 and not grouped:
        ctx.reject("groups", ctx.get("groups"), "1 (grouped convolutions are not supported)")
    padding = ctx.choice("padding", paddings, "valid")
    return ctx.ints("kernel_size", rank), ctx.ints("strides", rank, 1), padding


def conv_weights(ctx: LayerContext, *names: str) -> dict:
    use_bias = bool(ctx.get("use_bias", True))
    return ctx.weights(*names, "bias") if use_bias else ctx.weights(*names)


@handles("Conv1D")
@channels_first
def conv1d(ctx: LayerContext) -> list:
    """Conv1D(filters, kernel_size, strides, padding valid/same/causal, dilation_rate)."""
    (kernel,), (stride,), padding = conv_common(ctx, 1, ("valid", "same", "causal"),
                                                dilated=True)
    weights = conv_weights(ctx, "kernel")
    attrs = Conv1D(int(ctx.get("filters")), kernel, stride, padding, "bias" in weights,
                   ctx.ints("dilation_rate", 1, 1)[0])
    return [ctx.node("conv1d", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


@handles("Conv2D")
@channels_first
def conv2d(ctx: LayerContext) -> list:
    """Conv2D(filters, kernel_size, strides, padding valid/same, dilation_rate, groups; one
    group per input channel, as ConvNeXt writes its depthwise convolutions, is a depthwise
    convolution)."""
    kernel, strides, padding = conv_common(ctx, 2, grouped=True, dilated=True)
    weights = conv_weights(ctx, "kernel")
    groups = int(ctx.get("groups", 1))
    dilation = ctx.ints("dilation_rate", 2, 1)
    if groups != 1 and weights["kernel"].value.shape[2] == 1:
        return [_grouped_as_depthwise(ctx, weights, groups, kernel, strides, padding, dilation)]
    attrs = Conv2D(int(ctx.get("filters")), kernel, strides, padding, "bias" in weights,
                   dilation, groups)
    return [ctx.node("conv2d", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


def _grouped_as_depthwise(ctx: LayerContext, weights: dict, groups: int, kernel, strides,
                          padding, dilation):
    """A Conv2D with one input channel per group is a depthwise convolution: its (kh, kw, 1, F)
    kernel's filter c*M + m reads channel c, which is the depthwise kernel (kh, kw, C, M)."""
    value = weights["kernel"].value
    filters = int(ctx.get("filters"))
    if filters % groups:
        ctx.reject("groups", groups, "a divisor of filters")
    depthwise = value.reshape(*value.shape[:2], groups, filters // groups)
    depthwise.setflags(write=False)
    params = (dataclasses.replace(weights["kernel"], value=depthwise),) + \
        ((weights["bias"],) if "bias" in weights else ())
    attrs = DepthwiseConv2D(filters // groups, kernel, strides, padding, "bias" in weights,
                            dilation)
    return ctx.node("depthwise_conv2d", attrs, params, activation=fused_activation(ctx))


@handles("DepthwiseConv2D")
@channels_first
def depthwise_conv2d(ctx: LayerContext) -> list:
    """DepthwiseConv2D(kernel_size, depth_multiplier, strides, padding valid/same,
    dilation_rate)."""
    kernel, strides, padding = conv_common(ctx, 2, dilated=True)
    weights = conv_weights(ctx, "kernel")  # named depthwise_kernel before Keras 3
    params = tuple(weights.values())
    attrs = DepthwiseConv2D(int(ctx.get("depth_multiplier", 1)), kernel, strides, padding,
                            "bias" in weights, ctx.ints("dilation_rate", 2, 1))
    return [ctx.node("depthwise_conv2d", attrs, params, activation=fused_activation(ctx))]


@handles("SeparableConv2D")
@channels_first
def separable_conv2d(ctx: LayerContext) -> list:
    """SeparableConv2D (dilation_rate too): a depthwise convolution, then a 1x1 convolution
    (two IR nodes)."""
    kernel, strides, padding = conv_common(ctx, 2, dilated=True)
    weights = conv_weights(ctx, "depthwise_kernel", "pointwise_kernel")
    middle = f"{ctx.name}/depthwise"
    depthwise = ctx.node(
        "depthwise_conv2d",
        DepthwiseConv2D(int(ctx.get("depth_multiplier", 1)), kernel, strides, padding, False,
                        ctx.ints("dilation_rate", 2, 1)),
        (as_role(weights["depthwise_kernel"], "kernel"),), name=middle, outputs=(middle,))
    pointwise = ctx.node(
        "conv2d", Conv2D(int(ctx.get("filters")), (1, 1), (1, 1), Pad2D(), "bias" in weights),
        (as_role(weights["pointwise_kernel"], "kernel"),) +
        ((weights["bias"],) if "bias" in weights else ()),
        inputs=(middle,), activation=fused_activation(ctx))
    return [depthwise, pointwise]


# --- kernel layouts --------------------------------------------------------------------------

def conv2d_kernel(kernel: np.ndarray, site=None) -> np.ndarray:
    """(kh, kw, C, F) -> (F, C*kh*kw): row f is filter f, flattened channels-first."""
    return f64(np.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[3], -1))


def conv1d_kernel(kernel: np.ndarray, site=None) -> np.ndarray:
    """(k, C, F) -> (F, C*1*k), the kernel of the equivalent conv2d with Hf=1, Wf=k."""
    return f64(np.transpose(kernel, (2, 1, 0)).reshape(kernel.shape[2], -1))


def depthwise_kernel(kernel: np.ndarray, site=None) -> np.ndarray:
    """(kh, kw, C, M) -> (C*M, kh*kw): row c*M + m is the filter of output channel c*M + m
    (conv2d_depthwise.dml's layout)."""
    kh, kw, c, m = kernel.shape
    return f64(np.transpose(kernel, (2, 3, 0, 1)).reshape(c * m, kh * kw))


def _weights_of(kernel_layout) -> tuple:
    return Weight("kernel", "W", layout=kernel_layout), Weight("bias", "b", layout=as_column)


# --- shapes and parameters -------------------------------------------------------------------

def dilated_extent(kernel: int, rate: int) -> int:
    return (kernel - 1) * rate + 1


def _extent2d(attrs) -> tuple:
    return tuple(dilated_extent(k, d) for k, d in zip(attrs.kernel, attrs.dilation))


def _conv1d_shape(node, attrs, ins):
    padding, out = windowed1d(node, attrs, ins[0], dilated_extent(attrs.kernel, attrs.dilation),
                              attrs.stride)
    return dataclasses.replace(attrs, padding=padding), (out, attrs.filters)


def _conv2d_shape(node, attrs, ins):
    return windowed2d(node, attrs, ins[0], _extent2d(attrs), attrs.filters)


def _depthwise_shape(node, attrs, ins):
    channels = ins[0][-1] * attrs.multiplier if ins[0] and ins[0][-1] else None
    return windowed2d(node, attrs, ins[0], _extent2d(attrs), channels)


def _conv1d_params(a, ins) -> dict:
    return {"kernel": (a.kernel, last_dim(ins), a.filters), **bias(a.use_bias, a.filters)}


def _conv2d_params(a, ins) -> dict:
    channels = last_dim(ins)
    group_channels = channels // a.groups if channels is not None else None
    return {"kernel": (*a.kernel, group_channels, a.filters), **bias(a.use_bias, a.filters)}


def _depthwise_params(a, ins) -> dict:
    c = last_dim(ins)
    return {"kernel": (*a.kernel, c, a.multiplier), **bias(a.use_bias, times(c, a.multiplier))}


# --- templates -------------------------------------------------------------------------------

def _pads(p) -> tuple:
    return p.top, p.bottom, p.left, p.right


def _dilation(n: Step, channels: int, taps: tuple, rates: tuple) -> dict:
    """The kernel the DML convolves with: the parameter, or its dense dilated form, which the
    forward pass computes (`dilate`: dilate_kernel's arguments)."""
    if all(r == 1 for r in rates):
        return dict(kernel=n.params.get("kernel"), dilate=None)
    return dict(kernel=f"{n.out}_dilated_kernel",
                dilate=f"{channels}, {', '.join(map(str, taps))}, {', '.join(map(str, rates))}")


def _window(n: Step, filters: int, extra: str = "", kernel_channels: int | None = None) -> dict:
    """What conv2d and depthwise share: the input geometry, and whether Keras' padding is
    symmetric (the builtin's padh/padw) or needs an explicit zero_pad2d first."""
    c, h, w = image(known(n.in_shape, "image size"))
    (kh, kw), (sh, sw) = _extent2d(n.attrs), n.attrs.strides
    dilation = _dilation(n, c if kernel_channels is None else kernel_channels, n.attrs.kernel,
                         n.attrs.dilation)
    top, bottom, left, right = _pads(n.attrs.padding)
    symmetric = top == bottom and left == right
    hp, wp = (h, w) if symmetric else (h + top + bottom, w + left + right)
    _, hout, wout = image(n.out_shape)
    return dict(
        C=c, H=h, W=w, F=filters, Hout=hout, Wout=wout, symmetric=symmetric,
        pads=f"{top}, {bottom}, {left}, {right}", padded=f"{n.out}_padded",
        sizes=f"{c}, {h}, {w}, {extra}{kh}, {kw}, {sh}, {sw}",
        padded_sizes=f"{c}, {hp}, {wp}, {extra}{kh}, {kw}, {sh}, {sw}",
        padding=f"{top}, {left}" if symmetric else "0, 0",
        b=n.params.get("bias") or zeros(image(n.out_shape)[0], 1),
        db=n.param_grads.get("bias") or f"{n.out}_dzero", **dilation,
        sources=(() if symmetric else ("zero_pad2d",)) +
        (("dilate_kernel",) if dilation["dilate"] else ()))


def _conv2d_context(n: Step) -> dict:
    groups = n.attrs.groups
    if groups == 1:
        return dict(_window(n, n.attrs.filters), module="conv2d")
    channels = image(known(n.in_shape, "image size"))[0]
    if channels % groups or n.attrs.filters % groups:
        raise Unsupported("groups", groups, f"a divisor of the {channels} input channels and "
                          f"of the {n.attrs.filters} filters")
    window = _window(n, n.attrs.filters, f"{groups}, ", kernel_channels=channels // groups)
    return dict(window, module="conv2d_grouped",
                sources=window["sources"] + ("conv2d_grouped",))


def _depthwise_context(n: Step) -> dict:
    return dict(_window(n, n.out_shape[-1], f"{n.attrs.multiplier}, ", kernel_channels=1),
                module="conv2d_depthwise")


def _conv1d_context(n: Step) -> dict:
    steps, features = sequence_rows(n, "a sequence (steps, features)")
    # an open length: the output's is read back from the gradient (filters columns per step)
    out_steps = n.out_shape[0] or f"as.integer(ncol({n.dout}) / {n.attrs.filters})"
    dilation = _dilation(n, features, (1, n.attrs.kernel), (1, n.attrs.dilation))
    return dict(T=steps, D=features, K=dilated_extent(n.attrs.kernel, n.attrs.dilation),
                stride=n.attrs.stride, **dilation,
                sources=("dilate_kernel",) if dilation["dilate"] else (),
                pads=f"{n.attrs.padding.left}, {n.attrs.padding.right}", Tout=out_steps,
                T_text=n.in_shape[0] or "T", Tout_text=n.out_shape[0] or "Tout",
                b=n.params.get("bias") or zeros(n.attrs.filters, 1),
                db=n.param_grads.get("bias") or f"{n.out}_dzero")


define("conv2d", Conv2D, shape=_conv2d_shape, params=_conv2d_params,
       weights=_weights_of(conv2d_kernel), template="conv2d.dml.j2", context=_conv2d_context,
       output_channels=bias_column, sources=("conv2d",),
       library=("conv2d", "conv2d_grouped", "zero_pad2d", "dilate_kernel"),
       takes_zero_padding=True, family=__name__)
define("depthwise_conv2d", DepthwiseConv2D, shape=_depthwise_shape, params=_depthwise_params,
       weights=_weights_of(depthwise_kernel), template="conv2d.dml.j2",
       context=_depthwise_context, output_channels=bias_column, sources=("conv2d_depthwise",),
       library=("conv2d_depthwise", "zero_pad2d", "dilate_kernel"), takes_zero_padding=True,
       family=__name__)
define("conv1d", Conv1D, shape=_conv1d_shape, params=_conv1d_params,
       weights=_weights_of(conv1d_kernel), template="conv1d.dml.j2", context=_conv1d_context,
       output_channels=bias_column, sources=("conv1d",), library=("conv1d", "dilate_kernel"),
       family=__name__)
