"""Pooling: Max/AveragePooling1D/2D and their global variants."""
from __future__ import annotations

from ... import ir
from ..context import LayerContext
from ..registry import handles


def _window(ctx: LayerContext, rank: int) -> tuple:
    ctx.channels_last()
    size = ctx.ints("pool_size", rank, 2)
    strides = ctx.get("strides", None)
    strides = size if strides is None else ctx.ints("strides", rank)
    return size, strides, ctx.choice("padding", ("valid", "same"), "valid")


@handles("MaxPooling1D", "AveragePooling1D")
def pool1d(ctx: LayerContext) -> list:
    """Max/AveragePooling1D(pool_size, strides, padding valid/same)."""
    (size,), (stride,), padding = _window(ctx, 1)
    op = "max_pool1d" if ctx.class_name.startswith("Max") else "avg_pool1d"
    return [ctx.node(op, ir.Pool1D(size, stride, padding))]


@handles("MaxPooling2D", "AveragePooling2D")
def pool2d(ctx: LayerContext) -> list:
    """Max/AveragePooling2D(pool_size, strides, padding valid/same)."""
    size, strides, padding = _window(ctx, 2)
    op = "max_pool2d" if ctx.class_name.startswith("Max") else "avg_pool2d"
    return [ctx.node(op, ir.Pool2D(size, strides, padding))]


_GLOBAL_OPS = {
    "GlobalAveragePooling1D": "global_avg_pool1d", "GlobalMaxPooling1D": "global_max_pool1d",
    "GlobalAveragePooling2D": "global_avg_pool2d", "GlobalMaxPooling2D": "global_max_pool2d",
}


@handles(*_GLOBAL_OPS)
def global_pool(ctx: LayerContext) -> list:
    """GlobalAverage/MaxPooling1D/2D(keepdims)."""
    ctx.channels_last()
    return [ctx.node(_GLOBAL_OPS[ctx.class_name], ir.GlobalPool(bool(ctx.get("keepdims", False))))]
