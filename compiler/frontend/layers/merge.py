"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Concatenate."""
from __future__ import annotations

from ... import ir
from ..context import LayerContext
from ..registry import handles
from .activations import keras_axis

_OPS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
        "Maximum": "maximum"}


@handles(*_OPS)
def merge(ctx: LayerContext) -> list:
    """Add/Subtract/Multiply/Average/Maximum of inputs of equal shape."""
    return [ctx.node(_OPS[ctx.class_name], ir.Merge())]


@handles("Concatenate")
def concatenate(ctx: LayerContext) -> list:
    """Concatenate(axis)."""
    axis = ctx.get("axis", -1)
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", axis, "a non-batch axis")
    return [ctx.node("concatenate", ir.Concatenate(keras_axis(axis)))]
