"""Permute and RepeatVector: ops that move or repeat the values of a sample; move_axis, a permute
moving one axis to the end or back whose order is resolved with the shapes (axes.py's layers
given another axis than the last).

permute: every output value is one input value; in DML a product with the 0/1 matrix P
(P[i, j] = 1 when output column j reads input column i), built in the script with table() from
index arithmetic on seq(), in both layouts (images channels first). Backward: dout %*% t(P).
repeat_vector: a (D,) vector repeated into (n, D), Keras' broadcasting (`backend.broadcast`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..backend import broadcast
from ..backend.step import Step, known
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
from .shaping import fail, require_rank, resolve_axis


@dataclass(frozen=True)
class Permute:
    """Output axis i is input axis dims[i] (per sample, 0-based)."""
    dims: tuple


@dataclass(frozen=True)
class MoveAxis:
    """Moves per-sample `axis` to the end (to_last) or the last axis back to `axis`; dims is the
    resulting permute order (output axis i is input axis dims[i]) once the rank is known."""
    axis: int
    to_last: bool
    dims: tuple = ()


@dataclass(frozen=True)
class RepeatVector:
    """(D,) -> (n, D)."""
    n: int


# --- frontend --------------------------------------------------------------------------------

@handles("Permute")
def permute(ctx: LayerContext) -> list:
    """Permute(dims): a reordering of the non-batch axes (1-based, as Keras)."""
    dims = ctx.get("dims")
    if not isinstance(dims, list) or sorted(dims) != list(range(1, len(dims) + 1)):
        ctx.reject("dims", dims, "a permutation of 1..rank")
    return [ctx.node("permute", Permute(tuple(d - 1 for d in dims)))]


@handles("RepeatVector")
def repeat_vector(ctx: LayerContext) -> list:
    """RepeatVector(n): (D,) -> (n, D)."""
    return [ctx.node("repeat_vector", RepeatVector(int(ctx.get("n"))))]


# --- shapes ----------------------------------------------------------------------------------

def _permute_shape(node, attrs, ins):
    if len(ins[0]) != len(attrs.dims):
        fail(node, f"Permute{tuple(d + 1 for d in attrs.dims)} does not fit a sample of shape "
             f"{ins[0]}")
    return attrs, tuple(ins[0][d] for d in attrs.dims)


def _move_axis_shape(node, attrs, ins):
    rank = len(ins[0])
    axis = resolve_axis(node, attrs.axis, rank)
    order = tuple(i for i in range(rank) if i != axis) + (axis,)
    dims = order if attrs.to_last else tuple(order.index(i) for i in range(rank))
    return dataclasses.replace(attrs, axis=axis, dims=dims), tuple(ins[0][d] for d in dims)


def _repeat_shape(node, attrs, ins):
    require_rank(node, ins[0], 1, "a vector")
    return attrs, (attrs.n, ins[0][0])


# --- templates -------------------------------------------------------------------------------

def _layout(shape: tuple) -> tuple:
    """(axes in DML order, their sizes) of a Keras-layout sample."""
    axes = (2, 0, 1) if len(shape) == 3 else tuple(range(len(shape)))
    return axes, tuple(shape[a] for a in axes)


def source_columns(in_shape: tuple, dims: tuple, q: str) -> tuple:
    """(a DML expression: the 1-based input column of each output column, as a column vector
    computed from `q` = seq(0, total - 1); total)."""
    out_shape = tuple(in_shape[d] for d in dims)
    out_axes, out_sizes = _layout(out_shape)
    in_axes, in_sizes = _layout(in_shape)
    in_strides = {axis: math.prod(in_sizes[i + 1:]) for i, axis in enumerate(in_axes)}
    total = math.prod(out_shape)
    terms = []
    for i, axis in enumerate(out_axes):
        stride = math.prod(out_sizes[i + 1:])
        coordinate = f"(({q} %/% {stride}) %% {out_sizes[i]})" if stride > 1 else \
            f"({q} %% {out_sizes[i]})"
        terms.append(f"{coordinate} * {in_strides[dims[axis]]}")
    return "1 + " + " + ".join(terms), total


def permute_context(n: Step) -> dict:
    """Also move_axis's, whose attributes resolve to such dims (the identity when the axis is
    the last already: a copy)."""
    if n.attrs.dims == tuple(range(len(n.attrs.dims))):
        return dict(identity=True)
    index, total = source_columns(known(n.in_shape, "shape"), n.attrs.dims, f"{n.out}_q")
    return dict(identity=False, index=index, total=total)


def _repeat_context(n: Step) -> dict:
    small, full = (1, n.in_shape[0]), n.out_shape
    return dict(lines=broadcast.expand(n.x, n.out, small, full),
                back=broadcast.reduce(n.dout, n.dx, small, full))


define("permute", Permute, shape=_permute_shape, template="permute.dml.j2",
       context=permute_context, family=__name__)
def _moves_nothing(attrs) -> bool:
    """A move of the last axis to the end (a positive axis=3 on images, when the file records no
    shape to tell it is the last): prediction leaves it out."""
    return attrs.dims == tuple(range(len(attrs.dims)))


def _moves_back(first: MoveAxis, second: MoveAxis) -> bool:
    """Whether `second`, reading what `first` moved, puts every axis back where it was."""
    return bool(first.dims) and len(first.dims) == len(second.dims) and \
        all(first.dims[d] == axis for axis, d in enumerate(second.dims))


define("move_axis", MoveAxis, shape=_move_axis_shape, template="permute.dml.j2",
       context=permute_context, family=__name__, noop_at_inference=_moves_nothing,
       undoes="move_axis", inverts=_moves_back)
define("repeat_vector", RepeatVector, shape=_repeat_shape, template="lines.dml.j2",
       context=_repeat_context, family=__name__)
