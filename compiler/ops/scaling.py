"""Per-channel scaling: Rescaling and Normalization (constant factors, the "scale_shift" op),
LayerScale (a learned factor per channel) and PReLU (a learned negative slope).

Their factors broadcast over the sample like Keras' (a (C,) vector over the last axis, PReLU's
alpha over its shared axes); the templates expand them with `backend.broadcast` and, in training,
sum the gradients of the learned ones back.
DML layout: every factor is a row holding its values in the DML order of its own shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..backend import broadcast
from ..backend.step import Step, Unsupported, known
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Elementwise
from ..opdef import Weight, define, f64
from .activations import keras_axis
from .merge import Merge
from .shaping import last_axis_only, same_shape

_EPSILON = 1e-7  # keras.backend.epsilon(), Normalization's floor on the standard deviation


@dataclass(frozen=True)
class ScaleShift:
    """x * scale + offset with constant scale and offset (Keras shapes broadcasting over the
    sample: (1,) or (C,) over `axis`, which must be the last; with axis None, any shape that
    broadcasts to the sample's, as numpy broadcasts a constant array: `shapes` are then those of
    scale and offset)."""
    axis: int | None = -1
    shapes: tuple = ()


@dataclass(frozen=True)
class LayerScale:
    """x * gamma, gamma (C,) learned, over the last axis; or (1,), one number (per_channel
    False: the learned scale of keras.layers.Attention)."""
    per_channel: bool = True


@dataclass(frozen=True)
class PReLU:
    """x where x >= 0, alpha * x elsewhere; alpha learned, of the sample's shape with Keras'
    shared axes as 1 (alpha_shape)."""
    alpha_shape: tuple


# --- frontend --------------------------------------------------------------------------------

def _constant(ctx: LayerContext, role: str, value, keep_shape: bool = False,
              weight: str | None = None) -> ir.Param:
    """A constant of the layer as a parameter; `weight` names it where the layer has a weight
    named like the role (keras.layers.Attention's learned scale)."""
    array = np.atleast_1d(np.asarray(value, dtype=np.float64))
    array = array if keep_shape else array.reshape(-1)
    array.setflags(write=False)
    return ir.Param(role, array, ctx.call.layer, weight or role,
                    f"config of layer '{ctx.call.layer}'")


def _channel_values(ctx: LayerContext, key: str):
    value = ctx.get(key, None)
    try:
        numbers = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        numbers = None
    if value is not None and not isinstance(value, bool) and numbers is not None and \
            numbers.size > 0:
        return value
    ctx.reject(key, value, "a number or a list of numbers (one per channel of the last axis)")


@handles("Rescaling")
def rescaling(ctx: LayerContext) -> list:
    """Rescaling(scale, offset): x * scale + offset; numbers or one per channel."""
    scale, offset = _channel_values(ctx, "scale"), ctx.get("offset", 0.0)
    offset = _channel_values(ctx, "offset") if offset else 0.0
    params = (_constant(ctx, "scale", scale), _constant(ctx, "offset", offset))
    return [ctx.node("scale_shift", ScaleShift(), params)]


def constant_operand(ctx: LayerContext, fn: str, constant: dict, first: bool):
    """x + c, x - c, c - x, x * c or x / c of a keras.ops call with a constant array: one value
    per channel of the last axis (the mean that caffe-style preprocess_input subtracts), or any
    array that broadcasts over the sample (a position embedding that a layer called on
    keras.ops.arange(...) computed while the model was built: Keras keeps its values, not the
    layer), as a scale_shift node; None for c / x and other functions."""
    values = np.asarray((constant.get("config") or {}).get("value"), dtype=np.float64)
    if values.ndim == 0 or (fn == "divide" and first) or \
            fn not in ("add", "subtract", "multiply", "divide"):
        return None
    while values.ndim > 1 and values.shape[0] == 1:     # leading 1s broadcast: the batch axis
        values = values[0]
    per_channel = values.size == values.shape[-1]
    if per_channel:
        values = values.reshape(-1)
    one, zero = np.ones(1), np.zeros(1)
    scale, offset = {"add": (one, values), "multiply": (values, zero),
                     "divide": (1.0 / values, zero),
                     "subtract": (-one, values) if first else (one, -values)}[fn]
    params = (_constant(ctx, "scale", scale, keep_shape=True),
              _constant(ctx, "offset", offset, keep_shape=True))
    whole = ScaleShift(axis=None, shapes=(params[0].value.shape, params[1].value.shape))
    return ctx.node("scale_shift", ScaleShift() if per_channel else whole, params)


def constant_offset(ctx: LayerContext, offset: np.ndarray, name: str, tensor: str) -> ir.Node:
    """A scale_shift node adding the constant `offset`, an array of the sample's shape (the
    large negative scores of a causal attention mask), to `tensor`."""
    params = tuple(_constant(ctx, role, value, keep_shape=True,
                             weight=f"{name.rpartition('/')[2]}_{role}")
                   for role, value in (("scale", np.ones(1)), ("offset", offset)))
    return ctx.node("scale_shift", ScaleShift(axis=None, shapes=((1,), offset.shape)), params,
                    name=name, inputs=(tensor,), outputs=(name,))


def _statistics(ctx: LayerContext) -> tuple:
    """(mean, variance) from the config, else from the weights the layer's adapt() stored."""
    if ctx.get("mean", None) is not None:
        return (np.asarray(_channel_values(ctx, "mean"), dtype=np.float64),
                np.asarray(_channel_values(ctx, "variance"), dtype=np.float64))
    stored = ctx.weights("mean", "variance", "count")
    return (np.asarray(stored["mean"].value, dtype=np.float64),
            np.asarray(stored["variance"].value, dtype=np.float64))


@handles("Normalization")
def normalization(ctx: LayerContext) -> list:
    """Normalization(axis=-1, mean, variance, invert): (x - mean) / sqrt(variance) per channel,
    from the config or from adapt()."""
    axis = ctx.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", ctx.get("axis"), "the last axis (statistics per channel)")
    mean, variance = _statistics(ctx)
    deviation = np.maximum(np.sqrt(variance), _EPSILON)
    if ctx.get("invert", False):
        scale, offset = deviation, mean
    else:
        scale, offset = 1.0 / deviation, -mean / deviation
    params = (_constant(ctx, "scale", scale), _constant(ctx, "offset", offset))
    return [ctx.node("scale_shift", ScaleShift(keras_axis(axis)), params)]


@handles("LayerScale")
def layer_scale(ctx: LayerContext) -> list:
    """LayerScale(init_values, projection_dim) of ConvNeXt: x * gamma over the last axis."""
    return [ctx.node("layer_scale", LayerScale(), tuple(ctx.weights("gamma").values()))]


@handles("CustomScaleLayer")
def custom_scale(ctx: LayerContext) -> list:
    """CustomScaleLayer(scale) of InceptionResNetV2: inputs[0] + inputs[1] * scale."""
    if len(ctx.call.inputs) != 2:
        ctx.reject("inputs", len(ctx.call.inputs), "two tensors")
    scaled = f"{ctx.name}/scaled"
    return [ctx.node("elementwise", Elementwise("multiply", float(ctx.get("scale"))),
                     name=scaled, inputs=(ctx.call.inputs[1],), outputs=(scaled,)),
            ctx.node("add", Merge(), inputs=(ctx.call.inputs[0], scaled))]


@handles("PReLU")
def prelu(ctx: LayerContext) -> list:
    """PReLU(shared_axes): a learned slope for negative inputs."""
    alpha = ctx.weights("alpha")["alpha"]
    return [ctx.node("prelu", PReLU(alpha.shape), (alpha,))]


# --- parameters ------------------------------------------------------------------------------

def _last_axis(ins):
    return ins[0][-1] if ins and ins[0] else None


def _scale_shift_params(attrs, ins) -> dict:
    if attrs.axis is None:
        return dict(zip(("scale", "offset"), attrs.shapes))
    return {"scale": (None,), "offset": (None,)}


def _layer_scale_params(attrs, ins) -> dict:
    return {"gamma": (_last_axis(ins) if attrs.per_channel else 1,)}


def _prelu_params(attrs, ins) -> dict:
    return {"alpha": attrs.alpha_shape}


def dml_row(value: np.ndarray, site) -> np.ndarray:
    """The values in the DML order of their own shape (images channels first), as one row."""
    if value.ndim == 3:
        value = np.transpose(value, (2, 0, 1))
    return f64(value.reshape(1, -1))


# --- templates -------------------------------------------------------------------------------

def _expanded(n: Step, role: str) -> dict:
    """Lines setting <out>_<role> to the factor laid over the whole sample, and the backward's
    lines summing its gradient back (for learned factors)."""
    shape = known(n.in_shape, "shape")
    small = n.node.param(role).shape
    if not broadcast.can_broadcast(small, shape) and small != (1,):
        raise Unsupported(role, list(small), f"a shape that broadcasts to the input {shape}")
    full = f"{n.out}_{role}_full"  # not the parameter's own name: the training loop reads it again
    lines = broadcast.expand(n.params[role], full, small, shape)
    back = broadcast.reduce(f"{n.out}_d{role}_full", n.param_grads.get(role, f"{n.out}_d{role}"), small,
                            shape) if role in n.param_grads else []
    return dict(var=full, lines=lines, back=back)


def _scale_shift_context(n: Step) -> dict:
    return dict(scale=_expanded(n, "scale"), offset=_expanded(n, "offset"))


def _layer_scale_context(n: Step) -> dict:
    return dict(factor=_expanded(n, "gamma"), module="scale", role="gamma")


def _prelu_context(n: Step) -> dict:
    return dict(factor=_expanded(n, "alpha"), module="prelu", role="alpha")


def _scale_shift_shape(node, attrs, ins):
    if attrs.axis is None:          # the factors' shapes are checked against the sample's when
        return attrs, ins[0]        # the template expands them
    return last_axis_only(node, attrs, ins[0]), ins[0]


define("scale_shift", ScaleShift, shape=_scale_shift_shape, params=_scale_shift_params,
       weights=(Weight("scale", "scale", trainable=False, layout=dml_row),
                Weight("offset", "offset", trainable=False, layout=dml_row)),
       template="scale_shift.dml.j2", context=_scale_shift_context, family=__name__)
define("layer_scale", LayerScale, shape=same_shape, params=_layer_scale_params,
       weights=(Weight("gamma", "gamma", layout=dml_row),), template="learned_factor.dml.j2",
       context=_layer_scale_context, sources=("scale",), family=__name__)
define("prelu", PReLU, shape=same_shape, params=_prelu_params,
       weights=(Weight("alpha", "alpha", layout=dml_row),), template="learned_factor.dml.j2",
       context=_prelu_context, sources=("prelu",), family=__name__)
