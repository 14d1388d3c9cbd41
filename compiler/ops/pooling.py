"""Pooling: Max/AveragePooling1D/2D and the global variants of 1D/2D/3D (Max/AveragePooling3D
are in volumes.py).

1-D pooling runs on dml_lib's 2-D pooling layers: a time-major sequence row (T steps of D
features) is a one-channel T x D image, and a window of (size, 1) slides along time only.
Average pooling counts only in-bounds elements (as Keras does with "same" padding); max pooling
ignores the padding. A volume's global pooling runs the same way: DML holds it in Keras' order,
a sequence of D*H*W positions of C channels. GlobalAveragePooling1D with a Keras mask (masking.py) averages the steps
that count; GlobalMaxPooling1D does not support masks in Keras, which drops the mask and takes
the maximum over every step.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..backend.step import Step, image, known, sequence_rows
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Pad1D, Pad2D
from ..opdef import define
from .keras_ops import Reduce
from .masking import require_mask
from .shaping import require_rank, windowed1d, windowed2d
from .axes import channels_first


@dataclass(frozen=True)
class Pool1D:
    """max_pool1d / avg_pool1d over (T, C)."""
    size: int
    stride: int
    padding: Pad1D = Pad1D()


@dataclass(frozen=True)
class Pool2D:
    """max_pool2d / avg_pool2d over (H, W, C)."""
    size: tuple
    strides: tuple
    padding: Pad2D = Pad2D()


@dataclass(frozen=True)
class GlobalPool:
    """global_{avg,max}_pool{1,2}d: reduce every spatial axis; keepdims keeps them as size 1;
    masked: a (steps,) mask is the second input of global_avg_pool1d."""
    keepdims: bool = False
    masked: bool = False


# --- frontend --------------------------------------------------------------------------------

def window(ctx: LayerContext, rank: int) -> tuple:
    ctx.channels_last()
    size = ctx.ints("pool_size", rank, 2)
    strides = ctx.get("strides", None)
    strides = size if strides is None else ctx.ints("strides", rank)
    return size, strides, ctx.choice("padding", ("valid", "same"), "valid")


@handles("MaxPooling1D", "AveragePooling1D")
@channels_first
def pool1d(ctx: LayerContext) -> list:
    """Max/AveragePooling1D(pool_size, strides, padding valid/same)."""
    (size,), (stride,), padding = window(ctx, 1)
    op = "max_pool1d" if ctx.class_name.startswith("Max") else "avg_pool1d"
    return [ctx.node(op, Pool1D(size, stride, padding))]


@handles("MaxPooling2D", "AveragePooling2D")
@channels_first
def pool2d(ctx: LayerContext) -> list:
    """Max/AveragePooling2D(pool_size, strides, padding valid/same)."""
    size, strides, padding = window(ctx, 2)
    op = "max_pool2d" if ctx.class_name.startswith("Max") else "avg_pool2d"
    return [ctx.node(op, Pool2D(size, strides, padding))]


_GLOBAL_OPS = {
    "GlobalAveragePooling1D": "global_avg_pool1d", "GlobalMaxPooling1D": "global_max_pool1d",
    "GlobalAveragePooling2D": "global_avg_pool2d", "GlobalMaxPooling2D": "global_max_pool2d",
    "GlobalAveragePooling3D": "global_avg_pool3d", "GlobalMaxPooling3D": "global_max_pool3d",
}
_SPATIAL_AXES = {"1D": (-1,), "2D": (-2, -1), "3D": (-3, -2, -1)}


@handles(*_GLOBAL_OPS)
def global_pool(ctx: LayerContext) -> list:
    """GlobalAverage/MaxPooling1D/2D/3D(keepdims; data_format channels_first: the mean or max over
    the last axes, as keras.io's timeseries Transformer pools each step's features);
    GlobalAveragePooling1D with a Keras mask averages the steps that count."""
    keepdims = bool(ctx.get("keepdims", False))
    if ctx.choice("data_format", ("channels_last", "channels_first", None),
                  "channels_last") == "channels_first":
        fn = "max" if "Max" in ctx.class_name else "mean"
        return [ctx.node("reduce", Reduce(fn, _SPATIAL_AXES[ctx.class_name[-2:]], keepdims))]
    if ctx.mask is not None and ctx.class_name == "GlobalAveragePooling1D":
        return [ctx.node("global_avg_pool1d", GlobalPool(keepdims, masked=True),
                         inputs=(ctx.call.inputs[0], ctx.mask))]
    return [ctx.node(_GLOBAL_OPS[ctx.class_name], GlobalPool(keepdims))]


# --- shapes ----------------------------------------------------------------------------------

def _pool1d_shape(node, attrs, ins):
    padding, out = windowed1d(node, attrs, ins[0], attrs.size, attrs.stride)
    return dataclasses.replace(attrs, padding=padding), (out, ins[0][1])


def _pool2d_shape(node, attrs, ins):
    return windowed2d(node, attrs, ins[0], attrs.size, ins[0][-1] if ins[0] else None)


_SAMPLES = {2: "(steps, channels)", 3: "(height, width, channels)",
            4: "(depth, height, width, channels)"}


def _global_shape(rank: int):
    def rule(node, attrs, ins):
        require_rank(node, ins[0], rank, _SAMPLES[rank])
        if attrs.masked:
            require_mask(node, ins[1], ins[0])
        return attrs, ((1,) * (rank - 1) if attrs.keepdims else ()) + (ins[0][-1],)
    return rule


# --- templates -------------------------------------------------------------------------------

def _pool(module: str, c, h, w, size, strides, pads, out_hw) -> dict:
    top, bottom, left, right = pads
    # the builtin's symmetric padding counts padded cells in averages; Keras does not
    plain = (top, left) == (bottom, right) and (module == "max_pool2d" or top + left == 0)
    return dict(module=module, plain=plain, C=c, H=h, W=w,
                Hout=out_hw[0], Wout=out_hw[1],
                sizes=f"{c}, {h}, {w}, {size[0]}, {size[1]}, {strides[0]}, {strides[1]}",
                padding=f"{top}, {left}" if plain else f"{top}, {bottom}, {left}, {right}")


def _pool2d_context(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    p = n.attrs.padding
    module = "max_pool2d" if n.node.op == "max_pool2d" else "avg_pool2d"
    ctx = _pool(module, c, h, w, n.attrs.size, n.attrs.strides, (p.top, p.bottom, p.left, p.right),
                n.out_shape[:2])
    return dict(ctx, sources=(module,), shape_text=f"channels x height x width: {c}x{h}x{w}")


def _pool1d_context(n: Step) -> dict:
    steps, features = known(n.in_shape, "sequence length")
    module = "max_pool2d" if n.node.op == "max_pool1d" else "avg_pool2d"
    ctx = _pool(module, 1, steps, features, (n.attrs.size, 1), (n.attrs.stride, 1),
                (n.attrs.padding.left, n.attrs.padding.right, 0, 0), n.out_shape)
    return dict(ctx, sources=(module,),
                shape_text=f"{steps} steps of {features} features, as a 1-channel image")


def _global2d_context(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    module = n.node.op
    return dict(module=module, sources=(module,), one_d=False, sizes=f"{c}, {h}, {w}")


def _global1d_context(n: Step) -> dict:
    steps, features = sequence_rows(n, "a sequence (steps, features)")
    return _one_window(n, steps, features, n.in_shape[0] or "T")


def _global3d_context(n: Step) -> dict:
    d, h, w, c = known(n.in_shape, "volume size")
    return _one_window(n, d * h * w, c, f"{d}x{h}x{w}")


def _one_window(n: Step, steps, features: int, steps_text: str) -> dict:
    """One window covering all steps of the 1-channel T x D image of a sequence (or volume)."""
    module = "avg_pool2d" if "avg" in n.node.op else "max_pool2d"
    return dict(module=module, sources=("masking",) if n.attrs.masked else (module,),
                one_d=True, H=steps, W=features, H_text=steps_text,
                sizes=f"1, {steps}, {features}, {steps}, 1, 1, 1")


_POOLS = ("max_pool2d", "avg_pool2d")
define(("max_pool2d", "avg_pool2d"), Pool2D, shape=_pool2d_shape, template="pool2d.dml.j2",
       context=_pool2d_context, library=_POOLS, family=__name__)
define(("max_pool1d", "avg_pool1d"), Pool1D, shape=_pool1d_shape, template="pool2d.dml.j2",
       context=_pool1d_context, library=_POOLS, family=__name__)
define(("global_avg_pool2d", "global_max_pool2d"), GlobalPool, shape=_global_shape(3),
       template="global_pool.dml.j2", context=_global2d_context,
       library=("global_avg_pool2d", "global_max_pool2d"), family=__name__)
define(("global_avg_pool1d", "global_max_pool1d"), GlobalPool, shape=_global_shape(2),
       template="global_pool.dml.j2", context=_global1d_context, library=(*_POOLS, "masking"),
       max_inputs=2, family=__name__)
define(("global_avg_pool3d", "global_max_pool3d"), GlobalPool, shape=_global_shape(4),
       template="global_pool.dml.j2", context=_global3d_context, library=_POOLS,
       family=__name__)
