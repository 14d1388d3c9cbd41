"""Spatial resizing of images and sequences: ZeroPadding1D/2D, UpSampling1D/2D (nearest neighbour
or bilinear) and Resizing (bilinear or nearest). A time-major sequence row (T steps of D
features) is a one-channel T x D image, so the 1-D ops run dml_lib's 2-D layers along its
rows."""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, image, known, sequence_rows
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Pad1D, Pad2D
from ..opdef import define
from .shaping import require_rank
from .axes import channels_first


@dataclass(frozen=True)
class ZeroPad2D:
    padding: Pad2D


@dataclass(frozen=True)
class UpSample2D:
    """Nearest-neighbour upsampling: every pixel repeated size[0] x size[1] times."""
    size: tuple


@dataclass(frozen=True)
class ResizeBilinear:
    """Bilinear resizing, as tf.image.resize without antialiasing, to (height, width) or by an
    integer factor per axis (UpSampling2D), which the shape rule turns into a size."""
    height: int | None = None
    width: int | None = None
    factor: tuple | None = None


@dataclass(frozen=True)
class ResizeNearest:
    """Nearest-neighbour resizing, as tf.image.resize's (half-pixel centres), to (height,
    width)."""
    height: int
    width: int


@dataclass(frozen=True)
class ZeroPad1D:
    padding: Pad1D


@dataclass(frozen=True)
class UpSample1D:
    """Every step repeated `size` times."""
    size: int


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
@channels_first
def zero_padding2d(ctx: LayerContext) -> list:
    """ZeroPadding2D(padding)."""
    ctx.channels_last()
    (top, bottom), (left, right) = _pad_pairs(ctx)
    return [ctx.node("zero_pad2d", ZeroPad2D(Pad2D(top, bottom, left, right)))]


@handles("UpSampling2D")
@channels_first
def upsampling2d(ctx: LayerContext) -> list:
    """UpSampling2D(size, interpolation nearest or bilinear)."""
    ctx.channels_last()
    size = ctx.ints("size", 2, 2)
    if ctx.choice("interpolation", ("nearest", "bilinear"), "nearest") == "bilinear":
        return [ctx.node("resize_bilinear", ResizeBilinear(factor=size))]
    return [ctx.node("upsample2d", UpSample2D(size))]


@handles("Resizing")
@channels_first
def resizing(ctx: LayerContext) -> list:
    """Resizing(height, width, interpolation bilinear or nearest), without cropping or padding
    to the aspect ratio."""
    ctx.channels_last()
    method = ctx.choice("interpolation", tuple(_RESIZE_OPS), "bilinear")
    for key in ("crop_to_aspect_ratio", "pad_to_aspect_ratio", "antialias"):
        ctx.choice(key, (False,), False)
    op, attrs = _RESIZE_OPS[method]
    return [ctx.node(op, attrs(int(ctx.get("height")), int(ctx.get("width"))))]


_RESIZE_OPS = {"bilinear": ("resize_bilinear", ResizeBilinear),
               "nearest": ("resize_nearest", ResizeNearest)}


@handles("ZeroPadding1D")
def zero_padding1d(ctx: LayerContext) -> list:
    """ZeroPadding1D(padding): n or (before, after) zero steps."""
    value = ctx.get("padding", 1)
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 0 for v in pair):
        ctx.reject("padding", value, "an int or (before, after)")
    return [ctx.node("zero_pad1d", ZeroPad1D(Pad1D(*pair)))]


@handles("UpSampling1D")
def upsampling1d(ctx: LayerContext) -> list:
    """UpSampling1D(size): every step repeated."""
    return [ctx.node("upsample1d", UpSample1D(ctx.ints("size", 1, 2)[0]))]


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


def _steps_shape(grow):
    def rule(node, attrs, ins):
        require_rank(node, ins[0], 2, "(steps, features)")
        steps = None if ins[0][0] is None else grow(attrs, ins[0][0])
        return attrs, (steps, ins[0][1])
    return rule


def _zero_pad1d_context(n: Step) -> dict:
    steps, features = sequence_rows(n, "a sequence (steps, features)")
    p = n.attrs.padding
    return dict(sizes=f"1, {steps}, {features}", pads=f"{p.left}, {p.right}, 0, 0")


def _upsample1d_context(n: Step) -> dict:
    steps, features = sequence_rows(n, "a sequence (steps, features)")
    return dict(sizes=f"1, {steps}, {features}, {n.attrs.size}, 1")


def _resize_shape(node, attrs, ins):
    shape = ins[0]
    require_rank(node, shape, 3, "(height, width, channels)")
    if getattr(attrs, "factor", None) is not None:    # UpSampling2D's bilinear factor
        if None in shape[:2]:
            return attrs, (None, None, shape[2])
        attrs = ResizeBilinear(shape[0] * attrs.factor[0], shape[1] * attrs.factor[1])
    return attrs, (attrs.height, attrs.width, shape[2])


def _resize_context(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(sizes=f"{c}, {h}, {w}, {n.attrs.height}, {n.attrs.width}")


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
define("zero_pad1d", ZeroPad1D, shape=_steps_shape(lambda a, t: t + a.padding.left +
                                                   a.padding.right),
       template="zero_pad2d.dml.j2", context=_zero_pad1d_context, sources=("zero_pad2d",),
       family=__name__)
define("upsample1d", UpSample1D, shape=_steps_shape(lambda a, t: t * a.size),
       template="upsample2d.dml.j2", context=_upsample1d_context, sources=("upsample2d",),
       family=__name__)
define("resize_bilinear", ResizeBilinear, shape=_resize_shape, template="resize_bilinear.dml.j2",
       context=_resize_context, sources=("resize_bilinear",), family=__name__)
define("resize_nearest", ResizeNearest, shape=_resize_shape, template="resize_nearest.dml.j2",
       context=_resize_context, sources=("resize_nearest",), family=__name__)
