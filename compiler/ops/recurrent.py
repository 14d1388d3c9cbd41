"""Recurrent layers: SimpleRNN, LSTM, GRU on dml_lib's recurrent layers, with Keras' gate order
kept in the weights; any activation and recurrent_activation whose derivative dml_lib reads from
its output (simple_rnn.dml's activate: tanh, sigmoid, relu, hard_sigmoid, ...); go_backwards
reads the steps in reverse ("reverse_steps" op, dml_lib's reverse_steps.dml, also used by
Bidirectional) and, as Keras, keeps a sequence output in that reversed order. initial_state
tensors are the recurrence's h0 (and c0), and gradients flow back to them. return_state adds
the final states as more nodes sharing the weights: the last hidden state (the output itself,
or a second pass without return_sequences) and an LSTM's last cell state (a pass that outputs
it, its gradient lstm::backward's dc_last); the passes share the weights' variables, so training
sums their gradients (backend/emitter.py). A Keras mask (masking.py)
is the node's last input: a masked step keeps the states before it, and outputs them (or zeros
with zero_output_for_mask).

dropout and recurrent_dropout act in training as Keras 3's: for each sequence one mask on the
inputs and one on the state that feeds the recurrent kernel, the same at every step, drawn with
the batch's seed as the Dropout layer draws its own (dml_lib's recurrent_dropout.dml); an LSTM or
GRU draws one mask per gate where Keras runs its implementation 1 (which recurrent_dropout
selects), else one for all gates. A rate of 1 drops nothing in an LSTM or GRU, as in Keras.
Prediction ignores them.

DML layout: kernel (D, G*U), recurrent_kernel (U, G*U), bias (1, G*U) or, for a GRU with
reset_after, (2, 3*U); gates stay in Keras' order (lstm i, f, c, o; gru z, r, h), which dml_lib
follows.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..backend.step import Step, Unsupported, known, seed_offset, sequence_rows, size, zeros
from ..frontend.config import TensorArg
from ..errors import ModelFileError
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, define
from .activations import Activation, activation
from .masking import require_mask
from .shaping import fail, last_dim, require_rank, same_shape


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
    cell_state: bool = False   # output the last cell state instead (LSTM's return_state)
    masked: bool = False       # a (steps,) mask is the last input
    zero_output: bool = False  # a masked step outputs zeros (Keras' zero_output_for_mask)
    dropout: float = 0.0       # Keras' rates, applied in training only
    recurrent_dropout: float = 0.0
    gate_masks: bool = False   # one dropout mask per gate (Keras' implementation 1)
    masks_of: str | None = None  # a return_state pass: the node whose dropout masks it repeats


@dataclass(frozen=True)
class ReverseSteps:
    """(T, D) -> (T, D), or a mask (T,) -> (T,), with the steps in reverse order."""


_OPS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
# the activations dml_lib's recurrent layers compute (simple_rnn.dml's activate): those whose
# derivative is a function of their output
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "hard_tanh", "softsign",
               "softplus", "log_sigmoid", "exponential", "selu")
_DEFAULTS = {"activation": "tanh", "recurrent_activation": "sigmoid"}
_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


# --- frontend --------------------------------------------------------------------------------

def _activation(ctx: LayerContext, key: str) -> str:
    kind = plain_activation(ctx, key, _DEFAULTS[key])
    if kind not in ACTIVATIONS:
        ctx.reject(key, ctx.get(key), f"one of {', '.join(ACTIVATIONS)} (those whose derivative "
                   "dml_lib's recurrent layers read from their output)")
    return kind


def plain_activation(ctx: LayerContext, key: str, default: str) -> str:
    act = activation(ctx, key, ctx.get(key, default))
    if act != Activation(act.kind) or act.kind == "softmax":
        ctx.reject(key, ctx.get(key), "an activation without parameters (tanh, sigmoid, relu, ...)")
    return act.kind


@handles(*_OPS, tensor_kwargs=("initial_state",))
def recurrent(ctx: LayerContext) -> list:
    """SimpleRNN/LSTM/GRU(units, activation, recurrent_activation, return_sequences, use_bias,
    go_backwards, return_state, zero_output_for_mask, dropout, recurrent_dropout; GRU
    reset_after either way), called with or without initial_state and a mask. activation and
    recurrent_activation: tanh, sigmoid, relu, linear, hard_sigmoid, hard_tanh, softsign,
    softplus, log_sigmoid, exponential or selu. dropout and recurrent_dropout train as Keras'
    (a mask per sequence, the same at every step); return_state's states train too."""
    if ctx.get("stateful", False):
        ctx.reject("stateful", True, "False (stateful recurrence is not supported)")
    use_bias = bool(ctx.get("use_bias", True))
    names = ("kernel", "recurrent_kernel") + (("bias",) if use_bias else ())
    gated = ctx.class_name != "SimpleRNN"
    rates = {key: min(1.0, max(0.0, float(ctx.get(key, 0.0) or 0.0)))   # Keras clips them
             for key in ("dropout", "recurrent_dropout")}
    attrs = Recurrent(
        units=int(ctx.get("units")),
        activation=_activation(ctx, "activation"),
        recurrent_activation=_activation(ctx, "recurrent_activation") if gated else "sigmoid",
        return_sequences=bool(ctx.get("return_sequences", False)),
        use_bias=use_bias,
        reset_after=bool(ctx.get("reset_after", True)) if ctx.class_name == "GRU" else True,
        masked=ctx.mask is not None,
        zero_output=ctx.mask is not None and bool(ctx.get("zero_output_for_mask", False)),
        **rates,
        # Keras' LSTM and GRU switch to implementation 1 (a mask per gate) with any
        # recurrent_dropout; a Keras 2 file may also name it
        gate_masks=gated and (rates["recurrent_dropout"] != 0
                              or ctx.get("implementation", 2) == 1))
    params = tuple(ctx.weights(*names).values())
    nodes, inputs, mask = [], (ctx.call.inputs[0],), ctx.mask
    if ctx.get("go_backwards", False):   # Keras reverses the mask with the steps
        nodes.append(reverse_steps(ctx, f"{ctx.name}/reversed_input", ctx.call.inputs[0]))
        inputs = (nodes[-1].output,)
        if mask is not None:
            nodes.append(reverse_steps(ctx, f"{ctx.name}/reversed_mask", mask))
            mask = nodes[-1].output
    inputs += _initial_state(ctx) + ((mask,) if mask is not None else ())
    op = _OPS[ctx.class_name]
    nodes.append(ctx.node(op, attrs, params, inputs=inputs))
    if ctx.get("return_state", False):
        nodes += _final_states(ctx, op, attrs, params, inputs)
    return nodes


_CELLS = {"SimpleRNNCell": "SimpleRNN", "LSTMCell": "LSTM", "GRUCell": "GRU"}
_RNN_FLAGS = ("return_sequences", "return_state", "go_backwards", "stateful",
              "zero_output_for_mask")


@dataclass(frozen=True)
class StoredArrays:
    """A weight store answering with fixed arrays: one part's share of a layer's (a direction
    of a Bidirectional layer, a cell of stacked cells)."""
    stored: tuple

    def arrays(self, path) -> list:
        return list(self.stored)


def sublayer(ctx: LayerContext, entry: dict, config: dict, stored: tuple, prefix: str,
             name: str, inputs: tuple, mask: str | None) -> list:
    """The recurrent node(s) of a layer inside `ctx`'s layer (a direction, a cell), from its
    Keras `entry` with `config`, named `name` and reading `inputs` (and `mask`), with the
    `stored` arrays; its weights are named after the sub-layer (`prefix`/kernel), so the parts
    stay apart."""
    call = dataclasses.replace(ctx.call, name=name, entry=dict(entry, config=config),
                               class_name=str(entry.get("class_name")), inputs=inputs)
    source = dataclasses.replace(ctx.source, weights=StoredArrays(stored))
    return [node.replace(params=tuple(dataclasses.replace(p, weight=f"{prefix}/{p.weight}")
                                      for p in node.params))
            for node in recurrent(LayerContext(call, source, mask))]


@handles("RNN", tensor_kwargs=("initial_state",))
def rnn(ctx: LayerContext) -> list:
    """RNN(SimpleRNNCell/LSTMCell/GRUCell, return_sequences, return_state, go_backwards): the
    layer of that cell, with the cell's config and weights. RNN(StackedRNNCells, i.e. a list of
    such cells; return_sequences, go_backwards, with or without a Keras mask, no return_state
    or initial_state): the layers of the cells one after the other, each reading the sequence
    the one before returns."""
    cell = ctx.get("cell")
    kind = cell.get("class_name") if isinstance(cell, dict) else cell
    if kind == "StackedRNNCells":
        return _stacked_cells(ctx, (cell.get("config") or {}).get("cells"))
    if kind not in _CELLS:
        ctx.reject("cell", kind, "one SimpleRNNCell, LSTMCell or GRUCell, or StackedRNNCells "
                                 "of them")
    config = dict(cell.get("config") or {},
                  **{key: ctx.config[key] for key in _RNN_FLAGS if key in ctx.config})
    call = dataclasses.replace(ctx.call, entry=dict(ctx.call.entry, config=config),
                               class_name=_CELLS[kind])
    return [node.replace(keras_class=ctx.class_name)
            for node in recurrent(LayerContext(call, ctx.source, ctx.mask, ctx.masks))]


def _stacked_cells(ctx: LayerContext, cells) -> list:
    """Keras steps every cell at each time step, the next cell reading the output of the one
    before; that is each cell's layer run over the whole sequence of the one before (the
    first reading the input, reversed once for go_backwards, and a masked step skipped by
    all), the last returning what the RNN returns."""
    if not isinstance(cells, list) or not cells:
        ctx.reject("cell", "StackedRNNCells without cells", "one cell or more")
    for key, what in (("return_state", "a stack of cells' states"),
                      ("stateful", "stateful recurrence")):
        if ctx.get(key, False):
            ctx.reject(key, True, f"False ({what} is not supported)")
    if ctx.call.kwargs.get("initial_state") is not None:
        ctx.reject("initial_state", "given", "none (a stack of cells starts from zeros)")
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("class_name") not in _CELLS:
            ctx.reject("cells", (cell or {}).get("class_name"),
                       "SimpleRNNCell, LSTMCell or GRUCell cells")
    stored = tuple(ctx.source.weights.arrays(ctx.call.path))
    counts = [2 + bool((c.get("config") or {}).get("use_bias", True)) for c in cells]
    if len(stored) != sum(counts):
        raise ModelFileError(ctx.source.path, f"layer '{ctx.call.layer}' (RNN of "
                             f"{len(cells)} cells) has {len(stored)} weight arrays, expected "
                             f"{sum(counts)}")
    nodes, sequence, mask = [], ctx.call.inputs[0], ctx.mask
    if ctx.get("go_backwards", False):   # Keras reverses the mask with the steps
        nodes.append(reverse_steps(ctx, f"{ctx.name}/reversed_input", sequence))
        sequence = nodes[-1].output
        if mask is not None:
            nodes.append(reverse_steps(ctx, f"{ctx.name}/reversed_mask", mask))
            mask = nodes[-1].output
    first = 0
    for index, (cell, count) in enumerate(zip(cells, counts)):
        last = index == len(cells) - 1
        cell_name = str((cell.get("config") or {}).get("name") or f"cell_{index}")
        config = dict(cell.get("config") or {}, go_backwards=False,
                      return_sequences=bool(ctx.get("return_sequences", False)) if last else True,
                      zero_output_for_mask=bool(ctx.get("zero_output_for_mask", False)) and last)
        entry = dict(cell, class_name=_CELLS[cell["class_name"]])
        name = ctx.name if last else f"{ctx.name}/{cell_name}"
        nodes += [node.replace(keras_class=ctx.class_name) for node in sublayer(
            ctx, entry, config, stored[first:first + count], cell_name, name, (sequence,), mask)]
        sequence, first = name, first + count
    return nodes


def _initial_state(ctx: LayerContext) -> tuple:
    """The tensors of initial_state (h0, and c0 for an LSTM), if the call gives them."""
    given = ctx.call.kwargs.get("initial_state")
    if given is None:
        return ()
    states = given if isinstance(given, list) else [given]
    count = 2 if ctx.class_name == "LSTM" else 1
    if len(states) != count or not all(isinstance(s, TensorArg) for s in states):
        ctx.reject("initial_state", f"{len(states)} values", f"{count} tensors")
    return tuple(s.name for s in states)


def _final_states(ctx: LayerContext, op: str, attrs: Recurrent, params: tuple,
                  inputs: tuple) -> list:
    """The nodes of Keras' extra outputs "name#1" (last hidden state) and, for an LSTM,
    "name#2" (last cell state)."""
    # the states are the kept ones even where zero_output zeroes a masked last step's output;
    # a pass of the same layer call drops what the first pass dropped
    last = dataclasses.replace(attrs, return_sequences=False, zero_output=False,
                               masks_of=ctx.name)
    hidden = f"{ctx.name}#1"
    nodes = [ctx.node(op, last, params, name=hidden, inputs=inputs, outputs=(hidden,))
             if attrs.return_sequences or attrs.zero_output else
             ctx.node("activation", Activation("linear"), name=hidden, inputs=(ctx.name,),
                      outputs=(hidden,))]
    if op == "lstm":
        cell = f"{ctx.name}#2"
        nodes.append(ctx.node(op, dataclasses.replace(last, cell_state=True), params, name=cell,
                              inputs=inputs, outputs=(cell,)))
    return nodes


def reverse_steps(ctx: LayerContext, name: str, tensor: str):
    return ctx.node("reverse_steps", ReverseSteps(), name=name, inputs=(tensor,), outputs=(name,))


# --- shapes and parameters -------------------------------------------------------------------

def _shape(node, attrs, ins):
    require_rank(node, ins[0], 2, "(steps, features)")
    if attrs.masked:
        require_mask(node, ins[-1], ins[0])
    for state in ins[1:len(ins) - attrs.masked]:
        if tuple(state) != (attrs.units,):
            fail(node, f"an initial state of shape {state}, expected ({attrs.units},)")
    return attrs, (ins[0][0], attrs.units) if attrs.return_sequences else (attrs.units,)


def _reverse_shape(node, attrs, ins):
    # a mask (steps,), a sequence, or frames (steps, height, width, channels) held in Keras'
    # order (not (steps, length, channels), which DML holds channels first)
    if len(ins[0]) not in (1, 2, 4):
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

_NO_STATE = "matrix(0, rows=0, cols=0)"  # dml_lib's "zeros" initial state, "no mask"


def _context(n: Step) -> dict:
    a, op = n.attrs, n.node.op
    # dml_lib's recurrent layers read the number of steps from X: any length runs
    if n.in_shape[-1] is None:
        raise Unsupported("input shape", n.in_shape, "a fixed number of features per step")
    width = _GATES[op] * a.units
    bias_rows = 2 if op == "gru" and a.reset_after else 1
    flags = "TRUE" if a.return_sequences else "FALSE"
    if op == "gru":
        flags += ", TRUE" if a.reset_after else ", FALSE"
    given = len(n.xs) - a.masked   # the input and the initial states
    states = list(n.xs[1:given]) + [_NO_STATE] * (3 - given)
    gradients = [n.dxs[i] if i < given else f"{n.out}_d{name}"
                 for i, name in ((1, "h0"), (2, "c0"))]
    activation_arg = f', "{a.activation}"' if op == "simple_rnn" else ""
    mask = n.xs[-1] if a.masked else _NO_STATE   # dml_lib's "every step counts"
    # the arguments after the initial states, every one spelled out: mask, zero_output, an
    # LSTM's or GRU's activations, then the dropout factors (none: the empty matrix)
    tail_args = f", {mask}, {'TRUE' if a.zero_output else 'FALSE'}"
    dropout = _dropout(n, op)
    if op != "simple_rnn":
        tail_args += f', "{a.activation}", "{a.recurrent_activation}"'
    tail_args += f", {n.out}_Fx, {n.out}_Fh" if dropout else f", {_NO_STATE}, {_NO_STATE}"
    # the pass giving an LSTM's last cell state: no gradient for its hidden states, the node's
    # for the last cell state
    backward_dout = f"matrix(0, rows=nrow({n.x}), cols={a.units})" if a.cell_state else n.dout
    last_cell = f", {n.dout if a.cell_state else _NO_STATE}" if op == "lstm" else ""
    return dict(module=op, sources=(op, *dropout.get("sources", ())), flags=flags,
                h0=states[0], c0=states[1], activation_arg=activation_arg, tail_args=tail_args,
                backward_dout=backward_dout, last_cell_gradient=last_cell,
                dropout=dropout or None,
                mask=n.xs[-1] if a.masked else None, dmask=n.dxs[-1],
                dh0=gradients[0], dc0=gradients[1], cell_state=a.cell_state,
                b=n.params.get("bias") or zeros(bias_rows, width),
                db=n.param_grads.get("bias") or f"{n.out}_dzero",
                caches=_caches(n, op))


def _reverse_context(n: Step) -> dict:
    if len(n.in_shape) == 1:   # a mask: one value per step
        return dict(T=n.in_shape[0] or f"ncol({n.x})")
    if len(n.in_shape) == 4:   # frames: one step is a whole (height, width, channels) frame
        frame = size(known(n.in_shape[1:], "frame size"))
        return dict(T=n.in_shape[0] or f"as.integer(ncol({n.x}) / {frame})")
    steps, _ = sequence_rows(n, "(steps, features)")   # an open length is read from the batch
    return dict(T=steps)


def _rate(n: Step, op: str, key: str) -> float:
    """The rate Keras applies in training: LSTM and GRU drop nothing at a rate of 1 (they
    apply a mask for 0 < rate < 1 only); a SimpleRNN would drop everything."""
    rate = getattr(n.attrs, key)
    if rate >= 1 and op == "simple_rnn":
        raise Unsupported(key, rate, "a rate below 1 in training (a SimpleRNN's rate of 1 "
                          "drops every input)")
    return rate if rate < 1 else 0.0


def _dropout(n: Step, op: str) -> dict:
    """What the template's mask draw needs in training with a rate above 0: for the inputs and
    the state, the factors' widths (one mask, or one per gate) and rates, and the seed."""
    if not n.training:
        return {}
    rates = [_rate(n, op, key) for key in ("dropout", "recurrent_dropout")]
    if not any(rates):
        return {}
    a = n.attrs
    masks = _GATES[op] if a.gate_masks else 1
    widths = [masks * n.in_shape[-1] if rates[0] else 0, masks * a.units if rates[1] else 0]
    first = n if a.masks_of is None else dataclasses.replace(n, node=n.graph.node(a.masks_of))
    return dict(args=f"{widths[0]}, {rates[0]!r}, {widths[1]}, {rates[1]!r}",
                seed_offset=seed_offset(first), sources=("recurrent_dropout",))


def _caches(n: Step, op: str) -> dict:
    """The forward results backward needs: hidden states H, cell states C, gates G."""
    names = {"simple_rnn": ("H",), "lstm": ("H", "C", "G"), "gru": ("H", "G")}[op]
    return {name: f"{n.out}_{name}" for name in names}


_WEIGHTS = (Weight("kernel", "W"), Weight("recurrent_kernel", "U"), Weight("bias", "b"))
for _op in _GATES:
    define(_op, Recurrent, shape=_shape, params=_params(_op), weights=_WEIGHTS,
           template="recurrent.dml.j2", context=_context, library=(_op, "recurrent_dropout"),
           family=__name__,
           max_inputs=2 + (2 if _op == "lstm" else 1))
define("reverse_steps", ReverseSteps, shape=_reverse_shape, template="reverse_steps.dml.j2",
       context=_reverse_context, sources=("reverse_steps",), family=__name__)
