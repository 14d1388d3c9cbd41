"""1-D convolutions that Keras has in 2-D too (Conv1DTranspose, DepthwiseConv1D,
SeparableConv1D) run as their 2-D counterpart over a (steps, 1, channels) image, between two
reshapes: the 2-D handler reads the layer's config with a unit second axis added to every size
(kernel_size, strides, dilation_rate, output_padding) and its kernels with a unit axis after the
first, so nothing of the 2-D op is written twice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from .axes import channels_first
from .conv import depthwise_conv2d, separable_conv2d
from .conv_transpose import conv2d_transpose
from .reshaping import Reshape

# the 2-D size of the unit axis: one tap, stride and rate of 1, no output padding
_SIZES = {"kernel_size": 1, "strides": 1, "dilation_rate": 1, "output_padding": 0}


@dataclass(frozen=True)
class _KernelsWithUnitAxis:
    """The layer's stored arrays, every kernel (k, a, b) read as (k, 1, a, b)."""
    store: object

    def arrays(self, path) -> list:
        return [dataclasses.replace(a, value=a.value.reshape(a.value.shape[0], 1,
                                                              *a.value.shape[1:]))
                if a.value.ndim == 3 else a for a in self.store.arrays(path)]


def _with_unit_axis(value, unit: int):
    if value is None:
        return None
    values = [value] if isinstance(value, int) else list(value)
    return [*values, unit] if len(values) == 1 else value


def _as_2d(ctx: LayerContext, handler, channels_in: int, channels_out: int) -> list:
    config = dict(ctx.config)
    config.update({key: _with_unit_axis(config[key], unit) for key, unit in _SIZES.items()
                   if key in config})
    image_in, image_out = f"{ctx.name}/steps_image", f"{ctx.name}/image"
    call = dataclasses.replace(ctx.call, name=image_out, inputs=(image_in,),
                               entry=dict(ctx.call.entry, config=config))
    source = dataclasses.replace(ctx.source, weights=_KernelsWithUnitAxis(ctx.source.weights))
    return [ctx.node("reshape", Reshape((-1, 1, channels_in)), name=image_in,
                     outputs=(image_in,)),
            *handler(LayerContext(call, source)),
            ctx.node("reshape", Reshape((-1, channels_out)), inputs=(image_out,))]


def _kernel_shape(ctx: LayerContext, index: int = 0) -> tuple:
    return ctx.source.weights.arrays(ctx.call.path)[index].value.shape


@handles("Conv1DTranspose")
@channels_first
def conv1d_transpose(ctx: LayerContext) -> list:
    """Conv1DTranspose(filters, kernel_size, strides, padding valid/same, output_padding): a
    Conv2DTranspose over the steps of a (steps, 1, channels) image."""
    _, filters, channels = _kernel_shape(ctx)   # (k, filters, channels)
    return _as_2d(ctx, conv2d_transpose, channels, filters)


@handles("DepthwiseConv1D")
@channels_first
def depthwise_conv1d(ctx: LayerContext) -> list:
    """DepthwiseConv1D(kernel_size, depth_multiplier, strides, padding valid/same,
    dilation_rate): a DepthwiseConv2D over the steps of a (steps, 1, channels) image."""
    _, channels, multiplier = _kernel_shape(ctx)
    return _as_2d(ctx, depthwise_conv2d, channels, channels * multiplier)


@handles("SeparableConv1D")
@channels_first
def separable_conv1d(ctx: LayerContext) -> list:
    """SeparableConv1D(filters, kernel_size, depth_multiplier, strides, padding valid/same,
    dilation_rate): a SeparableConv2D over the steps of a (steps, 1, channels) image."""
    _, channels, _ = _kernel_shape(ctx)
    return _as_2d(ctx, separable_conv2d, channels, int(ctx.get("filters")))
