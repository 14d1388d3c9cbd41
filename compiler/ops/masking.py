"""Keras masks: which steps of a sequence count, as an explicit tensor of the graph.

A mask is a (steps,) tensor per sample (DML: N x T, 1 where a step counts), as Keras' masks
are (batch, steps). Functional model files record how Keras computed it (keras.ops not_equal and
any, keras_ops.py) and pass it to the layers that take a mask as their `mask` argument; that
tensor is then the mask (the frontend's masks module). The "step_mask" op
computes it: Embedding(mask_zero=True) from the indices (index != 0), Masking from its input (any
feature != mask_value); Masking's output is its input with the masked steps zeroed ("masking"
op). A layer that uses the mask reads it as its last input: SimpleRNN/LSTM/GRU (a masked step
keeps the states before it), Bidirectional over them, GlobalAveragePooling1D (the mean over the
steps that count). No gradient flows into a mask: its readers give it zeros.

Which mask each layer's outputs carry follows Keras 3 (`Layer.supports_masking`,
`compute_mask`), per class in the rules below (`@masks`): layers that support masking without
using it pass their input's mask on; the recurrent layers pass it on only with
return_sequences; a class without supports_masking drops it, as Keras does (with a warning), so
a Conv1D, Flatten or GlobalMaxPooling1D computes over every step and later layers see no mask.
A class that would use a mask in a way not built here (attention's query/key masks,
BatchNormalization's masked statistics, Softmax's and the merges') is refused, naming the layer.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, sequence_rows
from ..errors import MaskRefused
from ..frontend.context import LayerContext
from ..frontend.registry import handles, masks
from ..opdef import define
from .shaping import fail, require_rank

_RNNS = ("SimpleRNN", "LSTM", "GRU")
# Keras layers that support masking and pass their input's mask on unchanged
_PASSING = (
    "Activation", "ActivityRegularization", "AlphaDropout", "Dense", "Dropout", "ELU",
    "GaussianDropout", "GaussianNoise", "Identity", "LayerNormalization", "LeakyReLU",
    "Normalization", "PReLU", "ReLU", "Rescaling", "SpatialDropout1D", "SpatialDropout2D",
    "UnitNormalization")
# Keras layers whose call takes a mask (TimeDistributed hands them each step's)
_TAKING_MASKS = (*_RNNS, "RNN", "Bidirectional", "GlobalAveragePooling1D", "BatchNormalization",
                 "Softmax", "Attention", "AdditiveAttention", "MultiHeadAttention",
                 "GroupQueryAttention")
# Keras layers that would use a mask in a way kerasdml does not build, and why
_REFUSED = {
    "BatchNormalization": "Keras computes its training statistics over the steps that count; "
                          "not built",
    "Softmax": "Keras adds a large negative number where the mask is 0; not built",
    "Dot": "a merge combines its inputs' masks; not built",
}
# merges whose output mask is the OR of their inputs' masks (none if an input has none)
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")


@dataclass(frozen=True)
class StepMask:
    """(T,) indices or (T, D) -> (T,): 1 where some feature of the step differs from value."""
    value: float = 0.0


@dataclass(frozen=True)
class ApplyMask:
    """(T, D) and its (T,) mask -> (T, D) with the masked steps zero."""


def mask_name(layer_name: str) -> str:
    return f"{layer_name}/mask"


def step_mask(ctx: LayerContext, tensor: str, value: float):
    """The node computing the mask of `tensor`: steps where some feature is not `value`."""
    name = mask_name(ctx.name)
    return ctx.node("step_mask", StepMask(value), name=name, inputs=(tensor,), outputs=(name,))


# --- frontend --------------------------------------------------------------------------------

@handles("Masking")
def masking(ctx: LayerContext) -> list:
    """Masking(mask_value): zeroes the steps whose features all equal mask_value and masks them
    for the layers after it."""
    value = ctx.get("mask_value", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        ctx.reject("mask_value", value, "a number")
    x = ctx.call.inputs[0]
    mask = step_mask(ctx, x, float(value))
    return [mask, ctx.node("masking", ApplyMask(), inputs=(x, mask.output))]


# --- which mask each layer's outputs carry -----------------------------------------------------

@masks(*_PASSING)
def _passes(call, mask_in: tuple) -> dict:
    return {call.name: mask_in[0]} if mask_in and mask_in[0] else {}


@masks("TimeDistributed")
def _time_distributed(call, mask_in: tuple) -> dict:
    inner = (call.config.get("layer") or {}).get("class_name")
    if mask_in and mask_in[0] and inner in _TAKING_MASKS:
        raise MaskRefused(f"its input carries a mask, which Keras hands to the inner {inner} one "
                          "step at a time; not built")
    return _passes(call, mask_in)


@masks("Embedding")
def _embedding(call, mask_in: tuple) -> dict:
    return {call.name: mask_name(call.name)} if call.config.get("mask_zero") else {}


@masks("Masking")
def _masking(call, mask_in: tuple) -> dict:
    return {call.name: mask_name(call.name)}


@masks(*_RNNS, "RNN")
def _recurrent(call, mask_in: tuple) -> dict:
    sequences = call.config.get("return_sequences", False)
    return {call.name: mask_in[0]} if mask_in and mask_in[0] and sequences else {}


@masks("Bidirectional")
def _bidirectional(call, mask_in: tuple) -> dict:
    inner = (call.config.get("layer") or {}).get("config") or {}
    if not (mask_in and mask_in[0] and inner.get("return_sequences", False)):
        return {}
    outputs = (call.name,) + ((f"{call.name}#1",) if call.config.get("merge_mode") is None
                              else ())
    return {output: mask_in[0] for output in outputs}


@masks("GlobalAveragePooling1D")
def _global_average(call, mask_in: tuple) -> dict:
    if mask_in and mask_in[0] and call.config.get("data_format") == "channels_first":
        raise MaskRefused("with data_format='channels_first' Keras applies the steps' mask to "
                          "the features axis; not built")
    return {}


@masks(*_MERGES)
def merged_masks(call, mask_in: tuple) -> dict:
    """Keras' merges OR their inputs' masks (Concatenate along the features: any of the
    features' masks), and drop them when an input has none."""
    if not mask_in or any(m is None for m in mask_in):
        return {}
    if call.class_name == "Concatenate" and call.config.get("axis", -1) not in (-1, 2):
        raise MaskRefused("a concatenation along the steps concatenates the steps' masks; "
                          "not built")
    return {call.name: mask_in[0] if len(set(mask_in)) == 1 else mask_name(call.name)}


@masks("MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention")
def _attention(call, mask_in: tuple) -> dict:
    """Keras' attention layers take their inputs' masks into their scores (attention.py,
    dot.py) and give their output the query's mask."""
    return {call.name: mask_in[0]} if mask_in and mask_in[0] else {}


@masks(*_REFUSED)
def _refused(call, mask_in: tuple) -> dict:
    # MultiHeadAttention records the masks it takes as query_mask, value_mask, key_mask
    given = [k for k in call.tensor_kwargs if k.endswith("_mask") and k != "attention_mask"]
    if any(mask_in) or given:
        raise MaskRefused(f"its input carries a mask: {_REFUSED[call.class_name]}")
    return {}


# --- shapes ----------------------------------------------------------------------------------

def require_mask(node, mask: tuple, sequence: tuple) -> None:
    """A mask fits a sequence of shape (T, D): its shape is (T,)."""
    if tuple(mask) != (sequence[0],):
        fail(node, f"a mask of shape {tuple(mask)}, expected ({sequence[0]},)")


def _step_mask_shape(node, attrs, ins):
    if len(ins[0]) not in (1, 2):
        fail(node, f"an input of shape {ins[0]}, expected (steps,) or (steps, features)")
    return attrs, (ins[0][0],)


def _apply_mask_shape(node, attrs, ins):
    require_rank(node, ins[0], 2, "(steps, features)")
    require_mask(node, ins[1], ins[0])
    return attrs, ins[0]


# --- templates -------------------------------------------------------------------------------

def _step_mask_context(n: Step) -> dict:
    features = n.in_shape[1] if len(n.in_shape) == 2 else 1
    if features is None:
        sequence_rows(n, "a fixed number of features per step")
    return dict(D=features, value=repr(n.attrs.value))


def _apply_mask_context(n: Step) -> dict:
    return {}


define("step_mask", StepMask, shape=_step_mask_shape, template="step_mask.dml.j2",
       context=_step_mask_context, sources=("masking",), family=__name__)
define("masking", ApplyMask, shape=_apply_mask_shape, template="masking.dml.j2",
       context=_apply_mask_context, sources=("masking",), min_inputs=2, max_inputs=2,
       family=__name__)
