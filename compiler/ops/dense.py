"""Dense, EinsumDense and Embedding (TimeDistributed(Dense) is a Dense: time_distributed.py).

An EinsumDense whose equation is a Dense over the input's trailing axes ("abc,cde->abde": the
input's last axes contracted with the kernel's first ones, the kernel's other axes appended to
the output) is a reshape, a Dense and a reshape, its kernel read as (contracted, new) sizes.

DML layout: dense kernel (D, units) as Keras holds it, or with its rows permuted when a Flatten of
a channels-first image feeds it (`passes.layout.dense_kernel_after_flatten`), bias (1, units);
embedding embeddings (V, D).
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from ..backend.step import Step, image, known, sequence_rows, times, zeros
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, as_is, as_row, bias_row, define, f64
from ..passes.layout import dense_kernel_after_flatten
from .activations import fused_activation
from .masking import step_mask
from .reshaping import Reshape
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


_EQUATION = re.compile(r"^(\.\.\.)?([a-z]*),([a-z]+)->(\.\.\.)?([a-z]*)$")
_ACCEPTED_EQUATION = ("an equation of a Dense over the input's last axes: the kernel's first "
                      "letters the input's last ones, its other letters the output's last ones "
                      "(\"abc,cd->abd\", \"abc,cde->abde\", \"abcd,cde->abe\", \"...b,bc->...c\")")


def _einsum_axes(ctx: LayerContext, input_rank: int) -> tuple[int, int, int]:
    """(kept, contracted, new) axis counts of an EinsumDense equation that is a Dense over the
    trailing axes of an input of `input_rank` axes (the batch axis included)."""
    equation = str(ctx.get("equation")).replace(" ", "")
    match = _EQUATION.match(equation)
    if match is None or bool(match.group(1)) != bool(match.group(4)):
        ctx.reject("equation", equation, _ACCEPTED_EQUATION)
    elided, left, kernel, right = bool(match.group(1)), match.group(2), match.group(3), \
        match.group(5)
    leading = input_rank - len(left)          # the axes before the equation's letters
    if not elided:
        if leading != 0 or not left or not right or left[0] != right[0] or left[0] in kernel:
            ctx.reject("equation", equation, _ACCEPTED_EQUATION)
        left, right, leading = left[1:], right[1:], 1
    contracted = next((k for k in range(len(kernel), 0, -1)
                       if left.endswith(kernel[:k])), 0)
    kept, new = left[:len(left) - contracted], kernel[contracted:]
    if leading < 1 or contracted == 0 or right != kept + new or len(set(kernel + kept)) != \
            len(kernel + kept):
        ctx.reject("equation", equation, _ACCEPTED_EQUATION)
    return leading - 1 + len(kept), contracted, len(new)


@handles("EinsumDense")
def einsum_dense(ctx: LayerContext) -> list:
    """EinsumDense(equation, output_shape, bias_axes, activation) when the equation is a Dense
    over the input's last axes ("abc,cd->abd", "abc,cde->abde", "abcd,cde->abe",
    "...b,bc->...c"); bias over all the kernel's output axes or none."""
    for key in ("lora_rank", "quantization_config"):
        if ctx.get(key, None):
            ctx.reject(key, ctx.get(key), "None")
    shapes = ctx.recorded_input_shapes()
    if shapes is None or len(shapes) != 1:
        ctx.reject("input shape", None, "one input, its shape recorded in the file")
    sample = list(shapes[0][1:])
    kept, contracted, new = _einsum_axes(ctx, len(shapes[0]))
    bias_axes = ctx.get("bias_axes", None)
    weights = ctx.weights("kernel", "bias") if bias_axes else ctx.weights("kernel")
    kernel = weights["kernel"]
    inner, outer = kernel.shape[:contracted], kernel.shape[contracted:]
    if bias_axes and tuple(weights["bias"].shape) != outer:
        ctx.reject("bias_axes", bias_axes, f"all the kernel's output axes, a bias of shape {outer}")
    if None in sample[:kept] and kept > 1:
        ctx.reject("input shape", shapes[0], "known sizes of the axes kept")
    kept_sizes = tuple(-1 if size is None else int(size) for size in sample[:kept])
    units = math.prod(outer)
    params = (dataclasses.replace(kernel, value=kernel.value.reshape(math.prod(inner), units)),)
    if bias_axes:
        params += (dataclasses.replace(weights["bias"], value=weights["bias"].value.reshape(units)),)
    nodes, tensor = [], ctx.call.inputs[0]

    def add(op: str, attrs, step: str, node_params: tuple = (), **fields) -> None:
        nonlocal tensor
        name = f"{ctx.name}/{step}"
        nodes.append(ctx.node(op, attrs, node_params, name=name, inputs=(tensor,),
                              outputs=(name,), **fields))
        tensor = name

    if contracted > 1 or kept == 0 and len(sample) > 1:
        add("reshape", Reshape(kept_sizes + (math.prod(inner),)), "contracted")
    activation = fused_activation(ctx)
    add("dense", Dense(units, bool(bias_axes)), "dense", params,
        activation=None if new > 1 else activation)
    if new > 1:
        add("reshape", Reshape(kept_sizes + tuple(outer)), "output")
        if activation is not None:
            add("activation", activation, "activation")
    last = nodes[-1]
    nodes[-1] = last.replace(name=ctx.name, outputs=(ctx.name,))
    return nodes


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
