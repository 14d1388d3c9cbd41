"""keras.ops calls recorded in functional model files (`x + 3.0`, `keras.ops.multiply(a, b)`,
`keras.ops.mean(x, axis=[1, 2], keepdims=True)`, ...), registered as "ops.<Class>".

They become existing ops where one fits (activations, broadcasting merges, reshape, permute,
concatenate) and two ops of their own: "elementwise", a tensor with a constant or a unary
function (forward and gradient from one table), and "reduce", a sum/mean/max/min over axes.
A keras.ops class not registered here is refused by name like any unknown layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend import broadcast
from ..backend.step import Step, known
from ..frontend.config import TensorArg
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..ir import Elementwise
from ..opdef import define
from .activations import Activation, keras_axis
from .masking import StepMask
from .merge import Concatenate, Merge
from .reordering import Permute
from .reshaping import Reshape
from .scaling import constant_operand
from .shaping import fail, resolve_axis, same_shape


@dataclass(frozen=True)
class Matmul:
    """Per-sample (T, D) @ (D, E) -> (T, E)."""


@dataclass(frozen=True)
class Where:
    """keras.ops.where(condition, x1, x2): x1 where the condition holds, x2 elsewhere; `numbers`
    holds a branch given as a number (None for a tensor branch, an input after the condition)."""
    numbers: tuple = (None, None)


@dataclass(frozen=True)
class Reduce:
    """sum / mean / max / min over `axes` (IR axes, sorted, non-negative once shapes are known)."""
    fn: str
    axes: tuple
    keepdims: bool = False


_ZERO = "matrix(0, rows=nrow({dout}), cols=ncol({dout}))"
# comparisons of a tensor and a number (keras.ops.greater(x, 0.5), x != 0): 0 or 1 in DML
_COMPARISONS = {"not_equal": "!=", "equal": "==", "greater": ">", "greater_equal": ">=",
                "less": "<", "less_equal": "<="}
# fn -> (forward, gradient) as DML with {x}, {c}, {out}, {dout}; "reversed" forms for c fn x
_FORMS = {
    "add": ("{x} + {c}", "{dout}"),
    "subtract": ("{x} - {c}", "{dout}"),
    "multiply": ("{x} * {c}", "{dout} * {c}"),
    "divide": ("{x} / {c}", "{dout} / {c}"),
    "power": ("{x} ^ {c}", "{dout} * {c} * {x} ^ ({c} - 1)"),
    "maximum": ("max({x}, {c})", "{dout} * ({x} >= {c})"),
    "minimum": ("min({x}, {c})", "{dout} * ({x} <= {c})"),
    "abs": ("abs({x})", "{dout} * sign({x})"),
    "log": ("log({x})", "{dout} / {x}"),
    "log1p": ("log(1 + {x})", "{dout} / (1 + {x})"),
    "expm1": ("exp({x}) - 1", "{dout} * ({out} + 1)"),
    "sin": ("sin({x})", "{dout} * cos({x})"),
    "cos": ("cos({x})", "-{dout} * sin({x})"),
    "tan": ("tan({x})", "{dout} * (1 + {out}^2)"),
    "erf": ("erf::forward({x})", "erf::backward({dout}, {x})"),  # dml_lib's erf.dml
    "identity": ("{x}", "{dout}"),  # a cast to another float type
    # constants of the input's shape (how Keras records a Concatenate's mask)
    "zeros_like": ("matrix(0, rows=nrow({x}), cols=ncol({x}))", _ZERO),
    "ones_like": ("matrix(1, rows=nrow({x}), cols=ncol({x}))", _ZERO),
    # steps: no gradient (0 almost everywhere, as TensorFlow defines it)
    "sign": ("sign({x})", _ZERO),
    "floor": ("floor({x})", _ZERO),
    "ceil": ("ceil({x})", _ZERO),
    # half to even, as TensorFlow rounds (DML's round() rounds halves up)
    "round": ("round({x}) - ({x} - floor({x}) == 0.5) * (abs(round({x})) %% 2)", _ZERO),
    # a comparison is 0 or 1: no gradient
    **{fn: (f"{{x}} {symbol} {{c}}", _ZERO) for fn, symbol in _COMPARISONS.items()},
}
_REVERSED = {
    "subtract": ("{c} - {x}", "-{dout}"),
    "divide": ("{c} / {x}", "-{dout} * {c} / {x}^2"),
    "power": ("{c} ^ {x}", "{dout} * {out} * log({c})"),
    **{fn: (f"{{c}} {symbol} {{x}}", _ZERO) for fn, symbol in _COMPARISONS.items()},
}
_BINARY = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "TrueDivide": "divide",
           "Divide": "divide", "Power": "power", "Maximum": "maximum", "Minimum": "minimum",
           "NotEqual": "not_equal", "Equal": "equal", "Greater": "greater",
           "GreaterEqual": "greater_equal", "Less": "less", "LessEqual": "less_equal"}
_UNARY = {"Absolute": ("abs", None), "Log": ("log", None),
          "Negative": ("multiply", -1.0), "Square": ("power", 2.0), "Sqrt": ("power", 0.5),
          "Reciprocal": ("power", -1.0), "Rsqrt": ("power", -0.5), "Log1p": ("log1p", None),
          "Expm1": ("expm1", None), "Sin": ("sin", None), "Cos": ("cos", None),
          "Tan": ("tan", None), "Sign": ("sign", None), "Floor": ("floor", None),
          "Ceil": ("ceil", None), "Round": ("round", None), "ZerosLike": ("zeros_like", None),
          "OnesLike": ("ones_like", None), "Erf": ("erf", None),
          "ConvertToTensor": ("identity", None)}
# fn -> the dml_lib modules its forms call
_MODULES = {"erf": ("erf",)}
# config values a unary call must have (what the table's forms compute)
_UNARY_CONFIG = {"Round": {"decimals": 0}}
_FLOATS = ("float16", "bfloat16", "float32", "float64")
# keras.ops activation class -> (activation kind, {config key: Activation field})
_ACTIVATIONS = {
    "Relu": ("relu", {}), "Relu6": ("relu6", {}), "Sigmoid": ("sigmoid", {}), "Tanh": ("tanh", {}),
    "HardSigmoid": ("hard_sigmoid", {}), "HardSilu": ("hard_silu", {}), "Silu": ("swish", {}),
    "Gelu": ("gelu", {"approximate": "approximate"}), "Elu": ("elu", {"alpha": "alpha"}),
    "Selu": ("selu", {}), "Softplus": ("softplus", {}), "Softsign": ("softsign", {}),
    "LeakyRelu": ("leaky_relu", {"negative_slope": "alpha"}), "Celu": ("celu", {"alpha": "alpha"}),
    "LogSigmoid": ("log_sigmoid", {}), "HardTanh": ("hard_tanh", {}),
    "HardShrink": ("hard_shrink", {"threshold": "threshold"}),
    "SoftShrink": ("soft_shrink", {"threshold": "threshold"}), "TanhShrink": ("tanh_shrink", {}),
    "SparsePlus": ("sparse_plus", {}), "SparseSigmoid": ("sparse_sigmoid", {}),
    "Squareplus": ("squareplus", {"b": "alpha"}), "Exp": ("exponential", {}),
    "Softmax": ("softmax", {}), "LogSoftmax": ("log_softmax", {}), "Glu": ("glu", {}),
}
_DEFAULTS = {"elu": dict(alpha=1.0), "leaky_relu": dict(alpha=0.2), "celu": dict(alpha=1.0),
             "hard_shrink": dict(threshold=0.5), "soft_shrink": dict(threshold=0.5),
             "squareplus": dict(alpha=4.0)}
_REDUCTIONS = {"Sum": "sum", "Mean": "mean", "Max": "max", "Min": "min"}
_MERGE_OPS = {"add", "subtract", "multiply", "divide", "maximum", "minimum"}


def _ops(*names: str) -> tuple:
    return tuple(f"ops.{name}" for name in names)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- frontend --------------------------------------------------------------------------------

@handles(*_ops(*_BINARY))
def binary(ctx: LayerContext) -> list:
    """keras.ops add/subtract/multiply/divide/power/maximum/minimum of two tensors (broadcasting)
    or of a tensor and a number; add/subtract/multiply/divide of a tensor and a constant array
    that broadcasts over the sample (a position embedding computed on keras.ops.arange(...)
    while the model was built), not the constant divided by the tensor; comparisons (equal,
    not_equal, greater, less, ...) of a tensor and a number, 0 or 1 without a gradient
    (x != 0 is how Keras records a mask)."""
    fn = _BINARY[ctx.class_name[4:]]
    args = list(ctx.call.args)[:2]
    if len(args) != 2:
        ctx.reject("arguments", len(args), "two (tensors or numbers)")
    tensors = [a for a in args if isinstance(a, TensorArg)]
    if len(tensors) == 2 and fn in _MERGE_OPS:
        return [ctx.node(fn, Merge())]
    if len(tensors) == 1 and _number(args[0] if isinstance(args[1], TensorArg) else args[1]):
        first = not isinstance(args[0], TensorArg)
        constant = float(args[0] if first else args[1])
        return [ctx.node("elementwise", Elementwise(fn, constant, first))]
    constants = [a for a in args if _is_constant_array(a)]
    if len(tensors) == 1 and len(constants) == 1:
        node = constant_operand(ctx, fn, constants[0], first=_is_constant_array(args[0]))
        if node is not None:
            return [node]
    if constants:
        ctx.reject("arguments", "a constant array (a tensor computed while the model was built, "
                   "e.g. a layer called on keras.ops.arange(...))",
                   "a tensor and a number, a tensor and a constant that broadcasts over the sample "
                   "(not divided by the tensor), or two tensors: feed such an array as a model Input")
    ctx.reject("arguments", [type(a).__name__ for a in args],
               "a tensor and a number, or two tensors (not for power or comparisons)")


def _is_constant_array(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__tensor__"


@handles(*_ops(*_UNARY))
def unary(ctx: LayerContext) -> list:
    """keras.ops abs, log, negative, square, sqrt, rsqrt, reciprocal, log1p, expm1, sin, cos,
    tan, erf; sign, floor, ceil and round (half to even, decimals=0), zeros_like and ones_like
    with a zero gradient; convert_to_tensor (how Keras records an attention layer's mask)."""
    fn, constant = _UNARY[ctx.class_name[4:]]
    for key, value in _UNARY_CONFIG.get(ctx.class_name[4:], {}).items():
        if ctx.get(key, value) != value:
            ctx.reject(key, ctx.get(key), repr(value))
    return [ctx.node("elementwise", Elementwise(fn, constant))]


@handles("ops.Cast")
def cast(ctx: LayerContext) -> list:
    """keras.ops.cast to a float type (the values pass unchanged: DML computes in doubles); a
    cast to an integer or bool type is refused."""
    dtype = ctx.get("dtype", None)
    if dtype not in _FLOATS:
        ctx.reject("dtype", dtype, f"a float type ({', '.join(_FLOATS)}): integer and bool "
                   "values are not supported")
    return [ctx.node("elementwise", Elementwise("identity"))]


@handles("ops.Clip")
def clip(ctx: LayerContext) -> list:
    """keras.ops.clip(x, x_min, x_max) with numbers: max then min, gradient 1 inside
    [x_min, x_max] edges included (as TensorFlow's)."""
    low, high = ctx.get("x_min", None), ctx.get("x_max", None)
    if not (_number(low) and _number(high)) or low > high:
        ctx.reject("x_min, x_max", (low, high), "two numbers, x_min <= x_max")
    floored = f"{ctx.name}/floored"
    return [ctx.node("elementwise", Elementwise("maximum", float(low)), name=floored,
                     outputs=(floored,)),
            ctx.node("elementwise", Elementwise("minimum", float(high)), inputs=(floored,))]


@handles(*_ops(*_ACTIVATIONS))
def activation(ctx: LayerContext) -> list:
    """keras.ops activations (relu, relu6, sigmoid, hard_sigmoid, hard_silu, silu, gelu, softmax,
    log_softmax, exp, ...)."""
    kind, keys = _ACTIVATIONS[ctx.class_name[4:]]
    fields = dict(_DEFAULTS.get(kind, {}))
    fields.update({field: ctx.config[key] for key, field in keys.items() if key in ctx.config})
    if kind == "relu6":
        kind, fields = "relu", dict(max_value=6.0)
    if kind in ("softmax", "log_softmax", "glu"):
        axis = ctx.get("axis", -1)
        if not isinstance(axis, int) or axis == 0:
            ctx.reject("axis", axis, "the last axis (-1)")
        fields["axis"] = keras_axis(axis)
    return [ctx.node("activation", Activation(kind, **fields))]


@handles(*_ops(*_REDUCTIONS))
def reduction(ctx: LayerContext) -> list:
    """keras.ops sum/mean/max/min over non-batch axes (keepdims either way)."""
    attrs = Reduce(_REDUCTIONS[ctx.class_name[4:]], reduced_axes(ctx),
                   bool(ctx.get("keepdims", False)))
    return [ctx.node("reduce", attrs)]


def reduced_axes(ctx: LayerContext) -> tuple:
    """The IR axes of a keras.ops reduction's `axis` (an int or a list of non-batch axes)."""
    axis = ctx.get("axis", None)
    axes = [axis] if isinstance(axis, int) else axis
    if not isinstance(axes, list) or not axes or any(not isinstance(a, int) or a == 0
                                                       for a in axes):
        ctx.reject("axis", axis, "non-batch axes")
    return tuple(keras_axis(a) for a in axes)


@handles("ops.Where")
def where(ctx: LayerContext) -> list:
    """keras.ops.where(condition, x1, x2) of a condition tensor (a comparison) and tensors or
    numbers of its shape: DML's ifelse, so a branch that is not picked never reaches the output;
    the gradient goes to each tensor branch where it was picked."""
    args = list(ctx.call.args)
    if len(args) != 3 or not isinstance(args[0], TensorArg) or \
            not all(isinstance(a, TensorArg) or _number(a) for a in args[1:]):
        ctx.reject("arguments", [type(a).__name__ for a in args],
                   "a condition tensor, then two tensors or numbers")
    numbers = tuple(None if isinstance(a, TensorArg) else float(a) for a in args[1:])
    return [ctx.node("where", Where(numbers))]


@handles("ops.Any")
def any_of(ctx: LayerContext) -> list:
    """keras.ops.any over the last axis (how Keras records the Masking layer's mask): 1 where
    some value is not 0."""
    if ctx.get("axis", None) != -1 or ctx.get("keepdims", False):
        ctx.reject("axis", ctx.get("axis", None), "-1 (the last axis), without keepdims")
    return [ctx.node("step_mask", StepMask(0.0))]


@handles("ops.Reshape")
def reshape(ctx: LayerContext) -> list:
    """keras.ops.reshape(x, (-1, ...)): the batch dimension first."""
    shape = ctx.get("newshape", None) or ctx.get("new_shape", None)
    if not isinstance(shape, list) or not shape or shape[0] not in (-1, None):
        ctx.reject("newshape", shape, "(-1, sizes...) keeping the batch dimension first")
    target = tuple(int(d) for d in shape[1:])
    if sum(d == -1 for d in target) > 1 or any(d == 0 or d < -1 for d in target):
        ctx.reject("newshape", shape, "positive sizes and at most one -1 after the batch")
    return [ctx.node("reshape", Reshape(target))]


@handles("ops.ExpandDims", "ops.Squeeze")
def unit_axes(ctx: LayerContext) -> list:
    """keras.ops.expand_dims(x, axis) and keras.ops.squeeze(x, axis) of a sample's axes (not
    the batch axis): a reshape to the recorded output's shape."""
    shapes = ctx.recorded_input_shapes()
    axis = ctx.get("axis", None)
    axes = axis if isinstance(axis, list) else [axis]
    if shapes is None or len(shapes) != 1 or None in shapes[0][1:]:
        ctx.reject("input shape", None, "recorded in the file, with known sizes")
    rank = len(shapes[0])
    expanding = ctx.class_name == "ops.ExpandDims"
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        ctx.reject("axis", axis, "numbers (squeeze: not all unit axes at once)")
    resolved = [a % (rank + 1 if expanding else rank) for a in axes]
    sample = list(shapes[0][1:])
    if 0 in resolved or (not expanding and any(sample[a - 1] != 1 for a in resolved)):
        ctx.reject("axis", axis, "axes of the sample (not the batch axis 0), of size 1 to squeeze")
    if expanding:
        for a in sorted(resolved):
            sample.insert(a - 1, 1)
    else:
        sample = [size for position, size in enumerate(sample, 1) if position not in resolved]
    if not sample:
        ctx.reject("axis", axis, "a shape that keeps a sample axis")
    return [ctx.node("reshape", Reshape(tuple(sample)))]


@handles("ops.Transpose")
def transpose(ctx: LayerContext) -> list:
    """keras.ops.transpose(x, axes) keeping the batch axis first."""
    axes = ctx.get("axes", None)
    if not isinstance(axes, list) or not axes or axes[0] != 0 or \
            sorted(axes) != list(range(len(axes))):
        ctx.reject("axes", axes, "a permutation starting with 0 (the batch axis stays first)")
    return [ctx.node("permute", Permute(tuple(a - 1 for a in axes[1:])))]


@handles("ops.Concatenate")
def concatenate(ctx: LayerContext) -> list:
    """keras.ops.concatenate([...], axis)."""
    axis = ctx.get("axis", 0)
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", axis, "a non-batch axis")
    return [ctx.node("concatenate", Concatenate(keras_axis(axis)))]


@handles("ops.Matmul")
def matmul(ctx: LayerContext) -> list:
    """keras.ops.matmul of two tensors holding one matrix per sample."""
    if len(ctx.call.inputs) != 2:
        ctx.reject("arguments", len(ctx.call.inputs), "two tensors")
    return [ctx.node("matmul", Matmul())]


def _matmul_shape(node, attrs, ins):
    a, b = ins
    if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
        fail(node, f"matmul needs (T, D) and (D, E) matrices per sample, got {a} and {b}")
    return attrs, (a[0], b[1])


def _matmul_context(n: Step) -> dict:
    (t, d), (_, e) = known(n.in_shapes[0], "shape"), known(n.in_shapes[1], "shape")
    return dict(sizes=f"{t}, {d}, {e}")


# --- elementwise -----------------------------------------------------------------------------

def _elementwise_context(n: Step) -> dict:
    a = n.attrs
    forward, gradient = (_REVERSED if a.constant_first and a.fn in _REVERSED else _FORMS)[a.fn]
    values = dict(x=n.x, c=repr(a.constant), out=n.out, dout=n.dout)
    return dict(forward=forward.format(**values), gradient=gradient.format(**values),
                sources=_MODULES.get(a.fn, ()))


# --- where -----------------------------------------------------------------------------------

def _where_shape(node, attrs, ins):
    if len(set(ins)) != 1:
        fail(node, f"where needs a condition and tensor branches of one shape, got {ins}")
    return attrs, ins[0]


def _where_context(n: Step) -> dict:
    condition, tensors = n.x, iter(zip(n.xs[1:], n.dxs[1:]))
    values, back = [], [f"{n.dx} = {_ZERO.format(dout=n.dout)}"]
    for number, picked in zip(n.attrs.numbers, ("!=", "==")):
        if number is None:
            x, dx = next(tensors)
            values.append(x)
            back.append(f"{dx} = {n.dout} * ({condition} {picked} 0)")
        else:
            values.append(repr(number))
    return dict(lines=[f"{n.out} = ifelse({condition}, {values[0]}, {values[1]})"], back=back)


# --- reduce ----------------------------------------------------------------------------------

def _reduce_shape(node, attrs, ins):
    shape = ins[0]
    axes = tuple(sorted({resolve_axis(node, a, len(shape)) for a in attrs.axes}))
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    out = kept if attrs.keepdims else tuple(d for i, d in enumerate(shape) if i not in axes)
    return Reduce(attrs.fn, axes, attrs.keepdims), out


def _grouped(shape: tuple, axes: tuple) -> bool:
    """Whether the reduced values of each output value lie next to each other in DML's layout
    (the innermost axes: an image's height and width, a sequence's features)."""
    layout = (2, 0, 1) if len(shape) == 3 else tuple(range(len(shape)))
    return set(layout[len(layout) - len(axes):]) == set(axes)


_GROUPED = {"sum": "rowSums", "mean": "rowSums", "max": "rowMaxs", "min": "rowMins"}


def _reduce_context(n: Step) -> dict:
    shape = known(n.in_shape, "shape")
    axes, fn = n.attrs.axes, n.attrs.fn
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    count = math.prod(shape[i] for i in axes)
    back = broadcast.expand(n.dout, f"{n.dx}_spread", kept, shape)
    # max/min send the gradient to the values equal to the result, spread back over the input
    spread = broadcast.expand(n.out, f"{n.out}_spread", kept, shape) \
        if fn in ("max", "min") else ()
    common = dict(scale=f" / {count}" if fn == "mean" else "", back=back, spread=spread)
    if _grouped(shape, axes):  # each output value reduces `count` neighbouring values
        return dict(common, form="grouped", function=_GROUPED[fn], group=count)
    if fn in ("sum", "mean"):
        return dict(common, form="lines", lines=broadcast.reduce(n.x, n.out, kept, shape))
    return dict(common, form="lines", lines=_extremes(n.x, n.out, _GROUPED[fn], kept, shape))


def _extremes(x: str, out: str, function: str, kept: tuple, shape: tuple) -> list:
    """Lines setting `out` to the max (function rowMaxs) or min (rowMins) of `x` over the axes
    that are 1 in `kept`, wherever DML's layout puts them: per run of reduced axes (outermost
    first), each sample holds `outer` blocks of `times` repeats of `inner` values; a transpose
    puts the repeats of every value in one row, and back."""
    current, lines = x, []
    for step in reversed(broadcast.repeats(kept, shape)):
        rows = f"nrow({x})" + (f" * {step.outer}" if step.outer > 1 else "")
        width = f"cols={step.outer * step.inner})"
        if step.inner == 1:
            lines.append(f"{out} = matrix({function}(matrix({current}, rows={rows}, "
                         f"cols={step.times})), rows=nrow({x}), {width}")
        else:
            lines += [f"{out} = t(matrix({current}, rows={rows} * {step.times}, "
                      f"cols={step.inner}))",
                      f"{out} = {function}(matrix({out}, rows={step.inner} * {rows}, "
                      f"cols={step.times}))",
                      f"{out} = matrix(t(matrix({out}, rows={step.inner}, cols={rows})), "
                      f"rows=nrow({x}), {width}"]
        current = out
    return lines


define("elementwise", Elementwise, shape=same_shape, template="elementwise.dml.j2",
       context=_elementwise_context, library=tuple({m for ms in _MODULES.values() for m in ms}),
       family=__name__)
define("matmul", Matmul, shape=_matmul_shape, template="matmul.dml.j2",
       context=_matmul_context, sources=("batch_matmul",), min_inputs=2, max_inputs=2,
       family=__name__)
define("where", Where, shape=_where_shape, template="lines.dml.j2", context=_where_context,
       max_inputs=3, family=__name__)
define("reduce", Reduce, shape=_reduce_shape, template="reduce.dml.j2", context=_reduce_context,
       family=__name__)
