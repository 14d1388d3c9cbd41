"""Layers built from the keras.ops family's nodes, whose ops carry their own gradients:

- Dot(axes, normalize): the batched dot product of two vectors (a Siamese pair's cosine) or of
  two sequences (a matrix product per sample, as PointNet applies its learned transforms):
  multiply and sum for vectors, matmul with the contracted axes moved into place for sequences;
- UnitNormalization, and Dot's normalize: Keras' l2 normalisation x * min(1 / ||x||, 1 / epsilon)
  in elementwise, reduce and multiply nodes;
- Attention (Luong's dot-product attention without scale): softmax(query @ key^T) @ value.

The ranks decide the form and are read from the layer's recorded input shapes (build_config, or
the tensors of its first call in a legacy .h5 file).
"""
from __future__ import annotations

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Elementwise
from .activations import Activation
from .keras_ops import Matmul, Reduce
from .merge import Merge
from .reordering import Permute

_EPSILON = 1e-7  # keras.backend.epsilon(), the floor of the norm in keras.ops.normalize


def _input_ranks(ctx: LayerContext) -> tuple | None:
    """Ranks of the two inputs without the batch axis, or None if the file does not say."""
    shapes = ctx.recorded_input_shapes()
    return None if shapes is None or len(shapes) != 2 else tuple(len(s) - 1 for s in shapes)


def _axes(ctx: LayerContext, ranks: tuple) -> tuple:
    """Keras' axes as per-sample axes, one per input."""
    value = ctx.get("axes")
    pair = [value, value] if isinstance(value, int) else value
    if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(a, int) for a in pair):
        ctx.reject("axes", value, "an int or two ints")
    axes = tuple(a % (rank + 1) - 1 for a, rank in zip(pair, ranks))
    if any(a < 0 for a in axes):
        ctx.reject("axes", value, "non-batch axes")
    return axes


class _Nodes:
    """The nodes of one Dot call, named after it; the last one takes the call's own name."""

    def __init__(self, ctx: LayerContext):
        self.ctx, self.nodes = ctx, []

    def add(self, op: str, attrs, inputs: tuple, step: str | None) -> str:
        name = self.ctx.name if not step else f"{self.ctx.name}/{step}"
        self.nodes.append(self.ctx.node(op, attrs, name=name, inputs=inputs, outputs=(name,)))
        return name

    def normalized(self, tensor: str, axis: int, which: str, epsilon: float = _EPSILON) -> str:
        square = self.add("elementwise", Elementwise("power", 2.0), (tensor,), f"{which}_square")
        total = self.add("reduce", Reduce("sum", (axis,), True), (square,), f"{which}_sum")
        inverse = self.add("elementwise", Elementwise("power", -0.5), (total,), f"{which}_rsqrt")
        inverse = self.add("elementwise", Elementwise("minimum", 1.0 / epsilon), (inverse,),
                           f"{which}_inverse_norm")
        return self.add("multiply", Merge(), (tensor, inverse), which and f"{which}_normalized")


@handles("Dot")
def dot(ctx: LayerContext) -> list:
    """Dot(axes, normalize) of two vectors, or of two sequences (a matrix product per sample)."""
    if len(ctx.call.inputs) != 2:
        ctx.reject("inputs", len(ctx.call.inputs), "two tensors")
    ranks = _input_ranks(ctx)
    if ranks not in ((1, 1), (2, 2)):
        ctx.reject("input ranks", ranks, "two vectors or two sequences (steps, features) "
                   "(the file must record the input shapes)")
    axes = _axes(ctx, ranks)
    nodes = _Nodes(ctx)
    left, right = ctx.call.inputs
    if ctx.get("normalize", False):
        left = nodes.normalized(left, axes[0], "left")
        right = nodes.normalized(right, axes[1], "right")
    if ranks == (1, 1):
        product = nodes.add("multiply", Merge(), (left, right), "product")
        nodes.add("reduce", Reduce("sum", (0,), True), (product,), None)
        return nodes.nodes
    # (T, D) @ (D, E): the left input contracts its last axis, the right one its first
    if axes[0] == 0:
        left = nodes.add("permute", Permute((1, 0)), (left,), "left_transposed")
    if axes[1] == 1:
        right = nodes.add("permute", Permute((1, 0)), (right,), "right_transposed")
    nodes.add("matmul", Matmul(), (left, right), None)
    return nodes.nodes


@handles("UnitNormalization")
def unit_normalization(ctx: LayerContext) -> list:
    """UnitNormalization(axis): each vector along one axis scaled to length 1."""
    value = ctx.get("axis", -1)
    axis = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", value, "one non-batch axis")
    nodes = _Nodes(ctx)
    nodes.normalized(ctx.call.inputs[0], axis - 1 if axis > 0 else axis, "", epsilon=1e-12)
    return nodes.nodes


@handles("Attention")
def attention(ctx: LayerContext) -> list:
    """Attention([query, value(, key)]): softmax(query @ key^T) @ value over the steps (dot
    scores, no scale, no dropout, no masks)."""
    ctx.choice("score_mode", ("dot",), "dot")
    for key, default in (("use_scale", False), ("dropout", 0.0)):
        if ctx.get(key, default) != default:
            ctx.reject(key, ctx.get(key), repr(default))
    for flag in ("use_causal_mask", "return_attention_scores"):
        if ctx.call.kwargs.get(flag):
            ctx.reject(flag, True, "False")
    if len(ctx.call.inputs) not in (2, 3):
        ctx.reject("inputs", len(ctx.call.inputs), "[query, value] or [query, value, key]")
    query, value = ctx.call.inputs[:2]
    key = ctx.call.inputs[2] if len(ctx.call.inputs) == 3 else value
    nodes = _Nodes(ctx)
    key_t = nodes.add("permute", Permute((1, 0)), (key,), "key_transposed")
    scores = nodes.add("matmul", Matmul(), (query, key_t), "scores")
    weights = nodes.add("activation", Activation("softmax"), (scores,), "weights")
    nodes.add("matmul", Matmul(), (weights, value), None)
    return nodes.nodes
