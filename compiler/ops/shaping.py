"""What the shape rules and parameter declarations of the op families share: errors naming the
layer, rank and size checks, Keras' padding rules, axis resolution.

Keras' "same" padding: the total padding makes the output ceil(input / stride) long, and the odd
pixel goes at the bottom/right.
"""
from __future__ import annotations

import dataclasses
import math

from .. import ir
from ..errors import AttributeProblem, InvalidModelError, UnsupportedAttributeError


def fail(node: ir.Node, problem: str):
    raise InvalidModelError(node.layer or node.name, problem)


def require_rank(node: ir.Node, shape: tuple, rank: int, what: str) -> None:
    if len(shape) != rank:
        fail(node, f"{node.keras_class} expects {what} per sample, got shape {shape}")


def known_size(node: ir.Node, size, what: str) -> int:
    if size is None:
        fail(node, f"needs a known {what}; the model leaves it open (None)")
    return size


def pads(node, padding, size, kernel: int, stride: int) -> tuple:
    """(before, after) for one spatial axis; padding is a pair already or Keras' name."""
    if isinstance(padding, tuple):
        return padding
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return kernel - 1, 0
    if stride == 1:          # kernel - 1 in total, whatever the size (an open length too)
        return (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2
    size = known_size(node, size, "input size for 'same' padding with strides")
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window_out(node, size, kernel: int, stride: int, before: int, after: int):
    if size is None:
        return None
    out = (size + before + after - kernel) // stride + 1
    if out < 1:
        fail(node, f"a window of {kernel} does not fit an input of size {size} "
             f"(padding {before}+{after})")
    return out


def windowed2d(node, attrs, shape, kernel, channels) -> tuple:
    """(attrs with explicit Pad2D, output shape) of a 2-D window op (convolution, pooling)."""
    require_rank(node, shape, 3, "(height, width, channels)")
    p = attrs.padding
    pairs = ((p.top, p.bottom), (p.left, p.right)) if isinstance(p, ir.Pad2D) else (p, p)
    (top, bottom), (left, right) = (pads(node, pairs[i], shape[i], kernel[i], attrs.strides[i])
                                    for i in range(2))
    out = tuple(window_out(node, shape[i], kernel[i], attrs.strides[i], *pair)
                for i, pair in enumerate(((top, bottom), (left, right))))
    attrs = dataclasses.replace(attrs, padding=ir.Pad2D(top, bottom, left, right))
    return attrs, (*out, channels)


def windowed1d(node, attrs, shape, kernel: int, stride: int) -> tuple:
    """(explicit Pad1D, output length) of a 1-D window op over (steps, channels)."""
    require_rank(node, shape, 2, "(steps, channels)")
    p = attrs.padding
    pair = (p.left, p.right) if isinstance(p, ir.Pad1D) else p
    before, after = pads(node, pair, shape[0], kernel, stride)
    return ir.Pad1D(before, after), window_out(node, shape[0], kernel, stride, before, after)


def resolve_axis(node, axis: int, rank: int, attribute: str = "axis") -> int:
    resolved = axis + rank if axis < 0 else axis
    if not 0 <= resolved < rank:
        fail(node, f"{attribute}={axis} is out of range for a {rank}-D sample")
    return resolved


def last_axis_only(node, attrs, shape):
    """attrs with a non-negative axis, which must be the last one."""
    axis = resolve_axis(node, attrs.axis, len(shape))
    if axis != len(shape) - 1:
        accepted = f"the last axis (-1 or {len(shape)})"
        raise UnsupportedAttributeError([AttributeProblem(
            node.layer, node.keras_class, "axis", axis + 1, accepted)])
    return dataclasses.replace(attrs, axis=axis)


def same_shape(node, attrs, ins):
    return attrs, ins[0]


# --- parameter shapes ------------------------------------------------------------------------

def last_dim(input_shapes):
    """The last axis of the first input, None when unknown."""
    return input_shapes[0][-1] if input_shapes and input_shapes[0] else None


def times(a, b):
    return None if a is None or b is None else a * b


def bias(use_bias: bool, n) -> dict:
    return {"bias": (n,)} if use_bias else {}
