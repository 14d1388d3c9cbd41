"""Model inputs: InputLayer -> the "input" op, whose output shape is Keras' input shape."""
from __future__ import annotations

from dataclasses import dataclass

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define


@dataclass(frozen=True)
class Input:
    """A model input. The node's output shape is the Keras input shape."""
    dtype: str = "float32"


@handles("InputLayer")
def input_layer(ctx: LayerContext) -> list:
    """A model input; its shape is Keras' input shape without the batch dimension."""
    shape = ctx.get("batch_shape", None) or ctx.get("batch_input_shape", None)
    if shape is None:
        ctx.reject("batch_shape", None, "a declared input shape (keras.Input(shape=...))")
    dtype = ctx.get("dtype", "float32")
    if not isinstance(dtype, str):  # Keras 3 may serialize a DTypePolicy
        dtype = str(((dtype or {}).get("config") or {}).get("name", "float32"))
    if ctx.get("sparse", False) or ctx.get("ragged", False):
        ctx.reject("sparse" if ctx.get("sparse", False) else "ragged", True, "False (dense inputs)")
    dims = tuple(None if d is None else int(d) for d in shape[1:])
    return [ctx.node("input", Input(dtype), shapes=(dims,))]


define("input", Input, shape=None, template=None, context=None, min_inputs=0, max_inputs=0,
       family=__name__)
