"""Dense and Embedding (TimeDistributed(Dense) is a Dense: time_distributed.py).

DML layout: dense kernel (D, units) as Keras holds it, or with its rows permuted when a Flatten of
a channels-first image feeds it (`passes.layout.dense_kernel_after_flatten`), bias (1, units);
embedding embeddings (V, D).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, image, known, sequence_rows, times, zeros
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, as_is, as_row, bias_row, define, f64
from ..passes.layout import dense_kernel_after_flatten
from .activations import fused_activation
from .masking import step_mask
from .shaping import bias, fail, last_dim


@dataclass(frozen=True)
class Dense:
    """y = x @ kernel + bias over the last axis. kernel (D, units), bias (units,)."""
    units: int
    use_bias: bool = True


@dataclass(frozen=True)
class Embedding:
    """(T,) integer indices -> (T, output_dim). embeddings (input_dim, output_dim)."""
    input_dim: int
    output_dim: int


# --- frontend --------------------------------------------------------------------------------

@handles("Dense")
def dense(ctx: LayerContext) -> list:
    """Dense(units, activation, use_bias), over the last axis of its input."""
    use_bias = bool(ctx.get("use_bias", True))
    if ctx.get("quantization_config", None) is not None:
        ctx.reject("quantization_config", ctx.get("quantization_config"), "None")
    weights = ctx.weights("kernel", "bias") if use_bias else ctx.weights("kernel")
    attrs = Dense(int(ctx.get("units")), use_bias)
    return [ctx.node("dense", attrs, tuple(weights.values()), activation=fused_activation(ctx))]


@handles("Embedding")
def embedding(ctx: LayerContext) -> list:
    """Embedding(input_dim, output_dim, mask_zero) on integer indices; mask_zero masks the
    steps whose index is 0 for the layers after it."""
    attrs = Embedding(int(ctx.get("input_dim")), int(ctx.get("output_dim")))
    nodes = [ctx.node("embedding", attrs, tuple(ctx.weights("embeddings").values()))]
    if ctx.get("mask_zero", False):
        nodes.append(step_mask(ctx, ctx.call.inputs[0], 0.0))
    return nodes


# --- dense -----------------------------------------------------------------------------------

def _dense_shape(node, attrs, ins):
    if not ins[0]:
        fail(node, "Dense needs an input with at least one axis")
    return attrs, ins[0][:-1] + (attrs.units,)


def _dense_params(a: Dense, input_shapes) -> dict:
    return {"kernel": (last_dim(input_shapes), a.units), **bias(a.use_bias, a.units)}


def _dense_kernel(value, site):
    return f64(value) if site.flattened is None else dense_kernel_after_flatten(value,
                                                                                site.flattened)


_ACCEPTED_DENSE = "a vector, a sequence or an image of known size"


def _dense_context(n: Step) -> dict:
    units = n.attrs.units
    if len(n.in_shape) == 3:  # on images a Dense is a 1x1 convolution (ConvNeXt's pointwise)
        c, h, w = image(known(n.in_shape, "image size"))
        return dict(image=f"{c}, {h}, {w}", H=h, W=w, b=n.params.get("bias") or zeros(1, units),
                    db=n.param_grads.get("bias") or f"{n.out}_dzero", sources=("conv2d",))
    steps, features = sequence_rows(n, _ACCEPTED_DENSE)
    return dict(image=None, T=steps, D=features, units=units, in_cols=times(steps, features),
                out_cols=times(steps, units), b=n.params.get("bias") or zeros(1, units),
                db=n.param_grads.get("bias") or f"{n.out}_dzero")


define("dense", Dense, shape=_dense_shape, params=_dense_params,
       weights=(Weight("kernel", "W", layout=_dense_kernel), Weight("bias", "b", layout=as_row)),
       template="dense.dml.j2", context=_dense_context, output_channels=bias_row,
       sources=("affine",), family=__name__)


# --- embedding -------------------------------------------------------------------------------

def _embedding_shape(node, attrs, ins):
    return attrs, ins[0] + (attrs.output_dim,)


def _embedding_params(a: Embedding, input_shapes) -> dict:
    return {"embeddings": (a.input_dim, a.output_dim)}


def _embedding_context(n: Step) -> dict:
    return dict(no_input_gradient=True)


define("embedding", Embedding, shape=_embedding_shape, params=_embedding_params,
       weights=(Weight("embeddings", "E", layout=as_is),), template="embedding.dml.j2",
       context=_embedding_context, sources=("embedding",), family=__name__)
