"""Layers built from the keras.ops family's nodes, whose ops carry their own gradients:

- Dot(axes, normalize): the batched dot product of two vectors (a Siamese pair's cosine) or of
  two sequences (a matrix product per sample, as PointNet applies its learned transforms):
  multiply and sum for vectors, matmul with the contracted axes moved into place for sequences;
- UnitNormalization, keras.ops.normalize and Dot's normalize: Keras' l2 normalisation
  x * min(1 / ||x||, 1 / epsilon) in elementwise, reduce and multiply nodes; RMSNormalization
  likewise, x * rsqrt(mean(x^2) + epsilon) times its learned scale (a layer_scale node);
- Attention (Luong's dot-product attention, Bahdanau's additive one as AdditiveAttention or
  score_mode="concat"): softmax(scores) @ value, the additive scores from a (Tq, Tk, D) sum
  of every query step and key step.

The ranks decide the form and are read from the layer's recorded input shapes (build_config, or
the tensors of its first call in a legacy .h5 file).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..frontend.context import LayerContext, as_role
from ..frontend.registry import handles
from ..ir import Elementwise
from .activations import Activation, keras_axis
from .axes import last_axis
from .keras_ops import Matmul, Reduce
from .merge import Merge
from .reordering import Permute
from .reshaping import Dropout, Reshape
from .scaling import LayerScale, constant_offset

_EPSILON = 1e-7  # keras.backend.epsilon(), the floor of the norm in keras.ops.normalize
_MASKED = 1e9    # what keras.layers.Attention subtracts from the scores it masks


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


class Nodes:
    """The nodes of one call built from several ops, named after it; the last one takes the
    call's own name."""

    def __init__(self, ctx: LayerContext):
        self.ctx, self.nodes = ctx, []

    def add(self, op: str, attrs, inputs: tuple, step: str | None, params: tuple = ()) -> str:
        name = self.ctx.name if not step else f"{self.ctx.name}/{step}"
        self.nodes.append(self.ctx.node(op, attrs, params, name=name, inputs=inputs,
                                        outputs=(name,)))
        return name

    def normalized(self, tensor: str, axis: int, which: str, epsilon: float = _EPSILON) -> str:
        square = self.add("elementwise", Elementwise("power", 2.0), (tensor,), f"{which}_square")
        total = self.add("reduce", Reduce("sum", (axis,), True), (square,), f"{which}_sum")
        inverse = self.add("elementwise", Elementwise("power", -0.5), (total,), f"{which}_rsqrt")
        inverse = self.add("elementwise", Elementwise("minimum", 1.0 / epsilon), (inverse,),
                           f"{which}_inverse_norm")
        return self.add("multiply", Merge(), (tensor, inverse), which and f"{which}_normalized")


@handles("RMSNormalization")
def rms_normalization(ctx: LayerContext) -> list:
    """RMSNormalization(axis=-1, epsilon): x * rsqrt(mean(x^2) + epsilon) * scale over the last
    axis, as Keras computes it, in elementwise, reduce, multiply and layer_scale nodes."""
    value = ctx.get("axis", -1)
    axis = value[0] if isinstance(value, list) and len(value) == 1 else value
    if axis != -1 and axis != last_axis(ctx):
        ctx.reject("axis", value, "the last axis (-1)")
    nodes, x = Nodes(ctx), ctx.call.inputs[0]
    square = nodes.add("elementwise", Elementwise("power", 2.0), (x,), "square")
    mean = nodes.add("reduce", Reduce("mean", (-1,), True), (square,), "mean_square")
    shifted = nodes.add("elementwise", Elementwise("add", float(ctx.get("epsilon", 1e-6))),
                        (mean,), "mean_square_epsilon")
    inverse = nodes.add("elementwise", Elementwise("power", -0.5), (shifted,), "rsqrt")
    scaled = nodes.add("multiply", Merge(), (x, inverse), "normalized")
    nodes.add("layer_scale", LayerScale(), (scaled,), None,
              params=(as_role(ctx.weights("scale")["scale"], "gamma"),))
    return nodes.nodes


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
    nodes = Nodes(ctx)
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
    return _normalized(ctx, epsilon=1e-12)


@handles("ops.Normalize")
def normalize(ctx: LayerContext) -> list:
    """keras.ops.normalize(x, axis, order=2, epsilon): the same l2 normalisation along one
    non-batch axis (SimCLR's projections), epsilon keras.backend.epsilon() unless given."""
    if ctx.get("order", 2) != 2:
        ctx.reject("order", ctx.get("order"), "2 (the l2 norm)")
    epsilon = ctx.get("epsilon", None)
    return _normalized(ctx, epsilon=_EPSILON if epsilon is None else float(epsilon))


def _normalized(ctx: LayerContext, epsilon: float) -> list:
    value = ctx.get("axis", -1)
    axis = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", value, "one non-batch axis")
    nodes = Nodes(ctx)
    nodes.normalized(ctx.call.inputs[0], keras_axis(axis), "", epsilon=epsilon)
    return nodes.nodes


def _scaled(nodes: Nodes, ctx: LayerContext, tensor: str, weight: str, step: str) -> str:
    """tensor * a learned weight of the layer (a number, or one per feature of the last axis)."""
    param = as_role(ctx.weights(*_attention_weights(ctx))[weight], "gamma")
    per_feature = param.value.ndim == 1
    if not per_feature:
        param = dataclasses.replace(param, value=param.value.reshape(1))
    return nodes.add("layer_scale", LayerScale(per_feature), (tensor,), step, params=(param,))


def _attention_weights(ctx: LayerContext) -> tuple:
    """The layer's weights in Keras' order: scale (use_scale), concat_score_weight (concat)."""
    return (("scale",) if ctx.get("use_scale", False) else ()) + \
        (("concat_score_weight",) if _score_mode(ctx) == "concat" else ())


def _score_mode(ctx: LayerContext) -> str:
    return "additive" if ctx.class_name == "AdditiveAttention" else \
        ctx.choice("score_mode", ("dot", "concat"), "dot")


def _additive_scores(nodes: Nodes, ctx: LayerContext, query: str, key: str) -> str:
    """sum over the features of tanh(query_i + key_j), the sum scaled first (AdditiveAttention:
    per feature, after the tanh; Attention's concat: one number, before it, and the scores by
    concat_score_weight)."""
    rows = nodes.add("reshape", _unit_axis(ctx, 0, 1), (query,), "query_rows")
    columns = nodes.add("reshape", _unit_axis(ctx, 1, 0), (key,), "key_columns")
    pairs = nodes.add("add", Merge(), (rows, columns), "pairs")
    additive = _score_mode(ctx) == "additive"
    scaled = ctx.get("use_scale", False)
    if scaled and not additive:
        pairs = _scaled(nodes, ctx, pairs, "scale", "scaled_pairs")
    terms = nodes.add("activation", Activation("tanh"), (pairs,), "tanh")
    if scaled and additive:
        terms = _scaled(nodes, ctx, terms, "scale", "scaled_tanh")
    scores = nodes.add("reduce", Reduce("sum", (2,), False), (terms,), "scores")
    if not additive:
        scores = _scaled(nodes, ctx, scores, "concat_score_weight", "weighted_scores")
    return scores


def _causally_masked(nodes: Nodes, ctx: LayerContext, scores: str) -> str:
    """The scores less Keras' 1e9 where a query step would attend a later key step (j > i)."""
    shapes = ctx.recorded_input_shapes()
    steps = [shape[1] if shape and len(shape) == 3 else None for shape in (shapes or [])[:2]]
    if len(steps) != 2 or None in steps:
        ctx.reject("use_causal_mask", True, "sequences of known lengths (the file records them)")
    later = np.triu(np.ones(steps), k=1)
    name = f"{ctx.name}/causal_scores"
    nodes.nodes.append(constant_offset(ctx, later * -_MASKED, name, scores))
    return name


def _unit_axis(ctx: LayerContext, index: int, unit: int) -> Reshape:
    """(T, D) -> (T, 1, D) (unit=1) or (1, T, D) (unit=0) for the `index`th input's T and D."""
    shapes = ctx.recorded_input_shapes()
    steps, features = shapes[index][1:] if shapes and len(shapes[index]) == 3 else (None, None)
    if steps is None or features is None:
        ctx.reject("input shape", shapes, "sequences (steps, features) of known sizes")
    return Reshape((steps, 1, features) if unit == 1 else (1, steps, features))


@handles("Attention", "AdditiveAttention")
def attention(ctx: LayerContext) -> list:
    """Attention([query, value(, key)]) and AdditiveAttention: softmax(scores) @ value over the
    steps, the scores query @ key^T (Attention's dot, use_scale's learned factor) or the sum of
    tanh(query_i + key_j) (AdditiveAttention, Attention's concat); dropout of the weights in
    training; use_causal_mask; the Keras masks of the query (its masked steps' outputs are 0)
    and of the value (Keras takes 1e9 from the scores of its masked steps)."""
    if ctx.call.kwargs.get("return_attention_scores"):
        ctx.reject("return_attention_scores", True, "False")
    if len(ctx.call.inputs) not in (2, 3):
        ctx.reject("inputs", len(ctx.call.inputs), "[query, value] or [query, value, key]")
    query, value = ctx.call.inputs[:2]
    key = ctx.call.inputs[2] if len(ctx.call.inputs) == 3 else value
    query_mask, value_mask = (tuple(ctx.masks) + (None, None))[:2]
    if value_mask and ctx.call.kwargs.get("use_causal_mask"):
        ctx.reject("use_causal_mask", True, "False where the value carries a Keras mask")
    nodes = Nodes(ctx)
    if _score_mode(ctx) == "dot":
        key_t = nodes.add("permute", Permute((1, 0)), (key,), "key_transposed")
        scores = nodes.add("matmul", Matmul(), (query, key_t), "scores")
        if ctx.get("use_scale", False):
            scores = _scaled(nodes, ctx, scores, "scale", "scaled_scores")
    else:
        scores = _additive_scores(nodes, ctx, query, key)
    if ctx.call.kwargs.get("use_causal_mask"):
        scores = _causally_masked(nodes, ctx, scores)
    if value_mask:
        scores = _value_masked(nodes, scores, value_mask)
    weights = nodes.add("activation", Activation("softmax"), (scores,), "weights")
    rate = float(ctx.get("dropout", 0.0))
    if rate > 0:
        weights = nodes.add("dropout", Dropout(rate), (weights,), "dropped_weights")
    if not query_mask:
        nodes.add("matmul", Matmul(), (weights, value), None)
        return nodes.nodes
    attended = nodes.add("matmul", Matmul(), (weights, value), "attended")
    rows = nodes.add("reshape", Reshape((-1, 1)), (query_mask,), "query_mask")
    nodes.add("multiply", Merge(), (attended, rows), None)
    return nodes.nodes


def _value_masked(nodes: Nodes, scores: str, value_mask: str) -> str:
    """The scores less 1e9 at the value's masked steps: plus (mask - 1) * 1e9, one row for all
    query steps."""
    columns = nodes.add("reshape", Reshape((1, -1)), (value_mask,), "value_mask")
    off = nodes.add("elementwise", Elementwise("add", -1.0), (columns,), "value_mask_off")
    penalty = nodes.add("elementwise", Elementwise("multiply", _MASKED), (off,), "value_penalty")
    return nodes.add("add", Merge(), (scores, penalty), "masked_scores")
