"""BatchNormalization (images, vectors, sequences), LayerNormalization and GroupNormalization;
inference uses the moving statistics.

DML layout: batch_norm's gamma/beta/moving_* are (C, 1) columns on images (per channel), (1, D)
rows otherwise (the context's `channels`); layer_norm's gamma/beta are (1, D) rows; group_norm's
gamma/beta are (C, 1) columns, the layer working on channels-first samples (sequences are
turned channels first around it).

At inference a BatchNormalization scales and shifts each channel by constants, so a prediction
script folds it into the weights of a convolution or Dense before it (passes.folding; the
template's `fold` macro computes the folded weights).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..backend.step import (LAYOUT, Step, Unsupported, image, known, ones,
                            zeros)
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, always, as_column, as_row, define
from .activations import keras_axis
from .shaping import fail, last_axis_only
from .axes import any_axis, trailing_axes


@dataclass(frozen=True)
class BatchNorm:
    """Normalises the last (channel) axis. gamma (C,) when scale, beta (C,) when center,
    moving_mean (C,), moving_variance (C,)."""
    epsilon: float
    center: bool = True
    scale: bool = True
    momentum: float = 0.99
    axis: int = -1
    # rows per sample inside TimeDistributed (time_distributed.py): training then normalises
    # each step by its own statistics and updates the moving ones once per step, as Keras 3
    steps: int = 1


@dataclass(frozen=True)
class LayerNorm:
    """Normalises each sample over the last axis. gamma (D,) when scale, beta (D,) when center."""
    epsilon: float
    center: bool = True
    scale: bool = True
    axis: int = -1


@dataclass(frozen=True)
class GroupNorm:
    """Normalises each sample's groups of channels (last axis) over all their values. groups
    is the number of groups once shapes are known (Keras' -1: one per channel). gamma (C,) when
    scale, beta (C,) when center."""
    groups: int
    epsilon: float
    center: bool = True
    scale: bool = True
    axis: int = -1


# --- frontend --------------------------------------------------------------------------------

def _axis(ctx: LayerContext, default) -> int:
    """The one normalised axis, as an IR axis; whether it is the last is checked with shapes."""
    value = ctx.get("axis", default)
    axis = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", value, "one non-batch axis (not several)")
    return keras_axis(axis)


def _flags(ctx: LayerContext) -> tuple:
    return bool(ctx.get("center", True)), bool(ctx.get("scale", True))


@handles("BatchNormalization")
@any_axis
def batch_normalization(ctx: LayerContext) -> list:
    """BatchNormalization(axis=-1, epsilon, center, scale, momentum)."""
    for flag in ("renorm", "synchronized"):
        if ctx.get(flag, False):
            ctx.reject(flag, True, "False")
    axis = _axis(ctx, -1)
    center, scale = _flags(ctx)
    names = (("gamma",) if scale else ()) + (("beta",) if center else ()) + \
        ("moving_mean", "moving_variance")
    attrs = BatchNorm(float(ctx.get("epsilon", 1e-3)), center, scale,
                      float(ctx.get("momentum", 0.99)), axis)
    return [ctx.node("batch_norm", attrs, tuple(ctx.weights(*names).values()))]


@handles("LayerNormalization")
@trailing_axes
@any_axis
def layer_normalization(ctx: LayerContext) -> list:
    """LayerNormalization(axis=-1, epsilon, center, scale)."""
    if ctx.get("rms_scaling", False):
        ctx.reject("rms_scaling", True, "False")
    axis = _axis(ctx, -1)
    center, scale = _flags(ctx)
    names = (("gamma",) if scale else ()) + (("beta",) if center else ())
    attrs = LayerNorm(float(ctx.get("epsilon", 1e-3)), center, scale, axis)
    return [ctx.node("layer_norm", attrs, tuple(ctx.weights(*names).values()))]


@handles("GroupNormalization")
@any_axis
def group_normalization(ctx: LayerContext) -> list:
    """GroupNormalization(groups, axis=-1, epsilon, center, scale); groups=-1 is instance
    normalization."""
    groups = ctx.get("groups", 32)
    if not isinstance(groups, int) or groups == 0 or groups < -1:
        ctx.reject("groups", groups, "a positive number of groups dividing the channels, or -1")
    axis = _axis(ctx, -1)
    center, scale = _flags(ctx)
    names = (("gamma",) if scale else ()) + (("beta",) if center else ())
    attrs = GroupNorm(groups, float(ctx.get("epsilon", 1e-3)), center, scale, axis)
    return [ctx.node("group_norm", attrs, tuple(ctx.weights(*names).values()))]


# --- shapes and parameters -------------------------------------------------------------------

def _shape(node, attrs, ins):
    return last_axis_only(node, attrs, ins[0]), ins[0]


def _group_norm_shape(node, attrs, ins):
    attrs, shape = _shape(node, attrs, ins)
    channels = shape[-1]
    groups = channels if attrs.groups == -1 else attrs.groups
    if channels is not None and channels % groups:
        fail(node, f"{groups} groups do not divide {channels} channels")
    return dataclasses.replace(attrs, groups=groups), shape


def _normalised_size(attrs, input_shapes):
    if not input_shapes:
        return None
    shape, axis = input_shapes[0], attrs.axis
    return shape[axis] if -len(shape) <= axis < len(shape) else None


def _scale_params(attrs, c) -> dict:
    names = (["gamma"] if attrs.scale else []) + (["beta"] if attrs.center else [])
    return {name: (c,) for name in names}


def _batch_norm_params(a: BatchNorm, ins) -> dict:
    c = _normalised_size(a, ins)
    return {**_scale_params(a, c), "moving_mean": (c,), "moving_variance": (c,)}


def _layer_norm_params(a: LayerNorm, ins) -> dict:
    return _scale_params(a, _normalised_size(a, ins))


def _group_norm_params(a: GroupNorm, ins) -> dict:
    return _scale_params(a, _normalised_size(a, ins))


def _per_channel(value, site):
    """Columns on channels-first images, rows otherwise."""
    return (as_column if site.channels_first else as_row)(value, site)


# --- templates -------------------------------------------------------------------------------

def _scale_shift(n: Step, rows: int, cols: int) -> dict:
    """Parameters the layer lacks (center/scale False) are constants the library ignores."""
    return dict(gamma=n.params.get("gamma") or ones(rows, cols),
                beta=n.params.get("beta") or zeros(rows, cols),
                dgamma=n.param_grads.get("gamma") or f"{n.out}_dgamma_unused",
                dbeta=n.param_grads.get("beta") or f"{n.out}_dbeta_unused")


def _flag_text(n: Step) -> str:
    a = n.attrs
    return f"{a.epsilon!r}, {'TRUE' if a.center else 'FALSE'}, {'TRUE' if a.scale else 'FALSE'}"


def _batch_norm_context(n: Step) -> dict:
    shape = known(n.in_shape, "shape")
    # Keras runs a frozen BatchNormalization in inference mode, in training too
    mode = '"train"' if n.training and not n.frozen else '"test"'
    common = dict(mode=mode, momentum=repr(n.attrs.momentum), flags=_flag_text(n),
                  mean=n.params["moving_mean"], var=n.params["moving_variance"])
    common.update(_per_step(n, shape))
    if len(shape) == 3:
        c, h, w = image(shape)
        return dict(common, **_scale_shift(n, c, 1), images=True, sizes=f"{c}, {h}, {w}",
                    wide_sizes=f"{n.attrs.steps * c}, {h}, {w}", C=c, K=c * h * w,
                    channels="column", module="batch_norm2d", sources=("batch_norm2d",))
    # vectors, sequences and volumes (held in Keras' order): rows of positions x features
    steps, features = math.prod(shape[:-1]), shape[-1]
    return dict(common, **_scale_shift(n, 1, features), images=False, T=steps, D=features,
                C=features, K=features, channels="row", module="batch_norm1d",
                sources=("batch_norm1d",))


def _per_step(n: Step, shape: tuple) -> dict:
    """Training inside TimeDistributed: a sample's steps side by side are one row of `steps`
    times the channels (images) or features (vectors), each with its own statistics."""
    per_step = n.training and not n.frozen and n.attrs.steps > 1
    if per_step and len(shape) not in (1, 3):
        raise Unsupported("training", f"TimeDistributed(BatchNormalization) over {shape} per "
                          "step", "images or vectors per step (Keras 3 takes each step's "
                          "statistics over all its positions), or the layer frozen")
    return dict(per_step=per_step, steps=n.attrs.steps)


def _layer_norm_context(n: Step) -> dict:
    common = dict(_scale_shift(n, 1, n.in_shape[-1]), flags=_flag_text(n))
    if len(n.in_shape) != 3:
        return dict(common, image=None)
    # an image normalises each pixel's channels: its rows in Keras' (h, w, c) order are a
    # sequence of H*W steps of C values, which layer_norm.dml normalises step by step
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(common, image=f"{c}, {h}, {w}", sources=(LAYOUT,))


def _group_norm_context(n: Step) -> dict:
    """Channels C and positions S of a channels-first sample; a sequence (or any sample DML
    holds in Keras' order) is turned channels first around the layer."""
    shape = known(n.in_shape, "shape")
    channels, positions = shape[-1], math.prod(shape[:-1])
    turn = len(shape) != 3 and positions > 1 and channels > 1
    return dict(_scale_shift(n, channels, 1), flags=_flag_text(n),
                sizes=f"{channels}, {positions}, {n.attrs.groups}",
                turn=f"{channels}, {positions}, 1" if turn else None,
                sources=(LAYOUT,) if turn else ())


define("batch_norm", BatchNorm, shape=_shape, params=_batch_norm_params,
       weights=(Weight("gamma", "gamma", layout=_per_channel),
                Weight("beta", "beta", layout=_per_channel),
                Weight("moving_mean", "ema_mean", trainable=False, layout=_per_channel,
                       moving=True),
                Weight("moving_variance", "ema_var", trainable=False, layout=_per_channel,
                       moving=True)),
       template="batch_norm.dml.j2", context=_batch_norm_context, folds_at_inference=always,
       library=("batch_norm1d", "batch_norm2d"), family=__name__)
define("layer_norm", LayerNorm, shape=_shape, params=_layer_norm_params,
       weights=(Weight("gamma", "gamma"), Weight("beta", "beta")),
       template="layer_norm.dml.j2", context=_layer_norm_context, sources=("layer_norm",),
       family=__name__)
define("group_norm", GroupNorm, shape=_group_norm_shape, params=_group_norm_params,
       weights=(Weight("gamma", "gamma", layout=as_column),
                Weight("beta", "beta", layout=as_column)),
       template="group_norm.dml.j2", context=_group_norm_context, sources=("group_norm",),
       library=("group_norm", "layer_norm"), family=__name__)
