"""The optimizer updates of dml_lib's nn/optim (sgd.dml, adam.dml, rmsprop.dml) in one pass
over memory.

update()'s DML body makes five to eleven elementwise passes over a parameter and its state,
each writing a new matrix. Here the same operations, in the same order, on the same operands
(numpy's ufuncs with the numbers as the interpreter passes them: see operators.py) run on a few
rows at a time on the kernel workers, so the intermediates stay in cache: the same bits, and
each input is read once and each output written once. The parameter and its state are written
into their own buffers when nothing else holds them (the generated scripts reassign them with
the call's outputs, so their old values are dead: inplace.free decides, by reference count).
"""
from __future__ import annotations

import numpy as np

from .elementwise import row_blocks


def _output(array: np.ndarray, in_place: bool) -> np.ndarray:
    return array if in_place else np.empty_like(array)


def sgd(X, dX, lr, momentum, nesterov: bool, weight_decay, v, in_place_X: bool, in_place_v: bool):
    """[X, v] of sgd::update."""
    X_out = _output(X, in_place_X)
    v_out = _output(v, in_place_v) if momentum != 0 else v

    def rows_pass(r: slice) -> None:
        x = _decayed(X[r], weight_decay, lr)
        step = np.multiply(dX[r], lr)                            # dX * lr
        if momentum == 0:
            np.subtract(x, step, out=X_out[r])                   # X - dX * lr
            return
        velocity = np.multiply(v[r], momentum, out=v_out[r])
        np.subtract(velocity, step, out=velocity)                # v = v * momentum - dX * lr
        if nesterov:
            ahead = np.multiply(velocity, momentum)
            np.subtract(ahead, step, out=ahead)
            np.add(x, ahead, out=X_out[r])                       # X + (v * momentum - dX * lr)
        else:
            np.add(x, velocity, out=X_out[r])                    # X + v
    row_blocks(X.shape[0], X.shape[1], rows_pass)
    return [X_out, v_out]


def adam(X, dX, lr, alpha, keep1, keep2, epsilon, weight_decay, m, v,
         in_place: tuple[bool, bool, bool]):
    """[X, m, v] of adam::update without amsgrad; `alpha`, `keep1` (1 - beta1) and `keep2`
    (1 - beta2) computed by the caller as the DML body computes them."""
    X_out, m_out, v_out = (_output(a, own) for a, own in zip((X, m, v), in_place))

    def rows_pass(r: slice) -> None:
        x, g = _decayed(X[r], weight_decay, lr), dX[r]
        moved = np.subtract(g, m[r])
        np.multiply(moved, keep1, out=moved)
        first = np.add(m[r], moved, out=m_out[r])                # m + (dX - m) * (1 - beta1)
        squared = np.power(g, 2)
        np.subtract(squared, v[r], out=squared)
        np.multiply(squared, keep2, out=squared)
        second = np.add(v[r], squared, out=v_out[r])             # v + (dX^2 - v) * (1 - beta2)
        step = np.multiply(first, alpha)
        root = np.sqrt(second)
        np.add(root, epsilon, out=root)
        np.true_divide(step, root, out=step)
        np.subtract(x, step, out=X_out[r])                       # X - (m * alpha) / (sqrt(v) + epsilon)
    row_blocks(X.shape[0], X.shape[1], rows_pass)
    return [X_out, m_out, v_out]


def rmsprop(X, dX, lr, rho, keep, momentum, epsilon, weight_decay, s, mom,
            in_place: tuple[bool, bool, bool]):
    """[X, s, mom] of rmsprop::update without centering; `keep` is 1 - rho, computed by the
    caller as the DML body computes it."""
    X_out, s_out = _output(X, in_place[0]), _output(s, in_place[1])
    mom_out = _output(mom, in_place[2]) if momentum > 0 else mom

    def rows_pass(r: slice) -> None:
        x, g = _decayed(X[r], weight_decay, lr), dX[r]
        squared = np.power(g, 2)
        np.multiply(keep, squared, out=squared)
        mean = np.multiply(rho, s[r], out=s_out[r])
        np.add(mean, squared, out=mean)                          # s = rho * s + (1 - rho) * dX^2
        denominator = np.add(mean, epsilon)
        np.sqrt(denominator, out=denominator)
        increment = np.multiply(lr, g)
        np.true_divide(increment, denominator, out=increment)    # (lr * dX) / sqrt(s + epsilon)
        if momentum > 0:
            velocity = np.multiply(momentum, mom[r], out=mom_out[r])
            np.add(velocity, increment, out=velocity)            # mom = momentum * mom + increment
            np.subtract(x, velocity, out=X_out[r])               # X - mom
        else:
            np.subtract(x, increment, out=X_out[r])              # X - increment
    row_blocks(X.shape[0], X.shape[1], rows_pass)
    return [X_out, s_out, mom_out]


def _decayed(x: np.ndarray, weight_decay, lr) -> np.ndarray:
    """X - X * weight_decay * lr (a new array), or X itself without weight decay."""
    if weight_decay == 0:
        return x
    decay = np.multiply(x, weight_decay)
    np.multiply(decay, lr, out=decay)
    return np.subtract(x, decay, out=decay)
