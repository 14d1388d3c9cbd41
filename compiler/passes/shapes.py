"""Shape inference in Keras layout, one rule per op. Also resolves what needs the input shape:
"same"/"valid"/"causal" padding into explicit amounts per side (Keras' rule: the total padding is
what makes the output ceil(input / stride) long; the odd pixel goes at the bottom/right), negative
axes into non-negative ones, and the -1 of a reshape.
"""
from __future__ import annotations

import dataclasses
import math

from .. import ir
from ..errors import AttributeProblem, InvalidModelError, UnsupportedAttributeError


def infer_shapes(graph: ir.Graph) -> ir.Graph:
    """Every node gets its output shape; attributes that depend on shapes are resolved."""
    nodes, shapes = [], {}
    for node in graph.nodes:
        if node.op != "input":
            ins = tuple(shapes[t] for t in node.inputs)
            attrs, shape = _RULES[node.op](node, node.attrs, ins)
            node = node.replace(attrs=attrs, shapes=(shape,))
        shapes.update(zip(node.outputs, node.shapes))
        nodes.append(node)
    return graph.with_nodes(nodes)


# --- common rules ----------------------------------------------------------------------------

def _fail(node: ir.Node, problem: str):
    raise InvalidModelError(node.layer or node.name, problem)


def _rank(node: ir.Node, shape: tuple, rank: int, what: str) -> None:
    if len(shape) != rank:
        _fail(node, f"{node.keras_class} expects {what} per sample, got shape {shape}")


def _known(node: ir.Node, size, what: str) -> int:
    if size is None:
        _fail(node, f"needs a known {what}; the model leaves it open (None)")
    return size


def _pads(node, padding, size, kernel: int, stride: int) -> tuple:
    """(before, after) for one spatial axis."""
    if isinstance(padding, tuple):
        return padding
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return kernel - 1, 0
    size = _known(node, size, "input size for 'same' padding")
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _window_out(node, size, kernel: int, stride: int, before: int, after: int):
    if size is None:
        return None
    out = (size + before + after - kernel) // stride + 1
    if out < 1:
        _fail(node, f"a window of {kernel} does not fit an input of size {size} "
              f"(padding {before}+{after})")
    return out


def _windowed2d(node, attrs, shape, kernel, channels) -> tuple:
    _rank(node, shape, 3, "(height, width, channels)")
    p = attrs.padding
    pairs = ((p.top, p.bottom), (p.left, p.right)) if isinstance(p, ir.Pad2D) else (p, p)
    (top, bottom), (left, right) = (_pads(node, pairs[i], shape[i], kernel[i], attrs.strides[i])
                                    for i in range(2))
    out = tuple(_window_out(node, shape[i], kernel[i], attrs.strides[i], *pads)
                for i, pads in enumerate(((top, bottom), (left, right))))
    attrs = dataclasses.replace(attrs, padding=ir.Pad2D(top, bottom, left, right))
    return attrs, (*out, channels)


def _axis(node, axis: int, rank: int, attribute: str = "axis") -> int:
    resolved = axis + rank if axis < 0 else axis
    if not 0 <= resolved < rank:
        _fail(node, f"{attribute}={axis} is out of range for a {rank}-D sample")
    return resolved


def _last_axis_only(node, attrs, shape):
    axis = _axis(node, attrs.axis, len(shape))
    if axis != len(shape) - 1:
        keras_axis = axis + 1
        accepted = f"the last axis (-1 or {len(shape)})"
        raise UnsupportedAttributeError([AttributeProblem(
            node.layer, node.keras_class, "axis", keras_axis, accepted)])
    return dataclasses.replace(attrs, axis=axis)


# --- rules: (node, attrs, input shapes) -> (attrs, output shape) --------------------------------

def _same_shape(node, attrs, ins):
    return attrs, ins[0]


def _activation(node, attrs, ins):
    return (_last_axis_only(node, attrs, ins[0]) if attrs.kind == "softmax" else attrs), ins[0]


def _dense(node, attrs, ins):
    if not ins[0]:
        _fail(node, "Dense needs an input with at least one axis")
    return attrs, ins[0][:-1] + (attrs.units,)


def _flatten(node, attrs, ins):
    return attrs, (None if None in ins[0] else math.prod(ins[0]),)


def _reshape(node, attrs, ins):
    size = math.prod(ins[0]) if None not in ins[0] else None
    known = math.prod(d for d in attrs.target if d != -1)
    target = attrs.target
    if -1 in target and size is not None:
        if size % known:
            _fail(node, f"cannot reshape {ins[0]} into {target}")
        target = tuple(size // known if d == -1 else d for d in target)
    elif size is not None and size != known:
        _fail(node, f"cannot reshape {ins[0]} ({size} values) into {target} ({known} values)")
    return dataclasses.replace(attrs, target=target), target


def _conv1d(node, attrs, ins):
    shape = ins[0]
    _rank(node, shape, 2, "(steps, channels)")
    before, after = _pads(node, (attrs.padding.left, attrs.padding.right)
                          if isinstance(attrs.padding, ir.Pad1D) else attrs.padding,
                          shape[0], attrs.kernel, attrs.stride)
    out = _window_out(node, shape[0], attrs.kernel, attrs.stride, before, after)
    return dataclasses.replace(attrs, padding=ir.Pad1D(before, after)), (out, attrs.filters)


def _conv2d(node, attrs, ins):
    return _windowed2d(node, attrs, ins[0], attrs.kernel, attrs.filters)


def _depthwise(node, attrs, ins):
    channels = ins[0][-1] * attrs.multiplier if ins[0] and ins[0][-1] else None
    return _windowed2d(node, attrs, ins[0], attrs.kernel, channels)


def _transpose_dim(node, size, kernel, stride, padding, extra):
    """(crop before, crop after, output size) of one axis of a transposed convolution."""
    size = _known(node, size, "input size")
    full = (size - 1) * stride + kernel
    if extra is None:
        out = size * stride + max(kernel - stride, 0) if padding == "valid" else size * stride
    else:
        out = full - 2 * (kernel // 2 if padding == "same" else 0) + extra
    total = full - out
    before = 0 if padding == "valid" else max(total, 0) // 2
    return before, total - before, out


def _conv2d_transpose(node, attrs, ins):
    shape = ins[0]
    _rank(node, shape, 3, "(height, width, channels)")
    if isinstance(attrs.padding, ir.Pad2D):
        p = attrs.padding
        out = tuple((shape[i] - 1) * attrs.strides[i] + attrs.kernel[i] - a - b
                    for i, (a, b) in enumerate(((p.top, p.bottom), (p.left, p.right))))
        return attrs, (*out, attrs.filters)
    extra = attrs.output_padding or (None, None)
    rows, cols = (_transpose_dim(node, shape[i], attrs.kernel[i], attrs.strides[i],
                                 attrs.padding, extra[i] if attrs.output_padding else None)
                  for i in range(2))
    padding = ir.Pad2D(rows[0], rows[1], cols[0], cols[1])
    return dataclasses.replace(attrs, padding=padding), (rows[2], cols[2], attrs.filters)


def _pool1d(node, attrs, ins):
    shape = ins[0]
    _rank(node, shape, 2, "(steps, channels)")
    padding = attrs.padding
    pair = (padding.left, padding.right) if isinstance(padding, ir.Pad1D) else padding
    before, after = _pads(node, pair, shape[0], attrs.size, attrs.stride)
    out = _window_out(node, shape[0], attrs.size, attrs.stride, before, after)
    return dataclasses.replace(attrs, padding=ir.Pad1D(before, after)), (out, shape[1])


def _pool2d(node, attrs, ins):
    return _windowed2d(node, attrs, ins[0], attrs.size, ins[0][-1] if ins[0] else None)


def _global_pool(rank):
    def rule(node, attrs, ins):
        _rank(node, ins[0], rank, "(steps, channels)" if rank == 2 else "(height, width, channels)")
        return attrs, ((1,) * (rank - 1) if attrs.keepdims else ()) + (ins[0][-1],)
    return rule


def _zero_pad2d(node, attrs, ins):
    shape, p = ins[0], attrs.padding
    _rank(node, shape, 3, "(height, width, channels)")
    grow = lambda size, a, b: None if size is None else size + a + b  # noqa: E731
    return attrs, (grow(shape[0], p.top, p.bottom), grow(shape[1], p.left, p.right), shape[2])


def _upsample2d(node, attrs, ins):
    shape = ins[0]
    _rank(node, shape, 3, "(height, width, channels)")
    scale = lambda size, k: None if size is None else size * k  # noqa: E731
    return attrs, (scale(shape[0], attrs.size[0]), scale(shape[1], attrs.size[1]), shape[2])


def _normalization(node, attrs, ins):
    return _last_axis_only(node, attrs, ins[0]), ins[0]


def _embedding(node, attrs, ins):
    return attrs, ins[0] + (attrs.output_dim,)


def _recurrent(node, attrs, ins):
    _rank(node, ins[0], 2, "(steps, features)")
    return attrs, (ins[0][0], attrs.units) if attrs.return_sequences else (attrs.units,)


def _merge(node, attrs, ins):
    if any(shape != ins[0] for shape in ins):
        _fail(node, f"{node.keras_class} needs inputs of equal shape, got {list(ins)}")
    return attrs, ins[0]


def _concatenate(node, attrs, ins):
    axis = _axis(node, attrs.axis, len(ins[0]))
    rest = lambda s: s[:axis] + s[axis + 1:]  # noqa: E731
    if any(len(s) != len(ins[0]) or rest(s) != rest(ins[0]) for s in ins):
        _fail(node, f"Concatenate on axis {axis} needs equal other axes, got {list(ins)}")
    sizes = [s[axis] for s in ins]
    total = None if None in sizes else sum(sizes)
    return dataclasses.replace(attrs, axis=axis), ins[0][:axis] + (total,) + ins[0][axis + 1:]


_RULES = {
    "dense": _dense, "activation": _activation, "dropout": _same_shape, "flatten": _flatten,
    "reshape": _reshape, "conv1d": _conv1d, "conv2d": _conv2d, "depthwise_conv2d": _depthwise,
    "conv2d_transpose": _conv2d_transpose, "max_pool1d": _pool1d, "avg_pool1d": _pool1d,
    "max_pool2d": _pool2d, "avg_pool2d": _pool2d,
    "global_avg_pool1d": _global_pool(2), "global_max_pool1d": _global_pool(2),
    "global_avg_pool2d": _global_pool(3), "global_max_pool2d": _global_pool(3),
    "zero_pad2d": _zero_pad2d, "upsample2d": _upsample2d, "batch_norm": _normalization,
    "layer_norm": _normalization, "embedding": _embedding, "simple_rnn": _recurrent,
    "lstm": _recurrent, "gru": _recurrent, "add": _merge, "subtract": _merge,
    "multiply": _merge, "average": _merge, "maximum": _merge, "concatenate": _concatenate,
}
