"""SimpleRNN, LSTM and GRU on dml_lib's recurrent layers (Keras' default activations)."""
from __future__ import annotations

from ..registry import op_template
from ..step import Step, Unsupported, known
from .core import zeros

_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
_NO_STATE = "matrix(0, rows=0, cols=0)"  # dml_lib's "zeros" initial state


@op_template(("simple_rnn", "lstm", "gru"), "recurrent.dml.j2")
def recurrent(n: Step) -> dict:
    a, op = n.a, n.node.op
    known(n.in_shape, "sequence length")
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
                b=n.p.get("bias") or zeros(bias_rows, width),
                db=n.dp.get("bias") or f"{n.out}_dzero",
                caches=_caches(n, op))


def _caches(n: Step, op: str) -> dict:
    """The forward results backward needs: hidden states H, cell states C, gates G."""
    names = {"simple_rnn": ("H",), "lstm": ("H", "C", "G"), "gru": ("H", "G")}[op]
    return {name: f"{n.out}_{name}" for name in names}
