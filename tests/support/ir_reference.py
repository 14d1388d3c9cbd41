"""A plain numpy interpreter of IR graphs in Keras layout (NHWC, float64).

It is the executable definition of what each op and attribute means: the tests run it on the
compiled graph and compare with Keras' `model.predict`, which checks that the frontend read every
attribute and weight the way Keras uses them.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from kerasdml.compiler import ir, ops


def run(graph: ir.Graph, inputs) -> list:
    """Outputs of `graph` for a list of input batches (one per graph input, Keras layout)."""
    values = {t: np.asarray(x, dtype=np.float64) for t, x in zip(graph.inputs, inputs)}
    for node in graph.nodes:
        if node.op == "input":
            continue
        args = [values[t] for t in node.inputs]
        params = {p.name: np.asarray(p.value, dtype=np.float64) for p in node.params}
        values[node.output] = OPS[node.op](node.attrs, params, *args)
        if node.activation is not None:
            values[node.output] = activation(node.activation, {}, values[node.output])
    return [values[t] for t in graph.outputs]


def _erf(x):
    return np.vectorize(math.erf)(x)


def activation(a: ops.Activation, params, x):
    if a.kind == "relu":
        y = np.where(x > a.threshold, x, a.alpha * (x - a.threshold))
        return y if a.max_value is None else np.minimum(y, a.max_value)
    if a.kind == "softmax":
        e = np.exp(x - x.max(axis=a.axis + 1, keepdims=True))
        return e / e.sum(axis=a.axis + 1, keepdims=True)
    if a.kind == "gelu" and a.approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    selu_alpha, selu_scale = 1.6732632423543772, 1.0507009873554805
    table = {
        "linear": lambda: x,
        "sigmoid": lambda: 1 / (1 + np.exp(-x)),
        "tanh": lambda: np.tanh(x),
        "elu": lambda: np.where(x > 0, x, a.alpha * (np.exp(x) - 1)),
        "selu": lambda: selu_scale * np.where(x > 0, x, selu_alpha * (np.exp(x) - 1)),
        "gelu": lambda: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
        "swish": lambda: x / (1 + np.exp(-x)),
        "softplus": lambda: np.logaddexp(0, x),
        "leaky_relu": lambda: np.where(x >= 0, x, a.alpha * x),
    }
    return table[a.kind]()


def dense(a, p, x):
    y = x @ p["kernel"]
    return y + p["bias"] if a.use_bias else y


def _pad_hw(x, pad: ir.Pad2D, value=0.0):
    """Pads (or, for negative amounts, crops) the H and W axes of NHWC data."""
    def axis(x, dim, before, after):
        if before < 0:
            x = np.take(x, range(-before, x.shape[dim]), axis=dim)
            before = 0
        if after < 0:
            x = np.take(x, range(0, x.shape[dim] + after), axis=dim)
            after = 0
        widths = [(0, 0)] * x.ndim
        widths[dim] = (before, after)
        return np.pad(x, widths, constant_values=value)
    return axis(axis(x, 1, pad.top, pad.bottom), 2, pad.left, pad.right)


def _windows(x, kernel, strides):
    """(N, H', W', C, kh, kw) views of NHWC data."""
    view = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))
    return view[:, ::strides[0], ::strides[1]]


def _dilated(a, kernel):
    """(attrs, kernel) with a dilated kernel made dense: zeros between its taps."""
    (dh, dw) = a.dilation
    if (dh, dw) == (1, 1):
        return a, kernel
    kh, kw = kernel.shape[:2]
    dense = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1, *kernel.shape[2:]))
    dense[::dh, ::dw] = kernel
    return dataclasses.replace(a, kernel=dense.shape[:2], dilation=(1, 1)), dense


def conv2d(a, p, x):
    a, kernel = _dilated(a, p["kernel"])
    w = _windows(_pad_hw(x, a.padding), a.kernel, a.strides)
    y = np.einsum("nhwcij,ijcf->nhwf", w, kernel)
    return y + p["bias"] if a.use_bias else y


def depthwise_conv2d(a, p, x):
    a, kernel = _dilated(a, p["kernel"])
    w = _windows(_pad_hw(x, a.padding), a.kernel, a.strides)
    y = np.einsum("nhwcij,ijcm->nhwcm", w, kernel)
    y = y.reshape(*y.shape[:3], -1)
    return y + p["bias"] if a.use_bias else y


def conv2d_transpose(a, p, x):
    n, h, w, _ = x.shape
    (kh, kw), (sh, sw) = a.kernel, a.strides
    full = np.zeros((n, (h - 1) * sh + kh, (w - 1) * sw + kw, a.filters))
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + (h - 1) * sh + 1:sh, j:j + (w - 1) * sw + 1:sw] += \
                x @ p["kernel"][i, j].T
    crop = a.padding
    y = _pad_hw(full, ir.Pad2D(-crop.top, -crop.bottom, -crop.left, -crop.right))
    return y + p["bias"] if a.use_bias else y


def conv1d(a, p, x):
    attrs = ops.Conv2D(a.filters, (1, a.kernel), (1, a.stride),
                      ir.Pad2D(0, 0, a.padding.left, a.padding.right), a.use_bias,
                      (1, a.dilation))
    return conv2d(attrs, {**p, "kernel": p["kernel"][None]}, x[:, None])[:, 0]


def _pool(x, size, strides, pad, reduce):
    if reduce == "max":
        return _windows(_pad_hw(x, pad, -np.inf), size, strides).max(axis=(-2, -1))
    total = _windows(_pad_hw(x, pad), size, strides).sum(axis=(-2, -1))
    count = _windows(_pad_hw(np.ones_like(x[:1]), pad), size, strides).sum(axis=(-2, -1))
    return total / count


def pool2d(kind):
    return lambda a, p, x: _pool(x, a.size, a.strides, a.padding, kind)


def pool1d(kind):
    def run1d(a, p, x):
        pad = ir.Pad2D(0, 0, a.padding.left, a.padding.right)
        return _pool(x[:, None], (1, a.size), (1, a.stride), pad, kind)[:, 0]
    return run1d


def global_pool(kind):
    def reduce(a, p, x):
        axes = tuple(range(1, x.ndim - 1))
        return getattr(np, kind)(x, axis=axes, keepdims=a.keepdims)
    return reduce


def _volume_windows(x, pairs, kernel, strides, value=0.0):
    """(N, D', H', W', C, kd, kh, kw) views of NDHWC data padded by (before, after) pairs."""
    padded = np.pad(x, ((0, 0), *pairs, (0, 0)), constant_values=value)
    view = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(1, 2, 3))
    return view[:, ::strides[0], ::strides[1], ::strides[2]]


def conv3d(a, p, x):
    w = _volume_windows(x, a.padding, a.kernel, a.strides)
    y = np.einsum("ndhwcijk,ijkcf->ndhwf", w, p["kernel"])
    return y + p["bias"] if a.use_bias else y


def conv3d_transpose(a, p, x):
    sizes = x.shape[1:4]
    full = np.zeros((len(x), *((n - 1) * s + k for n, s, k in zip(sizes, a.strides, a.kernel)),
                     a.filters))
    for taps in np.ndindex(*a.kernel):
        spread = tuple(slice(t, t + (n - 1) * s + 1, s) for t, n, s in zip(taps, sizes, a.strides))
        full[(slice(None), *spread)] += x @ p["kernel"][taps].T
    # a negative cut after: that many zero positions appended
    full = np.pad(full, ((0, 0), *((0, max(-after, 0)) for _, after in a.padding), (0, 0)))
    kept = tuple(slice(before, before + (n - 1) * s + k - before - after)
                 for (before, after), n, s, k in zip(a.padding, sizes, a.strides, a.kernel))
    y = full[(slice(None), *kept)]
    return y + p["bias"] if a.use_bias else y


def pool3d(kind):
    def run3d(a, p, x):
        axes = (-3, -2, -1)
        if kind == "max":
            return _volume_windows(x, a.padding, a.size, a.strides, -np.inf).max(axis=axes)
        total = _volume_windows(x, a.padding, a.size, a.strides).sum(axis=axes)
        count = _volume_windows(np.ones_like(x[:1]), a.padding, a.size, a.strides).sum(axis=axes)
        return total / count
    return run3d


def adaptive_pool(reduce):
    """Output position j of an axis of n positions pooled to m: positions floor(j*n/m) ..
    ceil((j+1)*n/m) - 1 (0-based), as Keras computes its windows."""
    def run(a, p, x):
        for axis, outs in enumerate(a.output_size, start=1):
            n = x.shape[axis]
            x = np.stack([reduce(np.take(x, range(j * n // outs, -(-(j + 1) * n // outs)),
                                         axis=axis), axis=axis) for j in range(outs)], axis=axis)
        return x
    return run


def upsample2d(a, p, x):
    return np.repeat(np.repeat(x, a.size[0], axis=1), a.size[1], axis=2)


def _interpolation(size_in: int, size_out: int) -> np.ndarray:
    """tf.image.resize's bilinear weights of one axis (half-pixel centres, no antialiasing)."""
    s = np.maximum((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0)
    low = np.floor(s).astype(int)
    high, f = np.minimum(low + 1, size_in - 1), s - low
    weights = np.zeros((size_out, size_in))
    np.add.at(weights, (np.arange(size_out), low), 1 - f)
    np.add.at(weights, (np.arange(size_out), high), f)
    return weights


def resize_bilinear(a, p, x):
    rows, cols = _interpolation(x.shape[1], a.height), _interpolation(x.shape[2], a.width)
    return np.einsum("ih,nhwc,jw->nijc", rows, x, cols)


def batch_norm(a, p, x):
    y = (x - p["moving_mean"]) / np.sqrt(p["moving_variance"] + a.epsilon)
    y = y * p["gamma"] if a.scale else y
    return y + p["beta"] if a.center else y


def group_norm(a, p, x):
    groups = x.reshape(*x.shape[:-1], a.groups, -1)
    axes = tuple(i for i in range(1, groups.ndim) if i != groups.ndim - 2)
    mean = groups.mean(axis=axes, keepdims=True)
    y = ((groups - mean) / np.sqrt(groups.var(axis=axes, keepdims=True) + a.epsilon))
    y = y.reshape(x.shape)
    return y * p.get("gamma", 1.0) + p.get("beta", 0.0)


def layer_norm(a, p, x):
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + a.epsilon)
    y = y * p["gamma"] if a.scale else y
    return y + p["beta"] if a.center else y


def _act(kind):
    return lambda x: activation(ops.Activation(kind), {}, x)


def _scan(a, x, step, state):
    outputs = []
    for t in range(x.shape[1]):
        state = step(x[:, t], state)
        outputs.append(state[0])
    return np.stack(outputs, axis=1) if a.return_sequences else outputs[-1]


def simple_rnn(a, p, x):
    b = p.get("bias", 0)
    act = _act(a.activation)
    return _scan(a, x, lambda xt, s: (act(xt @ p["kernel"] + s[0] @ p["recurrent_kernel"] + b),),
                 (np.zeros((x.shape[0], a.units)),))


def lstm(a, p, x):
    act, gate = _act(a.activation), _act(a.recurrent_activation)

    def step(xt, state):
        h, c = state
        z = xt @ p["kernel"] + h @ p["recurrent_kernel"] + p.get("bias", 0)
        i, f, g, o = np.split(z, 4, axis=-1)
        c = gate(f) * c + gate(i) * act(g)
        return gate(o) * act(c), c
    zeros = np.zeros((x.shape[0], a.units))
    return _scan(a, x, step, (zeros, zeros))


def conv_lstm2d(a, p, x):
    """Keras' ConvLSTM2D: the input convolution padded as the node says, the recurrent one
    "same" (the extra row or column of an even kernel below / right)."""
    act, gate = _act(a.activation), _act(a.recurrent_activation)
    kh, kw = a.kernel
    same = ir.Pad2D((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)

    def conv(image, kernel, pad):
        windows = _windows(_pad_hw(image, pad), a.kernel, (1, 1))
        return np.einsum("nhwcij,ijcf->nhwf", windows, kernel)
    projected = [conv(x[:, t], p["kernel"], ir.Pad2D(*a.padding[0], *a.padding[1]))
                 + p.get("bias", 0) for t in range(x.shape[1])]

    def step(xw, state):
        h, c = state
        i, f, g, o = np.split(xw + conv(h, p["recurrent_kernel"], same), 4, axis=-1)
        c = gate(f) * c + gate(i) * act(g)
        return gate(o) * act(c), c
    zeros = np.zeros((*projected[0].shape[:3], a.filters))
    return _scan(a, np.stack(projected, axis=1), step, (zeros, zeros))


def gru(a, p, x):
    act, gate = _act(a.activation), _act(a.recurrent_activation)
    bias = p.get("bias", np.zeros((2, 3 * a.units)) if a.reset_after else 0)
    w_r = p["recurrent_kernel"]

    def step(xt, state):
        h = state[0]
        if a.reset_after:
            xz, xr, xh = np.split(xt @ p["kernel"] + bias[0], 3, axis=-1)
            hz, hr, hh = np.split(h @ w_r + bias[1], 3, axis=-1)
            z, r = gate(xz + hz), gate(xr + hr)
            candidate = act(xh + r * hh)
        else:
            xz, xr, xh = np.split(xt @ p["kernel"] + bias, 3, axis=-1)
            u = a.units
            z = gate(xz + h @ w_r[:, :u])
            r = gate(xr + h @ w_r[:, u:2 * u])
            candidate = act(xh + (r * h) @ w_r[:, 2 * u:])
        return (z * h + (1 - z) * candidate,)
    return _scan(a, x, step, (np.zeros((x.shape[0], a.units)),))


OPS = {
    "dense": dense, "activation": activation, "dropout": lambda a, p, x: x,
    **{op: lambda a, p, x: x for op in ("random_flip", "random_affine", "random_contrast",
                                        "random_brightness", "augmentation")},  # at inference
    "flatten": lambda a, p, x: x.reshape(len(x), -1),
    "reshape": lambda a, p, x: x.reshape(len(x), *a.target),
    "conv1d": conv1d, "conv2d": conv2d, "depthwise_conv2d": depthwise_conv2d,
    "conv2d_transpose": conv2d_transpose,
    "max_pool1d": pool1d("max"), "avg_pool1d": pool1d("avg"),
    "max_pool2d": pool2d("max"), "avg_pool2d": pool2d("avg"),
    "global_avg_pool1d": global_pool("mean"), "global_max_pool1d": global_pool("max"),
    "global_avg_pool2d": global_pool("mean"), "global_max_pool2d": global_pool("max"),
    "conv3d": conv3d, "conv3d_transpose": conv3d_transpose,
    "max_pool3d": pool3d("max"), "avg_pool3d": pool3d("avg"),
    "adaptive_max_pool": adaptive_pool(np.max), "adaptive_avg_pool": adaptive_pool(np.mean),
    "global_avg_pool3d": global_pool("mean"), "global_max_pool3d": global_pool("max"),
    "zero_pad3d": lambda a, p, x: np.pad(x, ((0, 0), *a.pairs, (0, 0))),
    "upsample3d": lambda a, p, x: x.repeat(a.size[0], 1).repeat(a.size[1], 2).repeat(a.size[2], 3),
    "zero_pad2d": lambda a, p, x: _pad_hw(x, a.padding), "upsample2d": upsample2d,
    "move_axis": lambda a, p, x: np.transpose(x, (0, *(d + 1 for d in a.dims))),
    "permute": lambda a, p, x: np.transpose(x, (0, *(d + 1 for d in a.dims))),
    "resize_bilinear": resize_bilinear,
    "zero_pad1d": lambda a, p, x: np.pad(x, ((0, 0), (a.padding.left, a.padding.right), (0, 0))),
    "upsample1d": lambda a, p, x: np.repeat(x, a.size, axis=1),
    "batch_norm": batch_norm, "layer_norm": layer_norm, "group_norm": group_norm,
    "embedding": lambda a, p, x: p["embeddings"][x.astype(int)],
    "fold_steps": lambda a, p, x: x.reshape(-1, *x.shape[2:]),
    "unfold_steps": lambda a, p, x: x.reshape(-1, a.steps, *x.shape[1:]),
    "simple_rnn": simple_rnn, "lstm": lstm, "gru": gru, "conv_lstm2d": conv_lstm2d,
    "reverse_steps": lambda a, p, x: x[:, ::-1],
    "add": lambda a, p, *xs: sum(xs), "subtract": lambda a, p, x, y: x - y,
    "multiply": lambda a, p, *xs: math.prod(xs), "average": lambda a, p, *xs: sum(xs) / len(xs),
    "maximum": lambda a, p, *xs: np.maximum.reduce(xs),
    "concatenate": lambda a, p, *xs: np.concatenate(xs, axis=a.axis + 1),
}
