"""BatchNormalization and LayerNormalization (inference uses the moving statistics)."""
from __future__ import annotations

from ... import ir
from ..context import LayerContext
from ..registry import handles
from .activations import keras_axis


def _axis(ctx: LayerContext, default) -> int:
    """The one normalised axis, as an IR axis; whether it is the last is checked with shapes."""
    value = ctx.get("axis", default)
    axis = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", value, "the last axis (-1)")
    return keras_axis(axis)


def _flags(ctx: LayerContext) -> tuple:
    return bool(ctx.get("center", True)), bool(ctx.get("scale", True))


@handles("BatchNormalization")
def batch_normalization(ctx: LayerContext) -> list:
    """BatchNormalization(axis=-1, epsilon, center, scale, momentum)."""
    for flag in ("renorm", "synchronized"):
        if ctx.get(flag, False):
            ctx.reject(flag, True, "False")
    axis = _axis(ctx, -1)
    center, scale = _flags(ctx)
    names = (("gamma",) if scale else ()) + (("beta",) if center else ()) + \
        ("moving_mean", "moving_variance")
    attrs = ir.BatchNorm(float(ctx.get("epsilon", 1e-3)), center, scale,
                         float(ctx.get("momentum", 0.99)), axis)
    return [ctx.node("batch_norm", attrs, tuple(ctx.weights(*names).values()))]


@handles("LayerNormalization")
def layer_normalization(ctx: LayerContext) -> list:
    """LayerNormalization(axis=-1, epsilon, center, scale)."""
    if ctx.get("rms_scaling", False):
        ctx.reject("rms_scaling", True, "False")
    axis = _axis(ctx, -1)
    center, scale = _flags(ctx)
    names = (("gamma",) if scale else ()) + (("beta",) if center else ())
    attrs = ir.LayerNorm(float(ctx.get("epsilon", 1e-3)), center, scale, axis)
    return [ctx.node("layer_norm", attrs, tuple(ctx.weights(*names).values()))]
