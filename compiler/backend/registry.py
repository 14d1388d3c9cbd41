"""The table of op templates: IR op -> the Jinja template that writes its DML, the dml_lib modules
it calls, and a function computing what the template needs (sizes, paddings, flags).

Ops register with `@op_template("conv2d", "conv2d.dml.j2", "conv2d", "zero_pad2d")`; every
template file under templates/ops defines the macros `forward(n)` and `backward(n)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# alias -> dml_lib path, for every module a generated script may source
LIBRARY = {
    name: f"nn/layers/{name}.dml" for name in (
        "affine", "avg_pool2d", "batch_norm1d", "batch_norm2d", "conv1d", "conv2d",
        "conv2d_depthwise", "conv2d_transpose", "dropout", "elu", "embedding", "gelu",
        "global_avg_pool2d", "global_max_pool2d", "gru", "layer_norm", "leaky_relu", "lstm",
        "max_pool2d", "relu", "selu", "sigmoid", "simple_rnn", "softmax", "softplus", "swish",
        "tanh", "upsample2d", "zero_pad2d")
}
LIBRARY.update({name: f"nn/losses/{name}.dml" for name in (
    "binary_crossentropy", "categorical_crossentropy", "huber", "mean_absolute_error",
    "mean_squared_error", "sparse_categorical_crossentropy")})
LIBRARY.update({name: f"nn/optim/{name}.dml" for name in (
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "nadam", "schedules")})
LIBRARY.update({name: f"nn/regularizers/{name}.dml" for name in ("l1", "l2")})


@dataclass(frozen=True)
class OpTemplate:
    template: str                     # file under templates/ops
    sources: tuple                    # aliases in LIBRARY the template calls
    context: Callable                 # (Step) -> dict of extra template values


_TEMPLATES: dict[str, OpTemplate] = {}


def op_template(ops, template: str, *sources: str):
    """Registers the decorated context function for one op name or a tuple of them."""
    def register(context: Callable) -> Callable:
        for op in (ops,) if isinstance(ops, str) else ops:
            if op in _TEMPLATES:
                raise ValueError(f"two templates for op {op}")
            _TEMPLATES[op] = OpTemplate(template, tuple(sources), context)
        return context
    return register


def template_for(op: str) -> OpTemplate | None:
    return _TEMPLATES.get(op)


def supported_ops() -> tuple:
    return tuple(sorted(_TEMPLATES))
