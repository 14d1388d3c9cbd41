"""The backend's view of the op definitions (`compiler.ops`): which template writes an op, and
the table of dml_lib modules a generated script may source.

Every template file under templates/ops defines the macros `forward(n)` and `backward(n)`; an
op's context function (its definition's `context`) computes what the template needs.
"""
from __future__ import annotations

from .. import ops  # noqa: F401  (registers the op definitions)
from ..opdef import OPS, OpDef, layer_modules
from .step import LAYOUT

# alias -> dml_lib path, for every module a generated script may source
LIBRARY = {name: f"nn/layers/{name}.dml" for name in layer_modules()}
LIBRARY.update({name: f"nn/losses/{name}.dml" for name in (
    "binary_crossentropy", "categorical_crossentropy", "huber", "mean_absolute_error",
    "mean_squared_error", "sparse_categorical_crossentropy", "log_cosh", "kl_divergence",
    "poisson", "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error")})
LIBRARY.update({name: f"nn/optim/{name}.dml" for name in (
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "nadam", "adamax", "schedules")})
LIBRARY.update({name: f"nn/regularizers/{name}.dml" for name in ("l1", "l2")})
LIBRARY[LAYOUT] = "nn/util/layout.dml"
LIBRARY["confusion"] = "nn/metrics/confusion.dml"  # Precision, Recall, AUC, FBetaScore


def template_for(op: str) -> OpDef | None:
    """The op's definition when it has a template (its .template, .sources, .context)."""
    definition = OPS.get(op)
    return definition if definition is not None and definition.template else None


def supported_ops() -> tuple:
    return tuple(sorted(op for op, definition in OPS.items() if definition.template))
