"""Dropout (and SpatialDropout1D/2D/3D), Flatten and Reshape: ops that keep or reorder values."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..backend.step import LAYOUT, Step, image, known, seed_offset
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import always, define
from ..passes.layout import flatten_dense_pairs
from .reordering import MoveAxis
from .shaping import fail, same_shape


@dataclass(frozen=True)
class Dropout:
    """Identity at inference. rate is the drop probability; spatial drops whole channels."""
    rate: float
    spatial: bool = False


@dataclass(frozen=True)
class Flatten:
    """Row-major flatten of the Keras-layout sample: (H, W, C) -> (H*W*C,) in h, w, c order."""


@dataclass(frozen=True)
class Reshape:
    """Row-major reshape of the Keras-layout sample; target is fully resolved (no -1)."""
    target: tuple


# --- frontend --------------------------------------------------------------------------------

@handles("Dropout")
def dropout(ctx: LayerContext) -> list:
    """Dropout(rate): identity at inference."""
    return [ctx.node("dropout", Dropout(float(ctx.get("rate"))))]


@handles("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")
def spatial_dropout(ctx: LayerContext) -> list:
    """SpatialDropout1D/2D/3D(rate): drops whole channels in training; identity at
    inference."""
    ctx.channels_last()
    return [ctx.node("dropout", Dropout(float(ctx.get("rate")), spatial=True))]


@handles("Flatten")
def flatten(ctx: LayerContext) -> list:
    """Flatten() in Keras' row-major (h, w, c) order; with data_format='channels_first' (the
    default under keras.backend.set_image_data_format('channels_first')) Keras moves the
    channels last first, so that the Dense after it has the same weights in both formats."""
    if ctx.choice("data_format", ("channels_last", "channels_first", None),
                  "channels_last") != "channels_first":
        return [ctx.node("flatten", Flatten())]
    moved = f"{ctx.name}/channels_last"
    return [ctx.node("move_axis", MoveAxis(0, True), name=moved, outputs=(moved,)),
            ctx.node("flatten", Flatten(), inputs=(moved,))]


@handles("Reshape")
def reshape(ctx: LayerContext) -> list:
    """Reshape(target_shape), -1 allowed once."""
    target = tuple(int(d) for d in ctx.get("target_shape"))
    if sum(d == -1 for d in target) > 1 or any(d == 0 or d < -1 for d in target):
        ctx.reject("target_shape", list(target), "positive sizes and at most one -1")
    return [ctx.node("reshape", Reshape(target))]


# --- dropout ---------------------------------------------------------------------------------

def _dropout_context(n: Step) -> dict:
    context = dict(module="dropout", rate=n.attrs.rate, seed_offset=seed_offset(n))
    if n.attrs.spatial:
        # DML holds images channels first, sequences and volumes with the channels last
        context.update(module="spatial_dropout", channels=n.in_shape[-1],
                       channels_first="TRUE" if len(n.in_shape) == 3 else "FALSE",
                       sources=("spatial_dropout",))
    return context


define("dropout", Dropout, shape=same_shape, template="dropout.dml.j2", context=_dropout_context,
       sources=("dropout",), library=("dropout", "spatial_dropout"), family=__name__,
       noop_at_inference=always)


# --- flatten ---------------------------------------------------------------------------------

def _flatten_shape(node, attrs, ins):
    return attrs, (None if None in ins[0] else math.prod(ins[0]),)


def flatten_feeds_only_denses(graph, node) -> bool:
    """True when every use of the flattened image is a Dense whose kernel the weights writer
    permutes (layout.flatten_dense_pairs), so the rows can stay channels first."""
    denses = flatten_dense_pairs(graph)

    def fine(tensor: str) -> bool:
        if tensor in graph.outputs:
            return False
        for user in graph.consumers(tensor):
            if user.op in ("activation", "dropout"):
                if not fine(user.output):
                    return False
            elif user.op != "dense" or user.name not in denses:
                return False
        return True
    return fine(node.output)


def needs_reorder(graph, node) -> bool:
    """Whether a Flatten of an image writes its values in Keras' (h, w, c) order."""
    return len(graph.shape(node.inputs[0])) == 3 and not flatten_feeds_only_denses(graph, node)


def _flatten_context(n: Step) -> dict:
    if len(n.in_shape) != 3:
        return dict(reorder=False)
    reorder = needs_reorder(n.graph, n.node)
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(reorder=reorder, C=c, H=h, W=w,
                sources=(LAYOUT,) if reorder else ())


define("flatten", Flatten, shape=_flatten_shape, template="flatten.dml.j2",
       context=_flatten_context, family=__name__)


# --- reshape ---------------------------------------------------------------------------------

def _reshape_shape(node, attrs, ins):
    size = math.prod(ins[0]) if None not in ins[0] else None
    known_values = math.prod(d for d in attrs.target if d != -1)
    target = attrs.target
    if -1 in target and size is not None:
        if size % known_values:
            fail(node, f"cannot reshape {ins[0]} into {target}")
        target = tuple(size // known_values if d == -1 else d for d in target)
    elif size is not None and size != known_values:
        fail(node, f"cannot reshape {ins[0]} ({size} values) into {target} "
             f"({known_values} values)")
    return dataclasses.replace(attrs, target=target), target


def _reshape_context(n: Step) -> dict:
    shape_in, shape_out = known(n.in_shape, "shape"), n.out_shape
    src = image(shape_in) if len(shape_in) == 3 and shape_in[-1] > 1 else None
    dst = image(shape_out) if len(shape_out) == 3 and shape_out[-1] > 1 else None
    return dict(src=src, dst=dst, sources=(LAYOUT,) if src or dst else ())


define("reshape", Reshape, shape=_reshape_shape, template="reshape.dml.j2",
       context=_reshape_context, family=__name__)
