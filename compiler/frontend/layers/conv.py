"""Convolutions: Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.

Padding is kept as Keras names it ("valid", "same", "causal") here; `passes.infer_shapes` turns it
into explicit amounts per side once the input size is known (Keras' "same" depends on it).
"""
from __future__ import annotations

from ... import ir
from ..context import LayerContext, as_role
from ..registry import handles
from .activations import fused_activation

_PADDINGS_2D = ("valid", "same")


def _common(ctx: LayerContext, rank: int, paddings: tuple = _PADDINGS_2D) -> tuple:
    """(kernel, strides, padding) after checking what every convolution shares."""
    ctx.channels_last()
    ctx.no_dilation(rank)
    if ctx.get("groups", 1) != 1:
        ctx.reject("groups", ctx.get("groups"), "1 (grouped convolutions are not supported)")
    padding = ctx.choice("padding", paddings, "valid")
    return ctx.ints("kernel_size", rank), ctx.ints("strides", rank, 1), padding


def _weights(ctx: LayerContext, *names: str) -> dict:
    use_bias = bool(ctx.get("use_bias", True))
    return ctx.weights(*names, "bias") if use_bias else ctx.weights(*names)


@handles("Conv1D")
def conv1d(ctx: LayerContext) -> list:
    """Conv1D(filters, kernel_size, strides, padding valid/same/causal)."""
    (kernel,), (stride,), padding = _common(ctx, 1, ("valid", "same", "causal"))
    weights = _weights(ctx, "kernel")
    attrs = ir.Conv1D(int(ctx.get("filters")), kernel, stride, padding, "bias" in weights)
    return [ctx.node("conv1d", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


@handles("Conv2D")
def conv2d(ctx: LayerContext) -> list:
    """Conv2D(filters, kernel_size, strides, padding valid/same)."""
    kernel, strides, padding = _common(ctx, 2)
    weights = _weights(ctx, "kernel")
    attrs = ir.Conv2D(int(ctx.get("filters")), kernel, strides, padding, "bias" in weights)
    return [ctx.node("conv2d", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


@handles("DepthwiseConv2D")
def depthwise_conv2d(ctx: LayerContext) -> list:
    """DepthwiseConv2D(kernel_size, depth_multiplier, strides, padding valid/same)."""
    kernel, strides, padding = _common(ctx, 2)
    weights = _weights(ctx, "kernel")  # named depthwise_kernel before Keras 3
    params = tuple(weights.values())
    attrs = ir.DepthwiseConv2D(int(ctx.get("depth_multiplier", 1)), kernel, strides, padding,
                               "bias" in weights)
    return [ctx.node("depthwise_conv2d", attrs, params, activation=fused_activation(ctx))]


@handles("SeparableConv2D")
def separable_conv2d(ctx: LayerContext) -> list:
    """SeparableConv2D: a depthwise convolution, then a 1x1 convolution (two IR nodes)."""
    kernel, strides, padding = _common(ctx, 2)
    weights = _weights(ctx, "depthwise_kernel", "pointwise_kernel")
    middle = f"{ctx.name}/depthwise"
    depthwise = ctx.node(
        "depthwise_conv2d",
        ir.DepthwiseConv2D(int(ctx.get("depth_multiplier", 1)), kernel, strides, padding, False),
        (as_role(weights["depthwise_kernel"], "kernel"),), name=middle, outputs=(middle,))
    pointwise = ctx.node(
        "conv2d", ir.Conv2D(int(ctx.get("filters")), (1, 1), (1, 1), ir.Pad2D(), "bias" in weights),
        (as_role(weights["pointwise_kernel"], "kernel"),) +
        ((weights["bias"],) if "bias" in weights else ()),
        inputs=(middle,), activation=fused_activation(ctx))
    return [depthwise, pointwise]


@handles("Conv2DTranspose")
def conv2d_transpose(ctx: LayerContext) -> list:
    """Conv2DTranspose(filters, kernel_size, strides, padding valid/same, output_padding)."""
    kernel, strides, padding = _common(ctx, 2)
    output_padding = ctx.get("output_padding", None)
    if output_padding is not None:
        output_padding = ctx.ints("output_padding", 2)
    weights = _weights(ctx, "kernel")
    attrs = ir.Conv2DTranspose(int(ctx.get("filters")), kernel, strides, padding,
                               "bias" in weights, output_padding)
    return [ctx.node("conv2d_transpose", attrs, tuple(weights.values()),
                     activation=fused_activation(ctx))]
