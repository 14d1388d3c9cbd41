"""Activation layers, and the activations fused into other layers (Dense(activation="relu"))."""
from __future__ import annotations

from ... import ir
from ..context import LayerContext
from ..registry import handles

_ALIASES = {"silu": "swish"}
_DEFAULTS = {  # the defaults of keras.activations.<name> when named by a string
    "elu": dict(alpha=1.0),
    "leaky_relu": dict(alpha=0.2),
    "relu6": dict(max_value=6.0),
}
ACCEPTED = ", ".join(ir.ACTIVATION_KINDS + tuple(_ALIASES) + ("relu6",))


def _name(value) -> str | None:
    """'relu', or the name inside Keras 3's serialized form of a built-in activation function."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and str(value.get("module") or "").startswith("keras") \
            and isinstance(value.get("config"), str):
        return value["config"]
    return None


def activation(ctx: LayerContext, key: str, value) -> ir.Activation:
    name = _name(value)
    kind = "relu" if name == "relu6" else _ALIASES.get(name, name)
    if kind not in ir.ACTIVATION_KINDS:
        ctx.reject(key, value, ACCEPTED)
    return ir.Activation(kind, **_DEFAULTS.get(name, {}))


def fused_activation(ctx: LayerContext, key: str = "activation") -> ir.Activation | None:
    """The activation applied inside a layer, None when it is linear."""
    value = ctx.get(key, "linear")
    if value is None:
        return None
    act = activation(ctx, key, value)
    return None if act.kind == "linear" else act


@handles("Activation")
def activation_layer(ctx: LayerContext) -> list:
    """Activation(name): relu, sigmoid, tanh, softmax, elu, selu, gelu, swish/silu, softplus,
    leaky_relu, linear, relu6."""
    return [ctx.node("activation", activation(ctx, "activation", ctx.get("activation")))]


@handles("ReLU")
def relu(ctx: LayerContext) -> list:
    """ReLU(max_value, negative_slope, threshold)."""
    max_value = ctx.get("max_value", None)
    attrs = ir.Activation("relu", alpha=float(ctx.get("negative_slope", 0.0)),
                          max_value=None if max_value is None else float(max_value),
                          threshold=float(ctx.get("threshold", 0.0)))
    return [ctx.node("activation", attrs)]


@handles("LeakyReLU")
def leaky_relu(ctx: LayerContext) -> list:
    """LeakyReLU(negative_slope) (Keras 2: alpha)."""
    slope = ctx.get("negative_slope", ctx.get("alpha", 0.3))
    return [ctx.node("activation", ir.Activation("leaky_relu", alpha=float(slope)))]


@handles("ELU")
def elu(ctx: LayerContext) -> list:
    """ELU(alpha)."""
    return [ctx.node("activation", ir.Activation("elu", alpha=float(ctx.get("alpha", 1.0))))]


@handles("Softmax")
def softmax(ctx: LayerContext) -> list:
    """Softmax over the last axis."""
    axis = ctx.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", axis, "the last axis (-1)")
    return [ctx.node("activation", ir.Activation("softmax", axis=keras_axis(axis)))]


def keras_axis(axis: int) -> int:
    """A Keras axis (counting the batch dimension) as an IR axis (per sample)."""
    return axis if axis < 0 else axis - 1
