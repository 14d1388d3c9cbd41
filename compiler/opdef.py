"""What the compiler knows about one IR op, in one record: `OpDef`.

Every op family declares its ops once, in its module under `compiler/ops/` (attributes class,
Keras layer handlers, parameters with their roles, trainability and DML layout, shape rule, op
template and the dml_lib modules it sources). Every stage reads the record from here: the IR's
validation (`ir.OPS`, `ir.expected_params`), `passes.infer_shapes`, `passes.layout`, the backend's
names, templates and library table. `missing_pieces` says what a definition lacks; a test runs it
over every op.

This module is a leaf (it imports nothing of the compiler), so that `ir` and every op family can
use it; the families fill the table when `compiler.ops` is imported.
"""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Site:
    """What a parameter's DML layout depends on besides its value."""
    flattened: tuple | None   # per-sample shape flattened channels-first right before this op
    channels_first: bool      # the op's (first) input is an image DML holds channels-first


def f64(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value, dtype=np.float64)


def as_is(value: np.ndarray, site: Site) -> np.ndarray:
    return f64(value)


def as_row(value: np.ndarray, site: Site) -> np.ndarray:
    """A vector (n,) becomes a (1, n) row; 2-D values keep their shape."""
    return f64(value.reshape(1, -1) if value.ndim == 1 else value)


def as_column(value: np.ndarray, site: Site) -> np.ndarray:
    """A vector (n,) becomes an (n, 1) column (per channel of a channels-first image)."""
    return f64(value.reshape(-1, 1) if value.ndim == 1 else value)


@dataclass(frozen=True)
class Weight:
    """One parameter role of an op."""
    role: str                     # the Param's name in the op: kernel, bias, gamma, ...
    dml: str                      # its DML variable's suffix, as dml_lib's headers name it: W, b
    trainable: bool = True        # False: updated by the forward pass (moving statistics) or never
    layout: Callable = as_row     # (Keras-layout value, Site) -> 2-D float64 in DML layout
    moving: bool = False          # a statistic the training forward pass updates (BatchNorm's)


def no_params(attrs, input_shapes) -> dict:
    return {}


def never(attrs) -> bool:
    return False


def always(attrs) -> bool:
    return True


def no_channels(attrs) -> None:
    return None


def bias_column(attrs) -> str:
    return "column"


def bias_row(attrs) -> str:
    return "row"


@dataclass(frozen=True)
class OpDef:
    """One IR op. `params(attrs, input shapes or None)` gives {role: shape} the op expects (None
    in a shape where the input shape is unknown); `shape(node, attrs, input shapes)` gives
    (resolved attrs, output shape); `context(step)` gives what the template needs."""
    name: str
    attrs: type
    shape: Callable | None           # None only for "input", whose shape is declared
    template: str | None             # file under backend/templates/ops; None only for "input"
    context: Callable | None
    params: Callable = no_params
    weights: tuple = ()              # Weight for every role `params` may return
    sources: tuple = ()              # dml_lib modules the template always calls
    library: tuple = ()              # every dml_lib module under nn/layers it may call
    min_inputs: int = 1
    max_inputs: int | None = 1
    family: str = ""                 # the module that defines it
    # attrs -> True where the op passes its input through at inference (dropout, noise,
    # augmentation): prediction scripts leave it out
    noop_at_inference: Callable = never
    # attrs -> how its kernel and bias hold the output channels where a per-channel scale and
    # shift after it can be folded into them: "column" (bias (F, 1), kernel row f is filter f)
    # or "row" (bias (1, F), kernel column f); None where it cannot
    output_channels: Callable = no_channels
    # attrs -> True where, at inference, the op scales and shifts each channel of its input
    # (BatchNormalization): prediction scripts fold it into the op before it (passes.folding),
    # with its template's `fold` macro; its context's `channels` says how it holds them
    folds_at_inference: Callable = never
    # True where the op's attrs have an explicit `padding` (ir.Pad2D) filled with zeros, so a
    # ZeroPadding2D read only by it can be added to that padding (passes.padding)
    takes_zero_padding: bool = False
    # the op this one inverts: a node of it reading the output of a node of `undoes` whose
    # attrs `inverts` accepts (equal ones by default) gives back that node's input (fold_steps
    # after unfold_steps, a channels_first layer's move of the channels back before the next
    # one's move to the end), so passes.cleanup drops the pair
    undoes: str = ""
    inverts: Callable = operator.eq        # (attrs of the undone node, this node's) -> bool

    def weight(self, role: str) -> Weight:
        for weight in self.weights:
            if weight.role == role:
                return weight
        raise KeyError(f"op '{self.name}' declares no parameter role '{role}'")


OPS: dict[str, OpDef] = {}


def define(names, attrs: type, **fields) -> None:
    """Registers one definition under one op name or a tuple of names sharing everything."""
    fields.setdefault("library", tuple(fields.get("sources", ())))
    for name in (names,) if isinstance(names, str) else names:
        if name in OPS:
            raise ValueError(f"op '{name}' is defined twice ({OPS[name].family} and "
                             f"{fields.get('family', '?')})")
        OPS[name] = OpDef(name, attrs, **fields)


def definition(op: str) -> OpDef:
    return OPS[op]


def is_trainable(op: str, role: str) -> bool:
    return OPS[op].weight(role).trainable


def is_moving(op: str, role: str) -> bool:
    """Whether the training forward pass updates the parameter (a moving statistic)."""
    return OPS[op].weight(role).moving


def layer_modules() -> tuple:
    """Every dml_lib module under nn/layers some op may source, sorted."""
    return tuple(sorted({module for op in OPS.values() for module in op.library}))


def missing_pieces(op: OpDef, sample_inputs: tuple | None = None) -> list:
    """What the definition lacks, in words (empty when complete); sample_inputs are input shapes
    to ask `params` with, so that every role it returns is checked for a Weight."""
    problems = []
    if not dataclasses.is_dataclass(op.attrs):
        problems.append("its attributes class is not a dataclass")
    if op.name != "input":
        for piece in ("shape", "template", "context"):
            if not callable(getattr(op, piece)) and not (piece == "template" and op.template):
                problems.append(f"no {piece}")
    missing = set(op.sources) - set(op.library)
    if missing:
        problems.append(f"sources {sorted(missing)} are not in its library")
    roles = {w.role for w in op.weights}
    if len(roles) != len(op.weights):
        problems.append("a parameter role is declared twice")
    return problems
