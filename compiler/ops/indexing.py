"""keras.ops calls that pick and stack channels, as caffe-style preprocess_input writes them
(ResNet50's and VGG's flip RGB to BGR with x[..., 2], x[..., 1], x[..., 0] and ops.stack), and
pick steps, as a transformer's classifier takes its class token (x[:, 0]):

- GetItem x[..., k]: the last axis moved to the front (move_axis), the index kept by a crop of
  that axis, and the unit axis dropped (reshape);
- GetItem x[:, k], x[:, a:b] (and an image's [:, i, j] / ranges): a crop of the axes before
  the last, the picked axes dropped (reshape);
- Stack(axis=-1): every input given a unit last axis (reshape), then concatenated on it.

The sizes come from the input shapes the file records.
"""
from __future__ import annotations

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from .cropping import Crop
from .merge import Concatenate
from .reordering import MoveAxis
from .reshaping import Reshape


def _shapes(ctx: LayerContext) -> list:
    shapes = ctx.recorded_input_shapes()
    if shapes is None or any(None in shape[1:] for shape in shapes):
        ctx.reject("input shape", None, "recorded in the file, with known sizes")
    return [tuple(shape[1:]) for shape in shapes]


@handles("ops.GetItem")
def get_item(ctx: LayerContext) -> list:
    """keras.ops x[..., k]: one index of the last axis of a sequence or an image; x[:, k],
    x[:, a:b] (x[:, 0] takes a transformer's class token) and the same on an image's rows and
    columns: indexes and unit-step slices of the axes before the last."""
    index = list(ctx.call.args)[1] if len(ctx.call.args) == 2 else None
    (shape,) = _shapes(ctx)
    ellipsis = isinstance(index, list) and len(index) == 2 and _kind(index[0]) == "__ellipsis__" \
        and isinstance(index[1], int)
    if ellipsis and len(shape) in (2, 3):
        return _last_axis_index(ctx, shape, index[1])
    spans = _leading_spans(index, shape)
    if spans is None:
        ctx.reject("index", index, "[..., k] of a sequence or an image, or [:, k] / [:, a:b] "
                   "(and [:, :, k] of an image) on the axes before the last")
    crop = tuple((first, size - last) for (first, last, _), size in zip(spans, shape))
    kept = tuple(last - first for first, last, picked in spans if not picked)
    cropped = f"{ctx.name}/cropped"
    return [ctx.node("crop", Crop(crop), name=cropped, outputs=(cropped,)),
            ctx.node("reshape", Reshape((*kept, shape[-1])), inputs=(cropped,))]


def _kind(entry) -> str | None:
    return entry.get("class_name") if isinstance(entry, dict) else None


def _leading_spans(index, shape: tuple) -> list | None:
    """(first, last, picked) per axis before the last for [:, ...] indexes of those axes (a
    full slice over the batch first), or None for any other index."""
    entries = index if isinstance(index, list) else [index]
    if not entries or not _full_slice(entries[0]) or len(shape) not in (2, 3):
        return None
    entries = entries[1:]
    while entries and _full_slice(entries[-1]):
        entries = entries[:-1]
    if not entries or len(entries) > len(shape) - 1:
        return None
    spans = []
    for axis, size in enumerate(shape[:-1]):
        entry = entries[axis] if axis < len(entries) else None
        if entry is None or _full_slice(entry):
            spans.append((0, size, False))
        elif isinstance(entry, int) and not isinstance(entry, bool) and -size <= entry < size:
            spans.append((entry % size, entry % size + 1, True))
        elif _kind(entry) == "__slice__" and (entry["config"].get("step") or 1) == 1:
            first, last, _ = slice(entry["config"].get("start"), entry["config"].get("stop")
                                   ).indices(size)
            if last <= first:
                return None
            spans.append((first, last, False))
        else:
            return None
    return spans


def _full_slice(entry) -> bool:
    return _kind(entry) == "__slice__" and all(
        entry["config"].get(key) is None for key in ("start", "stop", "step"))


def _last_axis_index(ctx: LayerContext, shape: tuple, index: int) -> list:
    size = shape[-1]
    k = index % size
    front, picked = f"{ctx.name}/last_axis_first", f"{ctx.name}/picked"
    crop = ((k, size - 1 - k),) + ((0, 0),) * (len(shape) - 2)
    return [ctx.node("move_axis", MoveAxis(0, False), name=front, outputs=(front,)),
            ctx.node("crop", Crop(crop), name=picked, inputs=(front,), outputs=(picked,)),
            ctx.node("reshape", Reshape(shape[:-1]), inputs=(picked,))]


@handles("ops.Stack")
def stack(ctx: LayerContext) -> list:
    """keras.ops.stack([...], axis=-1): tensors of one shape stacked on a new last axis."""
    shapes = _shapes(ctx)
    axis = ctx.get("axis", 0)
    if axis not in (-1, len(shapes[0]) + 1) or len(set(shapes)) != 1:
        ctx.reject("axis", axis, "-1, over tensors of one shape")
    nodes = [ctx.node("reshape", Reshape((*shape, 1)), name=f"{ctx.name}/{i}",
                      inputs=(tensor,), outputs=(f"{ctx.name}/{i}",))
             for i, (shape, tensor) in enumerate(zip(shapes, ctx.call.inputs))]
    return nodes + [ctx.node("concatenate", Concatenate(-1),
                             inputs=tuple(n.output for n in nodes))]
