"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum (and keras.ops' divide) of
shapes that broadcast as in Keras (a squeeze-and-excite block multiplies (H, W, C) by (1, 1, C));
Concatenate.

An input smaller than the output is expanded to the output's layout first
(`backend.broadcast`), and its gradient summed back over the broadcast axes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..backend import broadcast
from ..backend.step import Step, Unsupported, known, size, times
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
from .activations import keras_axis
from .masking import mask_name, merged_masks
from .shaping import fail, resolve_axis


@dataclass(frozen=True)
class Merge:
    """add / subtract / divide (exactly two inputs) / multiply / average / maximum / minimum of
    shapes that broadcast to the output's."""


@dataclass(frozen=True)
class Concatenate:
    axis: int = -1


_OPS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
        "Maximum": "maximum", "Minimum": "minimum"}


# --- frontend --------------------------------------------------------------------------------

@handles(*_OPS)
def merge(ctx: LayerContext) -> list:
    """Add/Subtract/Multiply/Average/Maximum/Minimum of inputs whose shapes broadcast; the
    inputs' Keras masks ORed."""
    return [ctx.node(_OPS[ctx.class_name], Merge()), *merged_mask(ctx)]


@handles("Concatenate")
def concatenate(ctx: LayerContext) -> list:
    """Concatenate(axis); the inputs' Keras masks ORed (along the features)."""
    axis = ctx.get("axis", -1)
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", axis, "a non-batch axis")
    return [ctx.node("concatenate", Concatenate(keras_axis(axis))), *merged_mask(ctx)]


def merged_mask(ctx: LayerContext) -> list:
    """The node computing a merge's mask where its mask rule (masking.merged_masks) names a
    mask of its own, its inputs carrying different ones: their OR (the largest of the 0/1
    masks); none where the rule passes an input's mask on or drops it."""
    name = mask_name(ctx.name)
    if merged_masks(ctx.call, ctx.masks).get(ctx.name) != name:
        return []
    return [ctx.node("maximum", Merge(), name=name, inputs=tuple(dict.fromkeys(ctx.masks)),
                     outputs=(name,))]


@handles("ops.LogicalOr", "ops.LogicalAnd")
def logical(ctx: LayerContext) -> list:
    """keras.ops.logical_or / logical_and of masks (how Keras records a merge's mask): the
    largest / smallest of the 0/1 values."""
    if len(ctx.call.inputs) != 2:
        ctx.reject("arguments", len(ctx.call.inputs), "two tensors")
    return [ctx.node("maximum" if ctx.class_name == "ops.LogicalOr" else "minimum", Merge())]


# --- shapes ----------------------------------------------------------------------------------

def _merge_shape(node, attrs, ins):
    rank = max(len(s) for s in ins)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in ins]
    out = []
    for sizes in zip(*padded):
        larger = {d for d in sizes if d != 1}
        if len(larger) > 1:
            fail(node, f"{node.keras_class} needs inputs whose shapes broadcast, got {list(ins)}")
        out.append(larger.pop() if larger else 1)
    return attrs, tuple(out)


def _concatenate_shape(node, attrs, ins):
    axis = resolve_axis(node, attrs.axis, len(ins[0]))
    rest = lambda s: s[:axis] + s[axis + 1:]  # noqa: E731
    if any(len(s) != len(ins[0]) or rest(s) != rest(ins[0]) for s in ins):
        fail(node, f"Concatenate on axis {axis} needs equal other axes, got {list(ins)}")
    sizes = [s[axis] for s in ins]
    total = None if None in sizes else sum(sizes)
    return dataclasses.replace(attrs, axis=axis), ins[0][:axis] + (total,) + ins[0][axis + 1:]


# --- templates -------------------------------------------------------------------------------

_SYMBOLS = {"add": " + ", "subtract": " - ", "multiply": " * ", "divide": " / "}


def _expansions(n: Step) -> tuple:
    """(variable of each input at the output's shape, lines expanding the smaller ones, lines
    summing their gradients back, the gradient variable each input's backward writes)."""
    full = known(n.out_shape, "shape")
    xs, lines, back, grads = [], [], [], []
    for i, (x, shape) in enumerate(zip(n.xs, n.in_shapes)):
        if tuple(shape) == full:
            xs.append(x)
            grads.append(n.dxs[i])
            continue
        if not broadcast.can_broadcast(tuple(shape), full):
            raise Unsupported("input shapes", [list(s) for s in n.in_shapes],
                              "shapes whose broadcast keeps the values' order in DML's layout")
        xs.append(f"{n.out}_in{i + 1}")
        grads.append(f"{n.dxs[i]}_full")
        lines += broadcast.expand(x, xs[-1], tuple(shape), full)
        back += broadcast.reduce(grads[-1], n.dxs[i], tuple(shape), full)
    return xs, lines, back, grads


def _merge_context(n: Step) -> dict:
    op = n.node.op
    xs, lines, back, grads = _expansions(n)
    # Maximum (minimum) of k inputs is a chain of pairwise maxima m_j = max(m_{j-1}, x_j), as in
    # Keras; the backward pass walks it back (on ties the earlier input gets the gradient)
    maxima = [xs[0]] + [f"{n.out}_max{j}" for j in range(2, len(xs))] + [n.out]
    others = [" * ".join(x for j, x in enumerate(xs) if j != i) for i in range(len(xs))]
    return dict(op=op, joined=_SYMBOLS.get(op, " + ").join(xs), count=len(xs), ins=xs,
                others=others, maxima=maxima, expand=lines, reduce=back, grads=grads,
                pick="max" if op == "maximum" else "min", later="<" if op == "maximum" else ">")


def _concatenate_context(n: Step) -> dict:
    """Along the axis DML keeps whole: the channels of images (channels-first rows), the steps of
    sequences, vectors; along features of sequences, per step."""
    rank, axis = len(n.out_shape), n.attrs.axis
    if rank == 3 and axis != 2:
        raise Unsupported("axis", axis + 1, "-1 (the channel axis) for images")
    per_step = rank == 2 and axis == 1
    if per_step:
        widths = [s[1] for s in n.in_shapes]
    else:
        widths = [size(known(s, "length to concatenate along")) for s in n.in_shapes]
    bounds, start = [], 1
    for width in widths:
        bounds.append((start, start + width - 1))
        start += width
    steps = n.out_shape[0] if per_step else 1
    if steps is None:   # an open sequence length (Input(shape=(None,))): read from the batch
        steps = f"as.integer(ncol({n.xs[0]}) / {widths[0]})"
    return dict(per_step=per_step, T=steps, bounds=bounds, total=sum(widths), widths=widths,
                out_cols=times(steps, sum(widths)),
                in_cols=[times(steps, width) for width in widths])


_MERGE = dict(shape=_merge_shape, template="merge.dml.j2", context=_merge_context,
              family=__name__, min_inputs=2)
define(("add", "multiply", "average", "maximum", "minimum"), Merge, max_inputs=None, **_MERGE)
define(("subtract", "divide"), Merge, max_inputs=2, **_MERGE)
define("concatenate", Concatenate, shape=_concatenate_shape, template="concatenate.dml.j2",
       context=_concatenate_context, min_inputs=2, max_inputs=None, family=__name__)
