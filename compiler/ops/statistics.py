"""keras.ops reductions built from the reduce, elementwise, merge and activation nodes, whose ops
carry their own gradients, over the axes "reduce" supports:

- var (the population variance, as Keras') and std: the mean of the squared deviations from the
  mean, and its square root;
- logsumexp: log(sum(exp(x - max))) + max, the max shift as TensorFlow's (no overflow);
- norm: the l2 norm of vectors (ord None or 2; "fro" over two axes) and the l1 norm (ord 1).
"""
from __future__ import annotations

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Elementwise
from .activations import Activation
from .dot import Nodes
from .keras_ops import Reduce, reduced_axes
from .merge import Merge


def _deviations(nodes: Nodes, tensor: str, axes: tuple) -> str:
    """(x - mean(x)) ** 2 over `axes`."""
    mean = nodes.add("reduce", Reduce("mean", axes, True), (tensor,), "mean")
    centred = nodes.add("subtract", Merge(), (tensor, mean), "centred")
    return nodes.add("elementwise", Elementwise("power", 2.0), (centred,), "squared")


def _variance(nodes: Nodes, tensor: str, axes: tuple, keepdims: bool, last: bool) -> str:
    squared = _deviations(nodes, tensor, axes)
    return nodes.add("reduce", Reduce("mean", axes, keepdims), (squared,),
                     None if last else "variance")


def var(nodes: Nodes, tensor: str, axes: tuple, keepdims: bool, _ctx) -> None:
    _variance(nodes, tensor, axes, keepdims, last=True)


def std(nodes: Nodes, tensor: str, axes: tuple, keepdims: bool, _ctx) -> None:
    variance = _variance(nodes, tensor, axes, keepdims, last=False)
    nodes.add("elementwise", Elementwise("power", 0.5), (variance,), None)


def logsumexp(nodes: Nodes, tensor: str, axes: tuple, keepdims: bool, _ctx) -> None:
    peak = nodes.add("reduce", Reduce("max", axes, True), (tensor,), "max")
    shifted = nodes.add("subtract", Merge(), (tensor, peak), "shifted")
    exp = nodes.add("activation", Activation("exponential"), (shifted,), "exp")
    total = nodes.add("reduce", Reduce("sum", axes, True), (exp,), "sum")
    log = nodes.add("elementwise", Elementwise("log"), (total,), "log")
    kept = nodes.add("add", Merge(), (log, peak), None if keepdims else "kept")
    if not keepdims:  # a sum over the unit axes drops them
        nodes.add("reduce", Reduce("sum", axes, False), (kept,), None)


def norm(nodes: Nodes, tensor: str, axes: tuple, keepdims: bool, ctx: LayerContext) -> None:
    order = ctx.get("ord", None)
    if (order, len(axes)) not in ((None, 1), (2, 1), (None, 2), ("fro", 2), (1, 1)):
        ctx.reject("ord", order, "None or 2 (l2) or 1 (l1) over one axis, None or 'fro' over two")
    if order == 1:
        size = nodes.add("elementwise", Elementwise("abs"), (tensor,), "abs")
        nodes.add("reduce", Reduce("sum", axes, keepdims), (size,), None)
        return
    square = nodes.add("elementwise", Elementwise("power", 2.0), (tensor,), "square")
    total = nodes.add("reduce", Reduce("sum", axes, keepdims), (square,), "sum")
    nodes.add("elementwise", Elementwise("power", 0.5), (total,), None)


_STATISTICS = {"ops.Var": var, "ops.Std": std, "ops.Logsumexp": logsumexp, "ops.Norm": norm}


@handles(*_STATISTICS)
def statistic(ctx: LayerContext) -> list:
    """keras.ops var and std (population), logsumexp, norm (l2, or l1 with ord=1) over
    non-batch axes (keepdims either way), in reduce, elementwise and merge nodes."""
    nodes = Nodes(ctx)
    _STATISTICS[ctx.class_name](nodes, ctx.call.inputs[0], reduced_axes(ctx),
                                bool(ctx.get("keepdims", False)), ctx)
    return nodes.nodes
