"""Spatial resizing of images: ZeroPadding2D and UpSampling2D (nearest neighbour)."""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, image, known
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Pad2D
from ..opdef import define
from .shaping import require_rank


@dataclass(frozen=True)
class ZeroPad2D:
    padding: Pad2D


@dataclass(frozen=True)
class UpSample2D:
    """Nearest-neighbour upsampling: every pixel repeated size[0] x size[1] times."""
    size: tuple


# --- frontend --------------------------------------------------------------------------------

def _pad_pairs(ctx: LayerContext) -> tuple:
    """ZeroPadding2D's padding: n, (rows, cols) or ((top, bottom), (left, right))."""
    value = ctx.get("padding", 1)
    try:
        if isinstance(value, int):
            return (value, value), (value, value)
        rows, cols = value
        pairs = tuple((v, v) if isinstance(v, int) else tuple(v) for v in (rows, cols))
        if all(len(p) == 2 and all(isinstance(x, int) and x >= 0 for x in p) for p in pairs):
            return pairs
    except (TypeError, ValueError):
        pass
    ctx.reject("padding", value, "an int, (rows, cols) or ((top, bottom), (left, right))")


@handles("ZeroPadding2D")
def zero_padding2d(ctx: LayerContext) -> list:
    """ZeroPadding2D(padding)."""
    ctx.channels_last()
    (top, bottom), (left, right) = _pad_pairs(ctx)
    return [ctx.node("zero_pad2d", ZeroPad2D(Pad2D(top, bottom, left, right)))]


@handles("UpSampling2D")
def upsampling2d(ctx: LayerContext) -> list:
    """UpSampling2D(size), nearest-neighbour interpolation."""
    ctx.channels_last()
    ctx.choice("interpolation", ("nearest",), "nearest")
    return [ctx.node("upsample2d", UpSample2D(ctx.ints("size", 2, 2)))]


# --- shapes and templates --------------------------------------------------------------------

def _zero_pad2d_shape(node, attrs, ins):
    shape, p = ins[0], attrs.padding
    require_rank(node, shape, 3, "(height, width, channels)")
    grow = lambda size, a, b: None if size is None else size + a + b  # noqa: E731
    return attrs, (grow(shape[0], p.top, p.bottom), grow(shape[1], p.left, p.right), shape[2])


def _upsample2d_shape(node, attrs, ins):
    shape = ins[0]
    require_rank(node, shape, 3, "(height, width, channels)")
    scale = lambda size, k: None if size is None else size * k  # noqa: E731
    return attrs, (scale(shape[0], attrs.size[0]), scale(shape[1], attrs.size[1]), shape[2])


def _zero_pad2d_context(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    p = n.attrs.padding
    return dict(sizes=f"{c}, {h}, {w}", pads=f"{p.top}, {p.bottom}, {p.left}, {p.right}")


def _upsample2d_context(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(sizes=f"{c}, {h}, {w}, {n.attrs.size[0]}, {n.attrs.size[1]}")


define("zero_pad2d", ZeroPad2D, shape=_zero_pad2d_shape, template="zero_pad2d.dml.j2",
       context=_zero_pad2d_context, sources=("zero_pad2d",), family=__name__)
define("upsample2d", UpSample2D, shape=_upsample2d_shape, template="upsample2d.dml.j2",
       context=_upsample2d_context, sources=("upsample2d",), family=__name__)
