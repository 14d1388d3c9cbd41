"""Adaptive pooling: AdaptiveMaxPooling1D/2D/3D and AdaptiveAveragePooling1D/2D/3D, which pool
every spatial axis to a fixed number of positions whatever its input length.

Output position j (1-based) of an axis of n positions pooled to m covers input positions
floor((j-1)*n/m)+1 .. ceil(j*n/m): the windows Keras computes, which overlap where m does not
divide n. A window of several axes is the product of one window per axis, so the op pools one
axis at a time (dml_lib's adaptive_pool_axis.dml), outermost first as Keras does, which also
sends a max window's gradient where Keras sends it when the window holds equal maxima. An axis
whose length is already the output's is left alone (each window is one position).

DML holds the input as every op does: a sequence (T, C) and a volume (D, H, W, C) in Keras'
order, an image (H, W, C) channels-first, as (C, H, W).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend.step import Step, known
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
from .axes import channels_first
from .shaping import require_rank


@dataclass(frozen=True)
class AdaptivePool:
    """adaptive_max_pool / adaptive_avg_pool: each spatial axis pooled to output_size's length
    (one length per spatial axis: 1 for sequences, 2 for images, 3 for volumes)."""
    output_size: tuple


# --- frontend --------------------------------------------------------------------------------

_RANKS = {"1D": 1, "2D": 2, "3D": 3}


@handles("AdaptiveMaxPooling1D", "AdaptiveAveragePooling1D", "AdaptiveMaxPooling2D",
         "AdaptiveAveragePooling2D", "AdaptiveMaxPooling3D", "AdaptiveAveragePooling3D")
@channels_first
def adaptive_pool(ctx: LayerContext) -> list:
    """AdaptiveMax/AveragePooling1D/2D/3D(output_size): each spatial axis pooled to a fixed
    length by Keras' windows, even and uneven (overlapping) ones, and output sizes longer than
    the input; the input's spatial sizes must be fixed."""
    ctx.channels_last()
    rank = _RANKS[ctx.class_name[-2:]]
    value = ctx.get("output_size")
    output_size = ctx.ints("output_size", rank)
    if not all(length >= 1 for length in output_size):
        ctx.reject("output_size", value, "positive lengths")
    op = "adaptive_max_pool" if "Max" in ctx.class_name else "adaptive_avg_pool"
    return [ctx.node(op, AdaptivePool(output_size))]


# --- shapes ----------------------------------------------------------------------------------

_SAMPLES = {1: "(steps, channels)", 2: "(height, width, channels)",
            3: "(depth, height, width, channels)"}


def _shape(node, attrs, ins):
    rank = len(attrs.output_size)
    require_rank(node, ins[0], rank + 1, _SAMPLES[rank])
    return attrs, (*attrs.output_size, ins[0][-1])


# --- templates -------------------------------------------------------------------------------

_AXIS_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _context(n: Step) -> dict:
    """One stage per pooled axis: its input and output variables and the (inner, size, outs)
    view adaptive_pool_axis.dml takes."""
    shape = known(n.in_shape, "spatial size (the windows depend on it)")
    rank = len(n.attrs.output_size)
    if rank == 2:   # an image: DML holds it channels-first, (C, H, W)
        dims, first_axis = [shape[2], shape[0], shape[1]], 1
    else:
        dims, first_axis = list(shape), 0
    pooled = [(i, name) for i, name in enumerate(_AXIS_NAMES[rank])
              if shape[i] != n.attrs.output_size[i]]
    stages, x = [], n.x
    for count, (i, name) in enumerate(pooled):
        position = first_axis + i
        out = n.out if count == len(pooled) - 1 else f"{n.out}_by_{name}"
        stages.append(dict(x=x, out=out, axis=name, inner=math.prod(dims[position + 1:]),
                           size=dims[position], outs=n.attrs.output_size[i]))
        dims[position] = n.attrs.output_size[i]
        x = out
    in_text = "x".join(map(str, shape))
    out_text = "x".join(map(str, n.out_shape))
    return dict(stages=stages, maximum="TRUE" if n.node.op == "adaptive_max_pool" else "FALSE",
                reduction="maximum" if n.node.op == "adaptive_max_pool" else "mean",
                shape_text=f"{in_text} -> {out_text} ({', '.join(_AXIS_NAMES[rank])}, channels)")


define(("adaptive_max_pool", "adaptive_avg_pool"), AdaptivePool, shape=_shape,
       template="adaptive_pool.dml.j2", context=_context, sources=("adaptive_pool_axis",),
       family=__name__)
