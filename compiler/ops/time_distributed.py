"""TimeDistributed(layer): the inner layer applied to every time step.

Keras applies the inner layer to each step of the (batch, steps, ...) input. A DML row holds a
sample's steps one after the other, so the (N, T*D) batch read row-major as (N*T, D) holds every
step of every sample as a row of its own: the layer becomes "fold_steps" -> the inner layer's own
nodes on the folded shape -> "unfold_steps". The inner layer keeps its template, dml_lib code,
gradients and weights (named after the TimeDistributed layer, as Keras stores them); a model
inside has its layers inlined there.

Keras 3 calls the inner layer once per step, on N rows; folding gives the same results for every
layer whose rows do not depend on each other. Dropout draws its masks over the N*T rows at once.
A BatchNormalization in training normalises each step by that step's batch statistics and
updates its moving statistics once per step: its attrs get the number of steps, and its template
then normalises a sample's steps side by side (normalization.py).

A Dense acts on the last axis of a sequence already (with an open number of steps too), so
TimeDistributed(Dense) over vectors per step is that Dense, without folding. Between two
TimeDistributed layers, the unfold of the first and the fold of the second undo each other, and
passes.cleanup drops them.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..backend.step import LAYOUT, Step, image
from ..frontend.config import class_name_of, inline_model, is_model
from ..frontend.context import LayerContext
from ..frontend.registry import handler_for, handles
from ..opdef import define
from .shaping import fail


@dataclass(frozen=True)
class Steps:
    """fold_steps: per sample (steps, *inner) -> inner, on steps times the rows; unfold_steps:
    the way back."""
    steps: int


# --- frontend --------------------------------------------------------------------------------

_ON_LAST_AXIS = ("Dense",)  # layers that already act on every step of a sequence
# ops whose training pass depends on the batch (Keras 3 calls the inner layer once per step):
# their attrs' `steps` tells them how many rows a sample holds
_PER_STEP_STATISTICS = ("batch_norm",)


@handles("TimeDistributed")
def time_distributed(ctx: LayerContext) -> list:
    """TimeDistributed(layer) over any supported layer of one input (Conv2D, pooling, Flatten,
    Dropout, BatchNormalization with per-step statistics, Dense, ...) or a model of them."""
    inner = ctx.get("layer")
    class_name = class_name_of(inner) if isinstance(inner, dict) else None
    if class_name is None:
        ctx.reject("layer", inner, "a layer or a model")
    if is_model(inner):
        return _folded(ctx, lambda folded: _model_nodes(ctx, inner, folded), _steps(ctx))
    handler = handler_for(class_name)
    if handler is None or class_name in ("TimeDistributed", "InputLayer"):
        ctx.reject("layer", class_name, "a supported layer class (kerasdml inspect --layers)")
    inner_call = dataclasses.replace(ctx.call, entry=inner, class_name=class_name)
    shapes = ctx.recorded_input_shapes()
    if class_name in _ON_LAST_AXIS and (not shapes or len(shapes[0]) <= 3):
        return handler(LayerContext(inner_call, ctx.source))

    def layer_nodes(folded: str) -> tuple:
        call = dataclasses.replace(inner_call, inputs=(folded,))
        return handler(LayerContext(call, ctx.source)), ctx.name
    return _folded(ctx, layer_nodes, _steps(ctx))


def _model_nodes(ctx: LayerContext, model: dict, folded: str) -> tuple:
    """(nodes, output tensor) of a model's layers on `folded`, named "<layer>/<inner layer>"."""
    calls, outputs = inline_model(model, (ctx.name,), ctx.call.path, [folded], ctx.source.path)
    if len(outputs) != 1:
        ctx.reject("layer", class_name_of(model), "a model with one output")
    nodes = []
    for call in calls:
        handler = handler_for(call.class_name)
        if handler is None or call.class_name == "InputLayer":
            ctx.reject("layer", f"{class_name_of(model)} holding {call.class_name} "
                       f"'{call.layer}'", "a model of supported layers")
        nodes += handler(LayerContext(call, ctx.source))
    return nodes, outputs[0]


def _steps(ctx: LayerContext) -> int:
    shapes = ctx.recorded_input_shapes()
    steps = shapes[0][1] if shapes and len(shapes[0]) > 2 else None
    if not isinstance(steps, int):
        ctx.reject("input shape", shapes[0] if shapes else None,
                   "a fixed number of steps, recorded in the file (the steps are folded into "
                   "the batch)")
    return steps


def _folded(ctx: LayerContext, build, steps: int) -> list:
    """fold -> the nodes `build(folded tensor)` gives with their output tensor -> unfold. A
    single inner layer's nodes keep the layer's name (so its parameters are named as a plain
    layer's); the output tensor is renamed, the unfold writing the layer's."""
    folded, per_step = f"{ctx.name}/folded", f"{ctx.name}/per_step"
    inner, output = build(folded)
    produced = {t for node in inner for t in node.outputs}
    if output not in produced or len(produced - {t for n in inner for t in n.inputs}) > 1:
        ctx.reject("layer", class_name_of(ctx.get("layer")), "a layer with one output")

    def renamed(tensors: tuple) -> tuple:
        return tuple(per_step if t == output else t for t in tensors)
    inner = [_told_steps(node, steps).replace(inputs=renamed(node.inputs),
                                              outputs=renamed(node.outputs)) for node in inner]
    return [ctx.node("fold_steps", Steps(steps), name=folded, outputs=(folded,)), *inner,
            ctx.node("unfold_steps", Steps(steps), name=f"{ctx.name}/unfolded",
                     inputs=(per_step,))]


def _told_steps(node, steps: int):
    """The node, told the rows per sample where its training statistics are per step."""
    if node.op not in _PER_STEP_STATISTICS:
        return node
    return node.replace(attrs=dataclasses.replace(node.attrs, steps=steps))


# --- shapes ----------------------------------------------------------------------------------

def _fold_shape(node, attrs, ins):
    shape = ins[0]
    if len(shape) < 2 or shape[0] != attrs.steps:
        fail(node, f"TimeDistributed expects ({attrs.steps}, ...) per sample, got {shape}")
    return attrs, shape[1:]


def _unfold_shape(node, attrs, ins):
    return attrs, (attrs.steps, *ins[0])


# --- templates -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Way:
    """One regrouping: rows multiplied (folding) or divided (unfolding) by the steps; the image
    (C, H, W) the source or target is held as channels-first (None: row-major already)."""
    rows: str
    cols: int
    src: str | None
    dst: str | None


def _held_image(shape: tuple) -> str | None:
    """"C, H, W" of a sample DML holds channels-first (3-D; with one channel both orders are
    the same)."""
    return ", ".join(map(str, image(shape))) if len(shape) == 3 and shape[-1] > 1 else None


def _ways(n: Step, outer: tuple, inner: tuple) -> tuple:
    """(fold, unfold) of the sample shape `outer` = (steps, *inner), and the dml_lib modules
    they call."""
    if None in outer:
        fail(n.node, f"TimeDistributed needs a known shape per step, got {outer[1:]}")
    steps, size = n.attrs.steps, math.prod(inner)
    big, small = _held_image(outer), _held_image(inner)
    fold = _Way(f"* {steps}", size, big, small)
    unfold = _Way(f"/ {steps}", steps * size, small, big)
    return fold, unfold, (LAYOUT,) if big or small else ()


def _fold_context(n: Step) -> dict:
    fold, unfold, sources = _ways(n, n.in_shape, n.out_shape)
    return dict(forward=fold, backward=unfold, sources=sources,
                comment=f"each sample's {n.attrs.steps} steps as rows of their own")


def _unfold_context(n: Step) -> dict:
    fold, unfold, sources = _ways(n, n.out_shape, n.in_shape)
    return dict(forward=unfold, backward=fold, sources=sources,
                comment=f"every {n.attrs.steps} rows back into one sample")


define("fold_steps", Steps, shape=_fold_shape, template="fold_steps.dml.j2",
       context=_fold_context, family=__name__, undoes="unfold_steps")
define("unfold_steps", Steps, shape=_unfold_shape, template="fold_steps.dml.j2",
       context=_unfold_context, family=__name__, undoes="fold_steps")
