"""Inputs, Dense, Embedding, Dropout, Flatten, Reshape, TimeDistributed(Dense)."""
from __future__ import annotations

import dataclasses

from ... import ir
from ..context import LayerContext
from ..registry import handles
from .activations import fused_activation


@handles("InputLayer")
def input_layer(ctx: LayerContext) -> list:
    """A model input; its shape is Keras' input shape without the batch dimension."""
    shape = ctx.get("batch_shape", None) or ctx.get("batch_input_shape", None)
    if shape is None:
        ctx.reject("batch_shape", None, "a declared input shape (keras.Input(shape=...))")
    dtype = ctx.get("dtype", "float32")
    if not isinstance(dtype, str):  # Keras 3 may serialize a DTypePolicy
        dtype = str(((dtype or {}).get("config") or {}).get("name", "float32"))
    if ctx.get("sparse", False) or ctx.get("ragged", False):
        ctx.reject("sparse" if ctx.get("sparse", False) else "ragged", True, "False (dense inputs)")
    dims = tuple(None if d is None else int(d) for d in shape[1:])
    return [ctx.node("input", ir.Input(dtype), shapes=(dims,))]


@handles("Dense")
def dense(ctx: LayerContext) -> list:
    """Dense(units, activation, use_bias), over the last axis of its input."""
    use_bias = bool(ctx.get("use_bias", True))
    if ctx.get("quantization_config", None) is not None:
        ctx.reject("quantization_config", ctx.get("quantization_config"), "None")
    weights = ctx.weights("kernel", "bias") if use_bias else ctx.weights("kernel")
    attrs = ir.Dense(int(ctx.get("units")), use_bias)
    return [ctx.node("dense", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


@handles("TimeDistributed")
def time_distributed(ctx: LayerContext) -> list:
    """TimeDistributed(Dense(...)): a Dense over the last axis of each time step."""
    inner = ctx.get("layer")
    if not isinstance(inner, dict) or inner.get("class_name") != "Dense":
        ctx.reject("layer", (inner or {}).get("class_name"), "'Dense'")
    return dense(dataclasses.replace(ctx, call=dataclasses.replace(ctx.call, entry=inner)))


@handles("Embedding")
def embedding(ctx: LayerContext) -> list:
    """Embedding(input_dim, output_dim) on integer indices; mask_zero is not supported."""
    if ctx.get("mask_zero", False):
        ctx.reject("mask_zero", True, "False (masking is not supported)")
    attrs = ir.Embedding(int(ctx.get("input_dim")), int(ctx.get("output_dim")))
    return [ctx.node("embedding", attrs, tuple(ctx.weights("embeddings").values()))]


@handles("Dropout")
def dropout(ctx: LayerContext) -> list:
    """Dropout(rate): identity at inference."""
    return [ctx.node("dropout", ir.Dropout(float(ctx.get("rate"))))]


@handles("SpatialDropout1D", "SpatialDropout2D")
def spatial_dropout(ctx: LayerContext) -> list:
    """SpatialDropout1D/2D(rate): drops whole channels in training; identity at inference."""
    ctx.channels_last()
    return [ctx.node("dropout", ir.Dropout(float(ctx.get("rate")), spatial=True))]


@handles("Flatten")
def flatten(ctx: LayerContext) -> list:
    """Flatten() in Keras' row-major (h, w, c) order."""
    ctx.channels_last()
    return [ctx.node("flatten", ir.Flatten())]


@handles("Reshape")
def reshape(ctx: LayerContext) -> list:
    """Reshape(target_shape), -1 allowed once."""
    target = tuple(int(d) for d in ctx.get("target_shape"))
    if sum(d == -1 for d in target) > 1 or any(d == 0 or d < -1 for d in target):
        ctx.reject("target_shape", list(target), "positive sizes and at most one -1")
    return [ctx.node("reshape", ir.Reshape(target))]
