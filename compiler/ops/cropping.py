"""Cropping1D/2D/3D: the "crop" op, removing positions at both ends of the spatial axes (and of
the last axis, for a slice x[..., a:b]).

In DML a sample's values are laid out as (outer, size, inner) around each cropped axis (images
channels first); dml_lib's crop.dml crops one axis per call, so the template calls it once per
cropped axis (and pads the gradient back, in reverse order, in training).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend.step import Step, known
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
from .axes import channels_first
from .shaping import fail, require_rank


@dataclass(frozen=True)
class Crop:
    """(before, after) for each spatial axis, in Keras order: (steps,), (rows, cols) or
    (dim1, dim2, dim3). CenterCrop gives the sizes to keep (`centred`) instead, which the shape
    rule turns into pairs. `channels`: the (before, after) of the last axis (a slice x[..., a:b])."""
    pairs: tuple = ()
    centred: tuple | None = None
    channels: tuple = (0, 0)


_RANKS = {"Cropping1D": 1, "Cropping2D": 2, "Cropping3D": 3}


# --- frontend --------------------------------------------------------------------------------

def axis_pairs(ctx: LayerContext, rank: int, key: str = "cropping") -> tuple:
    """Keras' cropping (or ZeroPadding3D's padding): n, one value per axis, or one
    (before, after) pair per axis."""
    value = ctx.get(key, 1)
    items = [value] * rank if isinstance(value, int) else list(value)
    if rank == 1 and len(items) == 2 and all(isinstance(v, int) for v in items):
        items = [items]  # Cropping1D's (before, after)
    pairs = tuple((v, v) if isinstance(v, int) else tuple(v) for v in items)
    if len(pairs) != rank or not all(
            len(p) == 2 and all(isinstance(x, int) and x >= 0 for x in p) for p in pairs):
        ctx.reject(key, value, f"an int, {rank} ints or {rank} (before, after) pairs")
    return pairs


@handles(*_RANKS)
@channels_first
def cropping(ctx: LayerContext) -> list:
    """Cropping1D/2D/3D(cropping): positions removed at both ends of each spatial axis."""
    ctx.channels_last()
    return [ctx.node("crop", Crop(axis_pairs(ctx, _RANKS[ctx.class_name])))]


@handles("CenterCrop")
@channels_first
def center_crop(ctx: LayerContext) -> list:
    """CenterCrop(height, width) of images at least that large: the centred window."""
    ctx.channels_last()
    return [ctx.node("crop", Crop(centred=(int(ctx.get("height")), int(ctx.get("width")))))]


# --- shape and template ----------------------------------------------------------------------

def _centred(node, attrs, shape):
    """attrs with the pairs of a centred window (Keras puts an odd pixel after it)."""
    sizes = shape[:len(attrs.centred)]
    if None in sizes or any(size < want for size, want in zip(sizes, attrs.centred)):
        fail(node, f"CenterCrop to {attrs.centred} needs an input at least that large, got "
             f"{shape} (a smaller one is resized, which is not supported)")
    pairs = tuple(((size - want) // 2, size - want - (size - want) // 2)
                  for size, want in zip(sizes, attrs.centred))
    return Crop(pairs, channels=attrs.channels)


def _shape(node, attrs, ins):
    if attrs.centred is not None:
        attrs = _centred(node, attrs, ins[0])
    shape, rank = ins[0], len(attrs.pairs)
    require_rank(node, shape, rank + 1, f"{rank} spatial axes and channels")
    out = []
    for size, (before, after) in zip(shape, attrs.pairs):
        if size is not None and before + after >= size:
            fail(node, f"cropping {before}+{after} leaves nothing of an axis of size {size}")
        out.append(None if size is None else size - before - after)
    channels = None if shape[-1] is None else shape[-1] - sum(attrs.channels)
    if channels is not None and channels <= 0:
        fail(node, f"cropping {attrs.channels} leaves nothing of a last axis of size {shape[-1]}")
    return attrs, (*out, channels)


def _dml_axes(shape: tuple, pairs: tuple, channels: tuple) -> list:
    """(size, inner, before, after) per cropped axis, in DML's layout, innermost first."""
    if len(shape) == 3:  # channels first: (C, H, W)
        dims, crops = [shape[2], shape[0], shape[1]], [channels, *pairs]
    else:
        dims, crops = list(shape), [*pairs, channels]
    axes = []
    for axis in range(len(dims) - 1, -1, -1):
        before, after = crops[axis]
        if before or after:
            axes.append((dims[axis], math.prod(dims[axis + 1:]), before, after))
            dims[axis] -= before + after
    return axes


def _context(n: Step) -> dict:
    calls = [", ".join(str(v) for v in axis) for axis in
             _dml_axes(known(n.in_shape, "shape"), n.attrs.pairs, n.attrs.channels)]
    return dict(calls=calls)


define("crop", Crop, shape=_shape, template="crop.dml.j2", context=_context, sources=("crop",),
       family=__name__)
