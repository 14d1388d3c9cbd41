"""Recurrent layers: SimpleRNN, LSTM, GRU, with Keras' gate order kept in the weights."""
from __future__ import annotations

from ... import ir
from ..context import LayerContext
from ..registry import handles
from .activations import activation

_OPS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}


def _plain_activation(ctx: LayerContext, key: str, default: str) -> str:
    act = activation(ctx, key, ctx.get(key, default))
    if act != ir.Activation(act.kind) or act.kind == "softmax":
        ctx.reject(key, ctx.get(key), "an activation without parameters (tanh, sigmoid, relu, ...)")
    return act.kind


@handles(*_OPS)
def recurrent(ctx: LayerContext) -> list:
    """SimpleRNN/LSTM/GRU(units, activation, recurrent_activation, return_sequences, use_bias;
    GRU reset_after either way)."""
    for flag, why in (("return_state", "returning the states"), ("go_backwards", "reversed input"),
                      ("stateful", "stateful recurrence")):
        if ctx.get(flag, False):
            ctx.reject(flag, True, f"False ({why} is not supported)")
    use_bias = bool(ctx.get("use_bias", True))
    names = ("kernel", "recurrent_kernel") + (("bias",) if use_bias else ())
    attrs = ir.Recurrent(
        units=int(ctx.get("units")),
        activation=_plain_activation(ctx, "activation", "tanh"),
        recurrent_activation=(_plain_activation(ctx, "recurrent_activation", "sigmoid")
                              if ctx.class_name != "SimpleRNN" else "sigmoid"),
        return_sequences=bool(ctx.get("return_sequences", False)),
        use_bias=use_bias,
        reset_after=bool(ctx.get("reset_after", True)) if ctx.class_name == "GRU" else True)
    return [ctx.node(_OPS[ctx.class_name], attrs, tuple(ctx.weights(*names).values()))]
