"""Kernels for DML's DNN builtins (conv2d, pooling, bias), SystemDS semantics.

This module is the kernels' one entry point (the builtins and the planner call these
functions); the work is done in conv.py (convolutions) and pooling.py, in numpy, or in the
native kernels where they are built (native.py; conv.py and pooling.py choose).

Layout, as in SystemDS: a batch of images is an N x (C*H*W) matrix, one image per
row, channels first, each channel's H x W plane flattened row-major. Outputs use
the same layout: N x (F*Hout*Wout) with

    Hout = (H + 2*ph - Hf) // sh + 1,   Wout = (W + 2*pw - Wf) // sw + 1

(integer division, so a stride that does not divide evenly drops the last rows
and columns, as SystemDS does). A filter bank is an F x (C*Hf*Wf) matrix.

Everything is computed on the whole batch at once: the convolutions are BLAS
matrix products over im2col patches copied chunk by chunk from a strided view;
the backward data pass is a matrix product followed by a col2im that accumulates
one slicing add per kernel offset. Pooling works on strided views of the
(padded) planes. The only Python loops run over chunks of images and over
kernel/pool offsets (Hf*Wf steps at most).

Summary of SystemDS's semantics (details in each function's docstring):
max_pool pads with -Double.MAX_VALUE; max_pool_backward gives a window's whole
gradient to the first maximum in row-major order; avg_pool pads with zeros and
always divides by pool_h*pool_w (padded cells count).

Dtypes are preserved: float32 inputs give float32 outputs, float64 give float64
(mixed inputs follow numpy's promotion; non-float inputs compute in float64).

Facts about SystemDS 3.4.0 that these kernels reproduce (checked by running it;
see tests/runtime/local/fixtures/dnn/make_fixtures.dml):
  * All shape arguments are required for the pools too: max_pool without stride=
    or padding= is a validation error ("Expected stride1 to be expanded"). Any
    stride and padding are accepted with any pool_size, including padding >=
    pool_size (windows that lie wholly in the padding).
  * nrow(X) must equal N of input_shape and ncol(X) must equal C*H*W
    ("Incorrect dimensions in DnnOp: 9 != 10"); ncol(W) must equal C*Hf*Wf with C
    taken from input_shape; ncol(dout) must equal F*Hout*Wout (or C*Hout*Wout).
  * A padded image smaller than the filter/pool is refused ("padded image
    height:3 cannot be less than filter_height:4"); negative padding is refused;
    stride 0 crashes with "/ by zero". All of these raise DMLRuntimeError here.
"""
from __future__ import annotations

import numpy as np

from .conv import conv2d, conv2d_backward_data, conv2d_backward_filter
from .geometry import fail, float_dtype
from .parallel import run_chunks, split
from .pooling import avg_pool, avg_pool_backward, max_pool, max_pool_backward

__all__ = [
    "conv2d", "conv2d_backward_filter", "conv2d_backward_data",
    "max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward",
    "bias_add", "bias_multiply",
]


# bias_add/bias_multiply of at least this many cells run on ranges of rows on the workers
_BIAS_PARALLEL_CELLS = 1 << 16
_BIAS_CHUNKS = 4


def _bias(b: str, X, bias, op, out=None) -> np.ndarray:
    X = np.asarray(X)
    bias = np.asarray(bias)
    dt = float_dtype(X, bias)
    if X.ndim != 2:
        raise fail(b, f"input X must be a matrix, got an array with {X.ndim} dimensions")
    if bias.ndim != 2 or bias.shape[1] != 1:
        shape = " x ".join(map(str, bias.shape))
        raise fail(b, f"bias must be a column vector (F x 1), got {shape}")
    N, cols = X.shape
    F = bias.shape[0]
    if F == 0 or cols % F != 0:
        raise fail(b, f"input X has {cols} columns, not a multiple of the bias's {F} rows")
    X3 = X.astype(dt, copy=False).reshape(N, F, cols // F)
    b3 = bias.astype(dt, copy=False).reshape(1, F, 1)
    out = np.empty((N, F, cols // F), dtype=dt) if out is None else out.reshape(N, F, cols // F)
    run_chunks(lambda first, last: op(X3[first:last], b3, out=out[first:last]),
               split(N, _BIAS_CHUNKS if X.size >= _BIAS_PARALLEL_CELLS else 1))
    return out.reshape(N, cols)


def bias_add(X, b, out=None) -> np.ndarray:
    """X (N x F*H*W) plus b[f] (b is F x 1) on every cell of channel f (into out, an array
    of X's shape and dtype that may be X, when given)."""
    return _bias("bias_add", X, b, np.add, out)


def bias_multiply(X, b, out=None) -> np.ndarray:
    """X (N x F*H*W) times b[f] (b is F x 1) on every cell of channel f (into out, as
    bias_add)."""
    return _bias("bias_multiply", X, b, np.multiply, out)
