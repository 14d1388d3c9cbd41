"""What an op template sees of one IR node: the DML names of its tensors, parameters and
gradients, its shapes, and helpers for the layout questions every op asks."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import ir
from ..errors import Unsupported

__all__ = ["LAYOUT", "Step", "Unsupported", "image", "known", "ones", "rows_of", "seed_offset",
           "size", "steps_and_features", "zeros"]

# The dml_lib module (nn/util/layout.dml) that turns images between Keras' (h, w, c) rows and
# DML's channels-first rows: a context whose template calls layout::channels_first or
# layout::channels_last names it in its `sources`.
LAYOUT = "layout"


@dataclass
class Step:
    """One node as the templates use it (`n` in a template)."""
    node: ir.Node
    training: bool
    xs: tuple                 # input variables
    out: str                  # output variable
    in_shapes: tuple          # Keras per-sample shapes of the inputs
    out_shape: tuple
    params: dict              # param role -> variable (kernel -> conv1_W)
    param_grads: dict         # param role -> its gradient variable (trainable roles only)
    dxs: tuple                # gradient variable of each input (written by backward)
    dout: str                 # gradient of the output (read by backward)
    extra: dict = field(default_factory=dict)
    needs_dx: bool = True     # False when the first input is a model input: its gradient is unused

    @property
    def attrs(self):
        """The node's attributes (an op's frozen attributes dataclass)."""
        return self.node.attrs

    @property
    def x(self) -> str:
        return self.xs[0]

    @property
    def dx(self) -> str:
        return self.dxs[0]

    @property
    def in_shape(self) -> tuple:
        return self.in_shapes[0]

    def __getattr__(self, name):
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"op template value '{name}' of node "
                             f"'{self.__dict__['node'].name}' is not defined")


def image(shape: tuple) -> tuple:
    """(C, H, W) of a Keras (H, W, C) sample."""
    if len(shape) != 3:
        raise ValueError(f"not an image shape: {shape}")
    return shape[2], shape[0], shape[1]


def steps_and_features(shape: tuple) -> tuple:
    """(T, D) of a vector (1, D) or a sequence (T, D): rows re-read as (N*T) x D."""
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 2:
        return shape
    raise ValueError(f"not a vector or sequence shape: {shape}")


def known(shape: tuple, what: str) -> tuple:
    if None in shape:
        raise Unsupported("input shape", shape, f"a fixed {what} (the model leaves it open)")
    return shape


def seed_offset(n: Step) -> int:
    """The node's position in the graph. A layer that draws random numbers in training seeds
    them with the batch's seed plus this, so every such layer draws its own."""
    return [node.name for node in n.graph.nodes].index(n.node.name)


def size(shape: tuple) -> int:
    return math.prod(shape)


def zeros(rows: int, cols: int) -> str:
    return f"matrix(0, rows={rows}, cols={cols})"


def ones(rows: int, cols: int) -> str:
    return f"matrix(1, rows={rows}, cols={cols})"


def sequence_rows(n: Step, what: str) -> tuple:
    """(T, D) of the node's vector or sequence input. A length the model leaves open
    (Input(shape=(None,)) into an Embedding) is read from the batch when the script runs:
    T is then the DML expression as.integer(ncol(x) / D)."""
    shape = n.in_shape
    if len(shape) == 3 or shape[-1] is None or None in shape[:-2]:
        raise Unsupported("input shape", shape, what)
    steps, features = steps_and_features(shape)
    if steps is None:
        steps = f"as.integer(ncol({n.x}) / {features})"
    return steps, features


def times(count, factor: int):
    """count * factor: a number for a number, a DML expression for an expression."""
    return count * factor if isinstance(count, int) else f"{count} * {factor}"


def rows_of(shape: tuple, what: str) -> tuple:
    """(T, D) of a vector or sequence input, or an Unsupported naming the op's need."""
    if len(shape) == 3:
        raise Unsupported("input shape", shape, what)
    return steps_and_features(known(shape, "shape"))
