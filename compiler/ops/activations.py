"""Activations: the Activation, ReLU, LeakyReLU, ELU and Softmax layers, and the activations
fused into other layers (Dense(activation="relu")), all as the "activation" op."""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import LAYOUT, Step, image, known, sequence_rows, times
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
from .shaping import fail, last_axis_only
from .axes import any_axis


@dataclass(frozen=True)
class Activation:
    """Elementwise activation (softmax: along `axis`, always the last one).

    kind: one of ACTIVATION_KINDS, Keras' names (swish for silu, hard_silu for hard_swish).
    relu: x if x > threshold (clipped at max_value when given), else alpha * (x - threshold);
    leaky_relu: x if x >= 0 else alpha * x; elu: x if x > 0 else alpha * (exp(x) - 1);
    celu: alpha; hard_shrink, soft_shrink: threshold; squareplus: alpha is Keras' b;
    gelu: approximate selects Keras' tanh approximation; softmax, log_softmax, glu act on the
    last axis (glu halves it).
    """
    kind: str
    alpha: float = 0.0
    max_value: float | None = None
    threshold: float = 0.0
    axis: int = -1
    approximate: bool = False


ACTIVATION_KINDS = ("relu", "sigmoid", "tanh", "softmax", "elu", "selu", "gelu", "swish",
                    "softplus", "leaky_relu", "linear", "hard_sigmoid", "hard_silu", "mish",
                    "exponential", "log_softmax", "softsign", "celu", "hard_tanh", "hard_shrink",
                    "soft_shrink", "tanh_shrink", "log_sigmoid", "sparse_plus", "sparse_sigmoid",
                    "squareplus", "glu")
_ROW_WISE = ("softmax", "log_softmax", "glu")  # act on the last axis as a whole

# --- frontend --------------------------------------------------------------------------------

_ALIASES = {"silu": "swish", "hard_swish": "hard_silu"}
_DEFAULTS = {  # the defaults of keras.activations.<name> when named by a string
    "elu": dict(alpha=1.0),
    "leaky_relu": dict(alpha=0.2),
    "relu6": dict(max_value=6.0),
    "celu": dict(alpha=1.0),
    "hard_shrink": dict(threshold=0.5),
    "soft_shrink": dict(threshold=0.5),
    "squareplus": dict(alpha=4.0),
}
# Keras activations without a DML meaning here, and why
_REFUSED = {"sparsemax": "sparsemax (a sort per row) is not supported",
            "threshold": "threshold needs arguments; keras.activations.threshold cannot be named "
                         "by a string"}
ACCEPTED = ", ".join(ACTIVATION_KINDS + tuple(_ALIASES) + ("relu6",))


def _name(value) -> str | None:
    """'relu', or the name inside Keras 3's serialized form of a built-in activation function."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and str(value.get("module") or "").startswith("keras") \
            and isinstance(value.get("config"), str):
        return value["config"]
    return None


def activation(ctx: LayerContext, key: str, value) -> Activation:
    name = _name(value)
    kind = "relu" if name == "relu6" else _ALIASES.get(name, name)
    if kind not in ACTIVATION_KINDS:
        ctx.reject(key, value, (_REFUSED[name] + "; accepted: " if name in _REFUSED else "") +
                   ACCEPTED)
    return Activation(kind, **_DEFAULTS.get(name, {}))


def fused_activation(ctx: LayerContext, key: str = "activation") -> Activation | None:
    """The activation applied inside a layer, None when it is linear."""
    value = ctx.get(key, "linear")
    if value is None:
        return None
    act = activation(ctx, key, value)
    return None if act.kind == "linear" else act


@handles("Activation")
def activation_layer(ctx: LayerContext) -> list:
    """Activation(name): every Keras 3 activation but sparsemax and threshold (glu, softmax and
    log_softmax on the last axis)."""
    return [ctx.node("activation", activation(ctx, "activation", ctx.get("activation")))]


@handles("Identity")
def identity(ctx: LayerContext) -> list:
    """Identity(): the input unchanged."""
    return [ctx.node("activation", Activation("linear"))]


@handles("ReLU")
def relu(ctx: LayerContext) -> list:
    """ReLU(max_value, negative_slope, threshold)."""
    max_value = ctx.get("max_value", None)
    attrs = Activation("relu", alpha=float(ctx.get("negative_slope", 0.0)),
                       max_value=None if max_value is None else float(max_value),
                       threshold=float(ctx.get("threshold", 0.0)))
    return [ctx.node("activation", attrs)]


@handles("LeakyReLU")
def leaky_relu(ctx: LayerContext) -> list:
    """LeakyReLU(negative_slope) (Keras 2: alpha)."""
    slope = ctx.get("negative_slope", ctx.get("alpha", 0.3))
    return [ctx.node("activation", Activation("leaky_relu", alpha=float(slope)))]


@handles("ELU")
def elu(ctx: LayerContext) -> list:
    """ELU(alpha)."""
    return [ctx.node("activation", Activation("elu", alpha=float(ctx.get("alpha", 1.0))))]


@handles("Softmax")
@any_axis
def softmax(ctx: LayerContext) -> list:
    """Softmax over the last axis."""
    axis = ctx.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if not isinstance(axis, int) or axis == 0:
        ctx.reject("axis", axis, "the last axis (-1)")
    return [ctx.node("activation", Activation("softmax", axis=keras_axis(axis)))]


def keras_axis(axis: int) -> int:
    """A Keras axis (counting the batch dimension) as an IR axis (per sample)."""
    return axis if axis < 0 else axis - 1


# --- shape and template ------------------------------------------------------------------------

def _shape(node, attrs, ins):
    if attrs.kind not in _ROW_WISE:
        return attrs, ins[0]
    attrs = last_axis_only(node, attrs, ins[0])
    if attrs.kind != "glu":
        return attrs, ins[0]
    if ins[0][-1] is not None and ins[0][-1] % 2:
        fail(node, f"glu halves the last axis, which has an odd size {ins[0][-1]}")
    return attrs, ins[0][:-1] + (None if ins[0][-1] is None else ins[0][-1] // 2,)


# kind -> (dml_lib module, extra forward/backward arguments from the attributes)
_LIBRARY_FORMS = {
    "relu": ("relu", lambda a: ""),
    "sigmoid": ("sigmoid", lambda a: ""),
    "tanh": ("tanh", lambda a: ""),
    "softmax": ("softmax", lambda a: ""),
    "elu": ("elu", lambda a: f", {a.alpha!r}"),
    "selu": ("selu", lambda a: ""),
    "gelu": ("gelu", lambda a: ", TRUE" if a.approximate else ", FALSE"),
    "swish": ("swish", lambda a: ""),
    "softplus": ("softplus", lambda a: ""),
    "leaky_relu": ("leaky_relu", lambda a: f", {a.alpha!r}"),
    "celu": ("celu", lambda a: f", {a.alpha!r}"),
    "squareplus": ("squareplus", lambda a: f", {a.alpha!r}"),
    "hard_shrink": ("hard_shrink", lambda a: f", {a.threshold!r}"),
    "soft_shrink": ("soft_shrink", lambda a: f", {a.threshold!r}"),
    **{kind: (kind, lambda a: "") for kind in (
        "hard_sigmoid", "hard_silu", "mish", "exponential", "log_softmax", "softsign", "hard_tanh",
        "tanh_shrink", "log_sigmoid", "sparse_plus", "sparse_sigmoid", "glu")},
}


def _plain_relu(a) -> bool:
    return a.alpha == 0 and a.max_value is None and a.threshold == 0


def _context(n: Step) -> dict:
    a = n.attrs
    if a.kind == "linear":
        return dict(form="identity")
    if a.kind == "relu" and not _plain_relu(a):
        # ReLU(max_value, negative_slope, threshold): not in dml_lib, two lines of DML
        return dict(form="clipped_relu", alpha=a.alpha, threshold=a.threshold,
                    max_value=a.max_value)
    module, args = _LIBRARY_FORMS[a.kind]
    steps = 1
    if a.kind in _ROW_WISE and len(n.in_shape) == 3:
        return _pixels_context(n, module, args(a))
    if a.kind in _ROW_WISE:
        steps, _ = sequence_rows(n, f"a vector, a sequence or an image ({a.kind} over the "
                                    "last axis)")
    # relu's gradient needs only where its input is positive, which is where its output is:
    # reading the output lets the input die after the forward pass (a convolution before the
    # relu then writes relu's values itself, and a Dense's product takes them in place)
    return dict(form="library", module=module, args=args(a), T=steps, D=n.in_shape[-1],
                D_out=n.out_shape[-1], TD=times(steps, n.in_shape[-1]),
                TD_out=times(steps, n.out_shape[-1]), sources=(module,),
                reads_output=a.kind == "relu")


def _pixels_context(n: Step, module: str, args: str) -> dict:
    """A row-wise activation over an image's channels (a segmentation head's softmax): in Keras'
    (h, w, c) order, which layout::channels_last gives, the image is H*W steps of C values."""
    c, h, w = image(known(n.in_shape, "image size"))
    c_out = n.out_shape[-1]
    return dict(form="pixels", module=module, args=args, T=h * w, D=c, D_out=c_out,
                TD_out=h * w * c_out, image=f"{c}, {h}, {w}", image_out=f"{c_out}, {h}, {w}",
                sources=(module, LAYOUT))


def _is_linear(attrs) -> bool:
    return attrs.kind == "linear"


define("activation", Activation, shape=_shape, template="activation.dml.j2", context=_context,
       library=tuple(module for module, _ in _LIBRARY_FORMS.values()), family=__name__,
       noop_at_inference=_is_linear)
