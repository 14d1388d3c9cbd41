"""Spatial reshaping: ZeroPadding2D, UpSampling2D."""
from __future__ import annotations

from ... import ir
from ..context import LayerContext
from ..registry import handles


def _pad_pairs(ctx: LayerContext) -> tuple:
    """ZeroPadding2D's padding: n, (rows, cols) or ((top, bottom), (left, right))."""
    value = ctx.get("padding", 1)
    try:
        if isinstance(value, int):
            return (value, value), (value, value)
        rows, cols = value
        pairs = tuple((v, v) if isinstance(v, int) else tuple(v) for v in (rows, cols))
        if all(len(p) == 2 and all(isinstance(x, int) and x >= 0 for x in p) for p in pairs):
            return pairs
    except (TypeError, ValueError):
        pass
    ctx.reject("padding", value, "an int, (rows, cols) or ((top, bottom), (left, right))")


@handles("ZeroPadding2D")
def zero_padding2d(ctx: LayerContext) -> list:
    """ZeroPadding2D(padding)."""
    ctx.channels_last()
    (top, bottom), (left, right) = _pad_pairs(ctx)
    return [ctx.node("zero_pad2d", ir.ZeroPad2D(ir.Pad2D(top, bottom, left, right)))]


@handles("UpSampling2D")
def upsampling2d(ctx: LayerContext) -> list:
    """UpSampling2D(size), nearest-neighbour interpolation."""
    ctx.channels_last()
    ctx.choice("interpolation", ("nearest",), "nearest")
    return [ctx.node("upsample2d", ir.UpSample2D(ctx.ints("size", 2, 2)))]
