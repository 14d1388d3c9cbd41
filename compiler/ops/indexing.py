"""keras.ops calls that pick and stack parts of a tensor: caffe-style preprocess_input flips RGB
to BGR with x[..., 2], x[..., 1], x[..., 0] and ops.stack (ResNet50, VGG), a transformer's
classifier takes its class token with x[:, 0], a model splits its features with x[:, :4]:

- GetItem: indexes and unit-step slices of any sample axis become one crop (the last axis
  too), then a reshape drops the indexed axes and adds the new unit ones (None);
- Stack(axis=-1): every input given a unit last axis (reshape), then concatenated on it.

The sizes come from the input shapes the file records.
"""
from __future__ import annotations

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from .cropping import Crop
from .merge import Concatenate
from .reshaping import Reshape


def _shapes(ctx: LayerContext) -> list:
    shapes = ctx.recorded_input_shapes()
    if shapes is None or any(None in shape[1:] for shape in shapes):
        ctx.reject("input shape", None, "recorded in the file, with known sizes")
    return [tuple(shape[1:]) for shape in shapes]


@handles("ops.GetItem")
def get_item(ctx: LayerContext) -> list:
    """keras.ops x[:, k], x[:, a:b], x[..., k], x[..., a:b], x[:, :, a:b] and the like: indexes
    and unit-step slices (negative or open bounds too) of any sample axis, the last one included
    (x[:, 0] takes a transformer's class token, x[..., 2] an image's channel), and None for a
    new unit axis: a crop of the sliced axes, then a reshape dropping the indexed ones. Strided
    and reversed slices are refused."""
    index = list(ctx.call.args)[1] if len(ctx.call.args) == 2 else None
    (shape,) = _shapes(ctx)
    picked = _picked(index, shape)
    if picked is None:
        ctx.reject("index", index, "a full slice of the batch axis, then indexes, non-empty "
                   "unit-step slices (x[:, a:b], x[..., a:b]; not x[:, ::2] or x[:, ::-1]), None "
                   "and one ..., keeping a sample axis")
    spans, out = picked
    crop = [(first, size - last) for (first, last), size in zip(spans, shape)]
    nodes, source = [], None
    if any(before or after for before, after in crop):
        source = f"{ctx.name}/cropped"
        nodes.append(ctx.node("crop", Crop(tuple(crop[:-1]), channels=crop[-1]), name=source,
                              outputs=(source,)))
    fields = {} if source is None else dict(inputs=(source,))
    return nodes + [ctx.node("reshape", Reshape(out), **fields)]


def _kind(entry) -> str | None:
    return entry.get("class_name") if isinstance(entry, dict) else None


_ALL = {"class_name": "__slice__", "config": {}}


def _picked(index, shape: tuple) -> tuple | None:
    """((first, last) per sample axis, the output's sample shape) for an index over the batch
    and sample axes, or None for one that is not supported."""
    entries = list(index) if isinstance(index, list) else [index]
    ellipses = [i for i, entry in enumerate(entries) if _kind(entry) == "__ellipsis__"]
    axes = [entry for entry in entries if entry is not None and _kind(entry) != "__ellipsis__"]
    if len(ellipses) > 1 or len(axes) > len(shape) + 1:
        return None
    fill = [_ALL] * (len(shape) + 1 - len(axes))
    at = ellipses[0] if ellipses else len(entries)
    entries = entries[:at] + fill + entries[at + 1:]
    if _span(entries[0], None) is None:
        return None  # the batch axis is not taken whole
    sizes, spans, out = iter(shape), [], []
    for entry in entries[1:]:
        if entry is None:  # a new unit axis
            out.append(1)
            continue
        span = _span(entry, next(sizes))
        if span is None:
            return None
        spans.append(span[:2])
        out.extend([] if span[2] else [span[1] - span[0]])
    return (spans, tuple(out)) if out else None


def _span(entry, size: int | None) -> tuple | None:
    """(first, last, indexed) of one axis' entry: an index or a unit-step slice."""
    if isinstance(entry, int) and not isinstance(entry, bool) and size is not None:
        return (entry % size, entry % size + 1, True) if -size <= entry < size else None
    if _kind(entry) != "__slice__":
        return None
    config = entry["config"]
    if (config.get("step") or 1) != 1:
        return None
    if size is None:
        return (None, None, False) if config.get("start") is None and \
            config.get("stop") is None else None
    first, last, _ = slice(config.get("start"), config.get("stop")).indices(size)
    return (first, last, False) if last > first else None


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
