"""MultiHeadAttention and GroupQueryAttention over sequences: the "attention" op on dml_lib's
multi_head_attention.dml (grouped queries: fewer key/value heads, each shared by a group of
consecutive query heads), self- and cross-attention, with Keras' masks (use_causal_mask, an
attention_mask tensor, and the automatic one from the Keras masks of the query, value and key,
e.g. an Embedding's mask_zero: reshape and multiply nodes ahead of the op).

Inputs of the node: query, key, value (key is the value unless the call passes one), then the
attention mask when there is one ((Tq, Tk) per sample, 1 where a query step may attend a key
step). In training, `dropout` drops attention probabilities (after the softmax, before the values)
as Keras does, with a mask drawn like the Dropout layer's; prediction ignores it. DML layout: the
(D, H, d) projection kernels are read row-major as D x (H*d), their (H, d) biases as rows,
the (H, dv, Do) output kernel as (H*dv) x Do; GroupQueryAttention's key and value kernels
(D, G, d) and biases (G, d) the same way, with G key/value heads.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import ir
from ..backend.step import Step, known, seed_offset
from ..frontend.config import TensorArg
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, define, f64
from .dot import Nodes
from .merge import Merge
from .reshaping import Reshape
from .shaping import fail, require_rank

_PROJECTIONS = ("query", "key", "value", "output")
# the output projection's sub-layer is `output_dense` (`_output_dense` for GroupQueryAttention)
# in a .keras archive and `attention_output` in a legacy .h5 file and in Keras' variable paths
_PROJECTION_ALIASES = {"attention_output": "output"}
_UNSUPPORTED_CALL = ("query_mask", "value_mask", "key_mask")


@dataclass(frozen=True)
class Attention:
    heads: int
    key_dim: int
    value_dim: int
    use_bias: bool = True
    causal: bool = False
    masked: bool = False        # an attention_mask tensor is the node's fourth input
    dropout: float = 0.0
    output_dim: int | None = None  # output_shape's features; None: the query's
    kv_heads: int | None = None    # key/value heads, each shared by heads // kv_heads query
                                   # heads (GroupQueryAttention); None: one per query head

    @property
    def shared_heads(self) -> int:
        return self.kv_heads or self.heads


# --- frontend --------------------------------------------------------------------------------

def _refuse_unbuilt_options(ctx: LayerContext) -> None:
    """Keras' gated attention and sliding-window mask are not built."""
    for key, default in (("use_gate", False), ("sliding_window", None)):
        if ctx.get(key, default) != default:
            ctx.reject(key, ctx.get(key), repr(default))


def _attention_node(ctx: LayerContext, attrs: Attention) -> list:
    """The attention node of a call, after the nodes of its automatic mask (if any)."""
    query, key, value, mask = _inputs(ctx)
    automatic = _input_masks(ctx, query, key, value)
    if automatic:
        mask = automatic[-1].output if mask is None else _and(ctx, automatic, mask)
    attrs = replace(attrs, causal=bool(ctx.call.kwargs.get("use_causal_mask", False)),
                    masked=mask is not None)
    inputs = (query, key, value) + ((mask,) if mask else ())
    return [*automatic, ctx.node("attention", attrs, _weights(ctx, attrs.use_bias),
                                 inputs=inputs)]


def _tensor(value) -> str | None:
    return value.name if isinstance(value, TensorArg) else None


def _inputs(ctx: LayerContext) -> tuple:
    """(query, key, value, mask or None) from the call's arguments."""
    args, kwargs = list(ctx.call.args), dict(ctx.call.kwargs)
    names = ("query", "value", "key")
    given = {name: _tensor(value) for name, value in zip(names, args)}
    given.update({k: _tensor(v) for k, v in kwargs.items() if k in names})
    for key in _UNSUPPORTED_CALL:
        if kwargs.get(key) is not None:
            ctx.reject(key, "a tensor", "None (use attention_mask)")
    if kwargs.get("return_attention_scores"):
        ctx.reject("return_attention_scores", True, "False")
    if given.get("query") is None or given.get("value") is None:
        ctx.reject("call", "missing query or value", "layer(query, value[, key])")
    key = given.get("key") or given["value"]
    return given["query"], key, given["value"], _tensor(kwargs.get("attention_mask"))


def _projection_of(location: str) -> str:
    parts = location.replace(":", "/").split("/")
    for part in reversed(parts):
        name = part.lstrip("_")   # GroupQueryAttention's sub-layers are _query_dense, ...
        name = name[:-len("_dense")] if name.endswith("_dense") else name
        name = _PROJECTION_ALIASES.get(name, name)
        if name in _PROJECTIONS:
            return name
    raise ValueError(location)


def _weights(ctx: LayerContext, use_bias: bool) -> tuple:
    """The eight (or four, without bias) Params in Keras' order, found by sub-layer name."""
    stored = ctx.source.weights.arrays(ctx.call.path)
    groups = {name: [] for name in _PROJECTIONS}
    for array in stored:
        groups[_projection_of(array.location)].append(array)
    params = []
    for name in _PROJECTIONS:
        roles = ("kernel", "bias") if use_bias else ("kernel",)
        if len(groups[name]) != len(roles):
            ctx.reject("weights", f"{len(groups[name])} arrays for {name}",
                       f"{len(roles)} ({', '.join(roles)})")
        for role, array in zip(roles, sorted(groups[name], key=lambda a: -np.ndim(a.value))):
            value = np.asarray(array.value)
            value.setflags(write=False)
            # Keras gives every projection the layer's kernel_/bias_ regularizer and constraint
            params.append(ir.Param(f"{name}_{role}", value, ctx.call.layer, f"{name}/{role}",
                                   array.location, ctx.regularizer(role), ctx.constraint(role)))
    return tuple(params)


@handles("MultiHeadAttention", tensor_kwargs=("key", "value", "query", "attention_mask"))
def multi_head_attention(ctx: LayerContext) -> list:
    """MultiHeadAttention(num_heads, key_dim, value_dim, use_bias, dropout, output_shape of one
    axis) over the steps of sequences; self or cross; use_causal_mask and attention_mask; dropout of the attention
    probabilities in training."""
    _refuse_unbuilt_options(ctx)
    if ctx.get("attention_axes", None) not in (None, 1, [1], [-2]):
        ctx.reject("attention_axes", ctx.get("attention_axes"), "None (the steps axis)")
    key_dim = int(ctx.get("key_dim"))
    attrs = Attention(int(ctx.get("num_heads")), key_dim,
                      int(ctx.get("value_dim", None) or key_dim),
                      bool(ctx.get("use_bias", True)), dropout=float(ctx.get("dropout", 0.0)),
                      output_dim=_output_dim(ctx))
    return _attention_node(ctx, attrs)


@handles("GroupQueryAttention", tensor_kwargs=("key", "value", "query", "attention_mask"))
def group_query_attention(ctx: LayerContext) -> list:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, use_bias, dropout)
    over the steps of sequences: each key/value head shared by a group of query heads; self or
    cross; use_causal_mask and attention_mask; dropout of the attention probabilities in
    training."""
    _refuse_unbuilt_options(ctx)
    heads, shared = int(ctx.get("num_query_heads")), int(ctx.get("num_key_value_heads"))
    if shared < 1 or heads % shared:
        ctx.reject("num_key_value_heads", shared,
                   f"a divisor of num_query_heads ({heads})")
    head_dim = int(ctx.get("head_dim"))
    return _attention_node(ctx, Attention(heads, head_dim, head_dim,
                                          bool(ctx.get("use_bias", True)),
                                          dropout=float(ctx.get("dropout", 0.0)),
                                          kv_heads=shared))


def _output_dim(ctx: LayerContext) -> int | None:
    """output_shape=Do (Keras stores [Do]): the output projection's features instead of the
    query's; a shape of more axes is refused."""
    shape = ctx.get("output_shape", None)
    if shape is None:
        return None
    dims = [shape] if isinstance(shape, int) else list(shape)
    if len(dims) != 1 or not isinstance(dims[0], int):
        ctx.reject("output_shape", shape, "None or one number of output features")
    return int(dims[0])


def _input_masks(ctx: LayerContext, query: str, key: str, value: str) -> list:
    """The nodes of Keras' automatic attention mask from the Keras masks the inputs carry:
    query step i may attend key step j where the query's mask holds at i and the value's (and
    a separate key's) at j; none when no input carries a mask."""
    masks = {role: ctx.input_mask(tensor) for role, tensor in
             (("query", query), ("value", value), ("key", None if key == value else key))}
    if not any(masks.values()):
        return []
    if not (masks["query"] and masks["value"]):
        missing = "query" if not masks["query"] else "value"
        ctx.reject("input masks", f"none on the {missing}",
                   "Keras masks on both the query and the value (or on neither)")
    nodes = Nodes(ctx)
    steps_seen = [nodes.add("reshape", Reshape((-1, 1)), (masks["query"],), "query_mask"),
                  nodes.add("reshape", Reshape((1, -1)), (masks["value"],), "value_mask")]
    if masks["key"]:
        steps_seen.append(nodes.add("reshape", Reshape((1, -1)), (masks["key"],), "key_mask"))
    nodes.add("multiply", Merge(), tuple(steps_seen), "input_masks")
    return nodes.nodes


def _and(ctx: LayerContext, nodes: list, attention_mask: str) -> str:
    """The attention_mask given with the call ANDed with the automatic one (appended)."""
    anded = Nodes(ctx)
    anded.add("multiply", Merge(), (attention_mask, nodes[-1].output), "attention_mask")
    nodes += anded.nodes
    return nodes[-1].output


# --- shapes and parameters -------------------------------------------------------------------

def _shape(node, attrs, ins):
    for shape, what in zip(ins[:3], ("query", "key", "value")):
        require_rank(node, shape, 2, f"a sequence (steps, features) as {what}")
    if ins[1][0] != ins[2][0]:
        fail(node, f"keys and values need the same number of steps, got {ins[1]} and {ins[2]}")
    if attrs.masked and tuple(ins[3]) != (ins[0][0], ins[1][0]):
        fail(node, f"attention_mask needs shape (query steps, key steps) = "
             f"{(ins[0][0], ins[1][0])}, got {ins[3]}")
    return attrs, (ins[0][0], attrs.output_dim or ins[0][-1])


def _params(a: Attention, ins) -> dict:
    dims = [s[-1] for s in ins[:3]] if ins else [None] * 3
    shared = a.shared_heads
    shapes = {"query_kernel": (dims[0], a.heads, a.key_dim),
              "key_kernel": (dims[1], shared, a.key_dim),
              "value_kernel": (dims[2], shared, a.value_dim),
              "output_kernel": (a.heads, a.value_dim, a.output_dim or dims[0])}
    if a.use_bias:
        shapes.update(query_bias=(a.heads, a.key_dim), key_bias=(shared, a.key_dim),
                      value_bias=(shared, a.value_dim), output_bias=(a.output_dim or dims[0],))
    return shapes


def _projection_kernel(value, site):
    return f64(value.reshape(value.shape[0], -1))


def _output_kernel(value, site):
    return f64(value.reshape(-1, value.shape[-1]))


def _bias(value, site):
    return f64(value.reshape(1, -1))


# --- template --------------------------------------------------------------------------------

def _context(n: Step) -> dict:
    a = n.attrs
    tq, tk = known(n.in_shapes[0], "query length")[0], known(n.in_shapes[1], "key length")[0]
    widths = {"query": a.heads * a.key_dim, "key": a.shared_heads * a.key_dim,
              "value": a.shared_heads * a.value_dim, "output": n.out_shape[-1]}
    biases = {name: n.params.get(f"{name}_bias") or f"matrix(0, rows=1, cols={width})"
              for name, width in widths.items()}
    dbiases = {name: n.param_grads.get(f"{name}_bias") or f"{n.out}_d{name}_bias_unused"
               for name in widths}
    args = ", ".join(f"{n.params[f'{name}_kernel']}, {biases[name]}" for name in _PROJECTIONS)
    grads = ", ".join(f"{n.param_grads.get(f'{name}_kernel', f'{n.out}_d{name}_kernel')}, "
                      f"{dbiases[name]}" for name in _PROJECTIONS)
    return dict(args=args, grads=grads, Tq=tq, Tk=tk, cells=tq * tk, causal=a.causal,
                mask=n.xs[3] if a.masked else None, heads=a.heads, **_dropout(n))


def _dropout(n: Step) -> dict:
    """The rate and seed offset of attention dropout when it applies (training, rate > 0)."""
    if not (n.training and n.attrs.dropout > 0):
        return dict(dropout=None)
    return dict(dropout=n.attrs.dropout, seed_offset=seed_offset(n), sources=("dropout",))


define("attention", Attention, shape=_shape, params=_params,
       weights=tuple(Weight(f"{name}_{role}", f"{name[0]}{'W' if role == 'kernel' else 'b'}",
                            layout=(_bias if role == "bias" else _output_kernel
                                    if name == "output" else _projection_kernel))
                     for name in _PROJECTIONS for role in ("kernel", "bias")),
       template="attention.dml.j2", context=_context, sources=("multi_head_attention",),
       library=("multi_head_attention", "dropout"), min_inputs=3, max_inputs=4, family=__name__)
