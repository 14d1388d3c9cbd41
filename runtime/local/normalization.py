"""Batch normalisation with fixed statistics (dml_lib's batch_norm2d::forward in mode "test"),
and a relu after it, in one pass over memory.

The DML body makes four passes over the images (subtract the mean, times the inverse standard
deviation, times gamma, plus beta), a relu a fifth; here a range of images at a time, small
enough to stay in cache, goes through the same operations in the same order and precision (so
the same bits) before the next range is read. Ranges run on the kernel workers.
"""
from __future__ import annotations

import numpy as np

from .parallel import run_chunks, split

# the images of one range: about this many bytes, which stay in a core's L2 cache
_RANGE_BYTES = 1 << 19


def inference_vectors(ema_mean: np.ndarray, ema_var: np.ndarray, epsilon: float):
    """(-mean, 1 / sqrt(var + epsilon)) per channel, as the DML body computes them."""
    return -ema_mean, 1 / np.sqrt(ema_var + epsilon)


def batch_norm_inference(X: np.ndarray, C: int, shift: np.ndarray, inv: np.ndarray,
                         gamma: np.ndarray | None, beta: np.ndarray | None,
                         relu: bool = False) -> np.ndarray:
    """((X + shift[c]) * inv[c]) * gamma[c] + beta[c] on every cell of channel c (gamma, beta
    None: left out), then max(., 0) when relu; X is N x C*H*W, the vectors C x 1 of X's dtype."""
    N, cols = X.shape
    planes = X.reshape(N, C, cols // C)
    out = np.empty_like(planes)
    steps = [(np.add, shift), (np.multiply, inv)]
    steps += [(np.multiply, gamma)] if gamma is not None else []
    steps += [(np.add, beta)] if beta is not None else []
    steps = [(op, vector.reshape(1, C, 1)) for op, vector in steps]
    zero = X.dtype.type(0)

    def normalize(first: int, last: int) -> None:
        target = out[first:last]
        source = planes[first:last]
        for op, vector in steps:
            op(source, vector, out=target)
            source = target
        if relu:
            np.maximum(target, zero, out=target)
    per_range = max(1, _RANGE_BYTES // max(1, X.itemsize * cols))
    run_chunks(normalize, split(N, -(-N // per_range)))
    return out.reshape(N, cols)
