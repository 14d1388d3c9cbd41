"""Convolutional LSTMs: ConvLSTM2D, and ConvLSTM1D as ConvLSTM2D on frames of height 1, on
dml_lib's conv_lstm2d.dml (strides 1, padding valid or same, initial states zero). Keras'
math per step: z = conv(x_t, kernel) + conv_same(h, recurrent_kernel) + bias, gates i, f, c, o
along the kernels' last axis, c = f*c + i*act(g), h = o*act(c). go_backwards reads the frames
in reverse (recurrent.py's reverse_steps node) and, as Keras, keeps a sequence output in that
reversed order.

Refused by name: strides other than 1, dilation_rate, data_format="channels_first", stateful,
return_state, initial_state, a Keras mask, activations other than tanh, relu, sigmoid and linear,
and dropout/recurrent_dropout above 0 in training scripts (prediction ignores them, as Keras
does).

DML layout: a (T, H, W, C) sample is one row in Keras' order, as volumes.py holds it (a
ConvLSTM1D's (T, L, C) input, which DML holds channels first, is reshaped to (T, 1, L, C)
frames, its output back to (T, L', F) or (L', F)); kernel (4F, C*kh*kw) and recurrent_kernel
(4F, F*kh*kw) from Keras (kh, kw, C or F, 4F), as conv2d's layout; bias (4F, 1).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..backend.step import Step, Unsupported, known, zeros
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import Weight, as_column, define
from .conv import conv2d_kernel, conv_common, conv_weights
from .recurrent import plain_activation, reverse_steps
from .reshaping import Reshape
from .shaping import bias, last_dim, pads, require_rank, window_out


@dataclass(frozen=True)
class ConvLSTM:
    """(T, H, W, C) -> (T, H', W', filters), or (H', W', filters) for the last step.
    kernel (kh, kw, C, 4*filters), recurrent_kernel (kh, kw, filters, 4*filters), bias
    (4*filters,), the gates in Keras' order [input, forget, cell, output] along the last axis.
    padding: Keras' name, then ((top, bottom), (left, right)) of the input convolution."""
    filters: int
    kernel: tuple
    padding: tuple | str = "valid"
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    return_sequences: bool = False
    use_bias: bool = True
    dropout: float = 0.0             # Keras' rates: ignored at inference, refused in training
    recurrent_dropout: float = 0.0


# what dml_lib's conv_lstm2d computes (simple_rnn.dml's activate)
_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
_REFUSED_IF_SET = {"stateful": "False (stateful recurrence is not supported)",
                   "return_state": "False (the final states are not outputs of a ConvLSTM)"}


# --- frontend --------------------------------------------------------------------------------

@handles("ConvLSTM1D", "ConvLSTM2D")
def conv_lstm(ctx: LayerContext) -> list:
    """ConvLSTM1D/2D(filters, kernel_size, padding valid/same, activation and
    recurrent_activation tanh/relu/sigmoid/linear, use_bias, return_sequences, go_backwards;
    strides 1; dropout in prediction only). ConvLSTM1D runs as ConvLSTM2D on frames of height 1
    (between two reshape nodes)."""
    rank = 1 if ctx.class_name == "ConvLSTM1D" else 2
    kernel, strides, padding = conv_common(ctx, rank)
    if strides != (1,) * rank:
        ctx.reject("strides", ctx.get("strides"), "1 (strided convolutional LSTMs are not "
                   "supported)")
    for key, accepted in _REFUSED_IF_SET.items():
        if ctx.get(key, False):
            ctx.reject(key, True, accepted)
    if ctx.mask is not None:
        ctx.reject("mask", "a Keras mask", "no mask (masked convolutional LSTMs are not "
                   "supported)")
    weights = conv_weights(ctx, "kernel", "recurrent_kernel")
    if rank == 1:   # kernels (k, C, 4F) as (1, k, C, 4F)
        kernel = (1, *kernel)
        weights = {name: _with_height(param) if name != "bias" else param
                   for name, param in weights.items()}
    attrs = ConvLSTM(
        int(ctx.get("filters")), kernel, padding,
        activation=plain_activation(ctx, "activation", "tanh"),
        recurrent_activation=plain_activation(ctx, "recurrent_activation", "sigmoid"),
        return_sequences=bool(ctx.get("return_sequences", False)),
        use_bias="bias" in weights, dropout=float(ctx.get("dropout", 0.0)),
        recurrent_dropout=float(ctx.get("recurrent_dropout", 0.0)))
    return _recurrence(ctx, attrs, tuple(weights.values()), rank)


def _recurrence(ctx: LayerContext, attrs: ConvLSTM, params: tuple, rank: int) -> list:
    """The nodes of the layer: (a reshape to frames,) (a reverse_steps,) the conv_lstm2d (, a
    reshape back to sequences)."""
    nodes, tensor = [], ctx.call.inputs[0]
    if rank == 1:
        length, channels = _sequence_shape(ctx)
        nodes.append(_reshape(ctx, "frames", tensor, (-1, 1, length, channels)))
        tensor = nodes[-1].output
    if ctx.get("go_backwards", False):
        nodes.append(reverse_steps(ctx, f"{ctx.name}/reversed_input", tensor))
        tensor = nodes[-1].output
    if rank == 2:
        return nodes + [ctx.node("conv_lstm2d", attrs, params, inputs=(tensor,))]
    recurrent = f"{ctx.name}/conv_lstm2d"
    nodes.append(ctx.node("conv_lstm2d", attrs, params, name=recurrent, inputs=(tensor,),
                          outputs=(recurrent,)))
    out = length - attrs.kernel[1] + 1 if attrs.padding == "valid" else length
    target = (-1, out, attrs.filters) if attrs.return_sequences else (out, attrs.filters)
    return nodes + [ctx.node("reshape", Reshape(target), inputs=(recurrent,))]


def _sequence_shape(ctx: LayerContext) -> tuple:
    """(length, channels) of a ConvLSTM1D's (steps, length, channels) input, as recorded."""
    shapes = ctx.recorded_input_shapes()
    shape = shapes[0] if shapes else None
    if not shape or len(shape) != 4 or None in shape[2:]:
        ctx.reject("input shape", shape, "a (steps, length, channels) input shape recorded in "
                   "the file (a .keras file records it; a legacy .h5 file may not)")
    return int(shape[2]), int(shape[3])


def _reshape(ctx: LayerContext, suffix: str, tensor: str, target: tuple):
    name = f"{ctx.name}/{suffix}"
    return ctx.node("reshape", Reshape(target), name=name, inputs=(tensor,), outputs=(name,))


def _with_height(param):
    """A ConvLSTM1D kernel (k, C, 4F) as the (1, k, C, 4F) kernel of frames of height 1."""
    value = param.value.reshape(1, *param.value.shape)
    value.setflags(write=False)
    return dataclasses.replace(param, value=value)


# --- shapes and parameters -------------------------------------------------------------------

def _shape(node, attrs, ins):
    require_rank(node, ins[0], 4, "(steps, height, width, channels)")
    steps, height, width, _ = ins[0]
    pairs = attrs.padding if isinstance(attrs.padding, tuple) else (attrs.padding,) * 2
    amounts = tuple(pads(node, pairs[i], size, attrs.kernel[i], 1)
                    for i, size in enumerate((height, width)))
    out = tuple(window_out(node, size, attrs.kernel[i], 1, *amounts[i])
                for i, size in enumerate((height, width)))
    frame = (*out, attrs.filters)
    return (dataclasses.replace(attrs, padding=amounts),
            (steps, *frame) if attrs.return_sequences else frame)


def _params(a: ConvLSTM, ins) -> dict:
    gates = 4 * a.filters
    return {"kernel": (*a.kernel, last_dim(ins), gates),
            "recurrent_kernel": (*a.kernel, a.filters, gates), **bias(a.use_bias, gates)}


# --- template --------------------------------------------------------------------------------

def _context(n: Step) -> dict:
    a = n.attrs
    for key in ("activation", "recurrent_activation"):
        if getattr(a, key) not in _ACTIVATIONS:
            raise Unsupported(key, getattr(a, key), f"{', '.join(map(repr, _ACTIVATIONS))} "
                              "(dml_lib's conv_lstm2d layer)")
    for key in ("dropout", "recurrent_dropout"):
        if n.training and getattr(a, key) > 0:
            raise Unsupported(key, getattr(a, key), "0 in training (a ConvLSTM's dropout "
                              "masks are not built)")
    _, height, width, channels = known((1, *n.in_shape[1:]), "frame size")
    (top, bottom), (left, right) = a.padding
    sizes = ", ".join(str(v) for v in (channels, height, width, *a.kernel, top, bottom, left,
                                       right))
    flags = f'{"TRUE" if a.return_sequences else "FALSE"}, "{a.activation}", ' \
            f'"{a.recurrent_activation}"'
    gates = 4 * a.filters
    return dict(sizes=sizes, flags=flags, caches=f"{n.out}_H, {n.out}_S, {n.out}_G",
                out_sizes=f"{n.out_shape[-3]}, {n.out_shape[-2]}",
                b=n.params.get("bias") or zeros(gates, 1),
                db=n.param_grads.get("bias") or f"{n.out}_dzero",
                shape_text=f"frames {height}x{width}x{channels} -> "
                           f"{'x'.join(map(str, n.out_shape[-3:]))}")


define("conv_lstm2d", ConvLSTM, shape=_shape, params=_params,
       weights=(Weight("kernel", "W", layout=conv2d_kernel),
                Weight("recurrent_kernel", "U", layout=conv2d_kernel),
                Weight("bias", "b", layout=as_column)),
       template="conv_lstm2d.dml.j2", context=_context, sources=("conv_lstm2d",),
       family=__name__)
