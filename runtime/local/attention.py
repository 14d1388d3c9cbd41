"""The heads of dml_lib's multi_head_attention.dml (heads() and heads_backward()) for all
samples and heads at once.

The DML bodies loop over samples and heads: a transformer layer at batch 32 with 8 heads runs
their dozen statements 256 times per call, and the interpreter's work per statement outweighs
the Tq x Tk products. Here each block of samples is a few stacked numpy operations over
(samples, heads, steps, ...) views of the same matrices, the blocks shared by the kernel
workers. The operations are the body's, in its order (scores plus penalty, softmax as
exp(S - rowMax) / rowSum, probabilities times the dropout factors, the products); the products
are BLAS calls per head where the body's go through the interpreter's `%*%` (which sums small
double products in SystemDS's order), so results agree with the body to rounding, not bit for
bit: measured within 1.7e-15 (double) and 6.4e-7 (single) of the largest value of each output
(tests/runtime/local/test_attention_heads.py holds them to it).
"""
from __future__ import annotations

import numpy as np

from .parallel import run_chunks, split, workers

# score cells per block of samples: its temporaries stay in the L2 cache
_BLOCK_CELLS = 1 << 16


def _sample_blocks(count: int, cells_per_sample: int) -> list[tuple[int, int]]:
    per_block = max(1, _BLOCK_CELLS // max(cells_per_sample, 1))
    pieces = max(workers(), -(-count // per_block))
    return split(count, min(pieces, count))


def _per_head(matrix: np.ndarray, samples: int, steps: int, heads: int) -> np.ndarray:
    """(samples*steps) x (heads*d) as a samples x heads x steps x d view."""
    return matrix.reshape(samples, steps, heads, -1).transpose(0, 2, 1, 3)


def _joined(per_head: np.ndarray, out: np.ndarray, first: int, last: int, steps: int) -> None:
    """Writes samples first..last-1 of a samples x heads x steps x d array into their rows of
    out ((samples*steps) x (heads*d))."""
    _per_head(out[first * steps:last * steps], last - first, steps, per_head.shape[1])[...] = per_head


def heads(Q, K, V, penalty, F, H: int, Tq: int, Tk: int) -> list[np.ndarray]:
    """[P, C] of heads(): P N x (H*Tq*Tk), C (N*Tq) x (H*dv)."""
    N = penalty.shape[0]
    P = np.empty((N, H * Tq * Tk), dtype=Q.dtype)
    C = np.empty((N * Tq, V.shape[1]), dtype=Q.dtype)

    def block(first: int, last: int) -> None:
        n = last - first
        q = _per_head(Q[first * Tq:last * Tq], n, Tq, H)
        k = _per_head(K[first * Tk:last * Tk], n, Tk, H)
        v = _per_head(V[first * Tk:last * Tk], n, Tk, H)
        scores = np.matmul(q, k.transpose(0, 1, 3, 2))
        np.add(scores, penalty[first:last].reshape(n, 1, Tq, Tk), out=scores)
        np.subtract(scores, scores.max(axis=3, keepdims=True), out=scores)
        np.exp(scores, out=scores)
        probabilities = P[first:last].reshape(n, H, Tq, Tk)
        np.divide(scores, scores.sum(axis=3, keepdims=True), out=probabilities)
        dropped = np.multiply(probabilities, F[first:last].reshape(n, H, Tq, Tk), out=scores)
        _joined(np.matmul(dropped, v), C, first, last, Tq)
    run_chunks(block, _sample_blocks(N, H * Tq * Tk))
    return [P, C]


def heads_backward(dC, P, F, Q, K, V, H: int, Tq: int, Tk: int) -> list[np.ndarray]:
    """[dQ, dK, dV] of heads_backward()."""
    N = P.shape[0]
    dQ, dK, dV = (np.empty(X.shape, dtype=X.dtype) for X in (Q, K, V))

    def block(first: int, last: int) -> None:
        n = last - first
        q = _per_head(Q[first * Tq:last * Tq], n, Tq, H)
        k = _per_head(K[first * Tk:last * Tk], n, Tk, H)
        v = _per_head(V[first * Tk:last * Tk], n, Tk, H)
        dc = _per_head(dC[first * Tq:last * Tq], n, Tq, H)
        probabilities = P[first:last].reshape(n, H, Tq, Tk)
        factors = F[first:last].reshape(n, H, Tq, Tk)
        dropped = probabilities * factors
        _joined(np.matmul(dropped.transpose(0, 1, 3, 2), dc), dV, first, last, Tk)
        d_probabilities = np.matmul(dc, v.transpose(0, 1, 3, 2))
        np.multiply(d_probabilities, factors, out=d_probabilities)
        # the softmax Jacobian, from the probabilities: P * (dP - rowSums(dP * P))
        weighted = np.multiply(d_probabilities, probabilities, out=dropped)
        np.subtract(d_probabilities, weighted.sum(axis=3, keepdims=True), out=d_probabilities)
        d_scores = np.multiply(probabilities, d_probabilities, out=d_probabilities)
        _joined(np.matmul(d_scores, k), dQ, first, last, Tq)
        _joined(np.matmul(d_scores.transpose(0, 1, 3, 2), q), dK, first, last, Tk)
    run_chunks(block, _sample_blocks(N, H * Tq * Tk))
    return [dQ, dK, dV]
