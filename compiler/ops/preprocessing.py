"""Numeric preprocessing layers inside a model: Discretization (the bucket of each value among
its bin_boundaries, then optionally encoded) and CategoryEncoding (one_hot, multi_hot or count
of integer categories), on dml_lib's discretize.dml and category_encoding.dml. Their outputs
are integers or counts of them: no gradient flows into their inputs (the model's inputs, or
another such layer's outputs).

DML layout: an encoding of K categories per sample is N x depth (multi_hot, count) or
N x (K*depth) (one_hot of K > 1 positions: Keras' (K, depth) row-major).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, known
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
from .shaping import fail, same_shape

_MODES = ("one_hot", "multi_hot", "count")


@dataclass(frozen=True)
class Discretize:
    """Bucket indices 0 .. len(boundaries) of each value (numpy.digitize)."""
    boundaries: tuple


@dataclass(frozen=True)
class Encode:
    """one_hot / multi_hot / count of integer categories 0 .. depth - 1."""
    depth: int
    mode: str


# --- frontend --------------------------------------------------------------------------------

@handles("Discretization")
def discretization(ctx: LayerContext) -> list:
    """Discretization(bin_boundaries, output_mode int/one_hot/multi_hot/count): the bucket of
    each value, as numpy.digitize counts; boundaries from the config (or adapt() with them
    recorded there)."""
    boundaries = ctx.get("bin_boundaries", None)
    if not isinstance(boundaries, list) or not boundaries or \
            not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in boundaries):
        ctx.reject("bin_boundaries", boundaries, "a list of numbers in the config")
    if ctx.get("sparse", False):
        ctx.reject("sparse", True, "False")
    mode = ctx.choice("output_mode", ("int",) + _MODES, "int")
    attrs = Discretize(tuple(float(b) for b in boundaries))
    if mode == "int":
        return [ctx.node("discretize", attrs)]
    buckets = f"{ctx.name}/buckets"
    return [ctx.node("discretize", attrs, name=buckets, outputs=(buckets,)),
            ctx.node("encode", Encode(len(boundaries) + 1, mode), inputs=(buckets,))]


@handles("CategoryEncoding")
def category_encoding(ctx: LayerContext) -> list:
    """CategoryEncoding(num_tokens, output_mode one_hot/multi_hot/count) of integer
    categories."""
    if ctx.get("sparse", False):
        ctx.reject("sparse", True, "False")
    if len(ctx.call.inputs) != 1:
        ctx.reject("count_weights", "a tensor", "None")
    tokens = ctx.get("num_tokens", None)
    if not isinstance(tokens, int) or tokens < 1:
        ctx.reject("num_tokens", tokens, "a positive number of categories")
    return [ctx.node("encode", Encode(tokens, ctx.choice("output_mode", _MODES, "multi_hot")))]


# --- shapes and templates --------------------------------------------------------------------

def _encode_shape(node, attrs, ins):
    shape = ins[0]
    if len(shape) != 1:
        fail(node, f"categories need shape (K,) per sample, got {shape}")
    if attrs.mode == "one_hot" and shape[0] != 1:
        return attrs, (shape[0], attrs.depth)
    return attrs, (attrs.depth,)


def _discretize_context(n: Step) -> dict:
    values = " ".join(_java_number(b) for b in n.attrs.boundaries)
    bounds = f'matrix("{values}", rows=1, cols={len(n.attrs.boundaries)})'
    return dict(lines=[f"{n.out} = discretize::forward({n.x}, {bounds})"], back=[],
                no_input_gradient=True)


def _java_number(value: float) -> str:
    """A number as a DML matrix string reads it (Java's spelling of the infinities)."""
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _encode_context(n: Step) -> dict:
    known(n.in_shape, "number of categories per sample")
    function = "one_hot" if n.attrs.mode == "one_hot" else "counts"
    lines = [f"{n.out} = category_encoding::{function}({n.x}, {n.attrs.depth})"]
    if n.attrs.mode == "multi_hot":
        lines.append(f"{n.out} = min({n.out}, 1)")
    return dict(lines=lines, back=[], no_input_gradient=True)


define("discretize", Discretize, shape=same_shape, template="lines.dml.j2",
       context=_discretize_context, sources=("discretize",), family=__name__)
define("encode", Encode, shape=_encode_shape, template="lines.dml.j2",
       context=_encode_context, sources=("category_encoding",), family=__name__)
