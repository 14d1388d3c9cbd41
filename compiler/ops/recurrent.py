"""Recurrent layers: SimpleRNN, LSTM, GRU on dml_lib's recurrent layers (Keras' default
activations), with Keras' gate order kept in the weights; go_backwards reads the steps in reverse
("reverse_steps" op, dml_lib's reverse_steps.dml, also used by Bidirectional) and, as Keras, keeps
a sequence output in that reversed order.

DML layout: kernel (D, G*U), recurrent_kernel (U, G*U), bias (1, G*U) or, for a GRU with
reset_after, (2, 3*U); gates stay in Keras' order (lstm i, f, c, o; gru z, r, h), which dml_lib
follows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, Unsupported, sequence_rows, zeros
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, define
from .activations import Activation, activation
from .shaping import last_dim, require_rank, same_shape


@dataclass(frozen=True)
class Recurrent:
    """simple_rnn / lstm / gru over (T, D) -> (T, units) or (units,).

    kernel (D, G*units), recurrent_kernel (units, G*units), bias (G*units,) with the gates in
    Keras' order: simple_rnn G=1; lstm G=4 [input, forget, cell, output]; gru G=3
    [update z, reset r, candidate h], and its bias is (2, 3*units) when reset_after (row 0 for the
    input projection, row 1 for the recurrent one). simple_rnn uses no recurrent_activation.
    """
    units: int
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    return_sequences: bool = False
    use_bias: bool = True
    reset_after: bool = True


@dataclass(frozen=True)
class ReverseSteps:
    """(T, D) -> (T, D) with the steps in reverse order."""


_OPS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


# --- frontend --------------------------------------------------------------------------------

def _plain_activation(ctx: LayerContext, key: str, default: str) -> str:
    act = activation(ctx, key, ctx.get(key, default))
    if act != Activation(act.kind) or act.kind == "softmax":
        ctx.reject(key, ctx.get(key), "an activation without parameters (tanh, sigmoid, relu, ...)")
    return act.kind


@handles(*_OPS)
def recurrent(ctx: LayerContext) -> list:
    """SimpleRNN/LSTM/GRU(units, activation, recurrent_activation, return_sequences, use_bias,
    go_backwards; GRU reset_after either way)."""
    for flag, why in (("return_state", "returning the states"),
                      ("stateful", "stateful recurrence")):
        if ctx.get(flag, False):
            ctx.reject(flag, True, f"False ({why} is not supported)")
    use_bias = bool(ctx.get("use_bias", True))
    names = ("kernel", "recurrent_kernel") + (("bias",) if use_bias else ())
    attrs = Recurrent(
        units=int(ctx.get("units")),
        activation=_plain_activation(ctx, "activation", "tanh"),
        recurrent_activation=(_plain_activation(ctx, "recurrent_activation", "sigmoid")
                              if ctx.class_name != "SimpleRNN" else "sigmoid"),
        return_sequences=bool(ctx.get("return_sequences", False)),
        use_bias=use_bias,
        reset_after=bool(ctx.get("reset_after", True)) if ctx.class_name == "GRU" else True)
    params = tuple(ctx.weights(*names).values())
    if not ctx.get("go_backwards", False):
        return [ctx.node(_OPS[ctx.class_name], attrs, params)]
    reversed_in = reverse_steps(ctx, f"{ctx.name}/reversed_input", ctx.call.inputs[0])
    return [reversed_in, ctx.node(_OPS[ctx.class_name], attrs, params,
                                  inputs=(reversed_in.output,))]


def reverse_steps(ctx: LayerContext, name: str, tensor: str):
    return ctx.node("reverse_steps", ReverseSteps(), name=name, inputs=(tensor,), outputs=(name,))


# --- shapes and parameters -------------------------------------------------------------------

def _shape(node, attrs, ins):
    require_rank(node, ins[0], 2, "(steps, features)")
    return attrs, (ins[0][0], attrs.units) if attrs.return_sequences else (attrs.units,)


def _reverse_shape(node, attrs, ins):
    require_rank(node, ins[0], 2, "(steps, features)")
    return same_shape(node, attrs, ins)


def _params(op: str):
    def params(a: Recurrent, ins) -> dict:
        width = _GATES[op] * a.units
        out = {"kernel": (last_dim(ins), width), "recurrent_kernel": (a.units, width)}
        if a.use_bias:
            out["bias"] = (2, width) if op == "gru" and a.reset_after else (width,)
        return out
    return params


# --- template --------------------------------------------------------------------------------

_NO_STATE = "matrix(0, rows=0, cols=0)"  # dml_lib's "zeros" initial state


def _context(n: Step) -> dict:
    a, op = n.attrs, n.node.op
    # dml_lib's recurrent layers read the number of steps from X: any length runs
    if n.in_shape[-1] is None:
        raise Unsupported("input shape", n.in_shape, "a fixed number of features per step")
    if a.activation != "tanh":
        raise Unsupported("activation", a.activation, "'tanh' (dml_lib's recurrent layers)")
    if op != "simple_rnn" and a.recurrent_activation != "sigmoid":
        raise Unsupported("recurrent_activation", a.recurrent_activation, "'sigmoid'")
    width = _GATES[op] * a.units
    bias_rows = 2 if op == "gru" and a.reset_after else 1
    flags = "TRUE" if a.return_sequences else "FALSE"
    if op == "gru":
        flags += ", TRUE" if a.reset_after else ", FALSE"
    return dict(module=op, sources=(op,), flags=flags, h0=_NO_STATE,
                b=n.params.get("bias") or zeros(bias_rows, width),
                db=n.param_grads.get("bias") or f"{n.out}_dzero",
                caches=_caches(n, op))


def _reverse_context(n: Step) -> dict:
    steps, _ = sequence_rows(n, "(steps, features)")   # an open length is read from the batch
    return dict(T=steps)


def _caches(n: Step, op: str) -> dict:
    """The forward results backward needs: hidden states H, cell states C, gates G."""
    names = {"simple_rnn": ("H",), "lstm": ("H", "C", "G"), "gru": ("H", "G")}[op]
    return {name: f"{n.out}_{name}" for name in names}


_WEIGHTS = (Weight("kernel", "W"), Weight("recurrent_kernel", "U"), Weight("bias", "b"))
for _op in _GATES:
    define(_op, Recurrent, shape=_shape, params=_params(_op), weights=_WEIGHTS,
           template="recurrent.dml.j2", context=_context, library=(_op,), family=__name__)
define("reverse_steps", ReverseSteps, shape=_reverse_shape, template="reverse_steps.dml.j2",
       context=_reverse_context, sources=("reverse_steps",), family=__name__)
