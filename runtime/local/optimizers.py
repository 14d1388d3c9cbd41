"""The optimizer updates of dml_lib's nn/optim (sgd.dml, adam.dml, rmsprop.dml) in one pass
over memory.

update()'s DML body makes five to eleven elementwise passes over a parameter and its state,
each writing a new matrix. Here the same operations, in the same order, on the same operands
(numpy's ufuncs with the numbers as the interpreter passes them: see operators.py) run on a few
rows at a time on the kernel workers, so the intermediates stay in cache: the same bits, and
each input is read once and each output written once. The parameter and its state are written
into their own buffers when nothing else holds them (the generated scripts reassign them with
the call's outputs, so their old values are dead: inplace.free decides, by reference count).

Where the native kernels are built (native/optimizer_kernels.h), each block of rows is one
call that does every cell's operations in the same order and rounding, so the same bits again
without a numpy call per operation and block; the numpy passes below stay the reference the
tests hold them to and the path without the library.
"""
from __future__ import annotations

import numpy as np

from . import native
from .elementwise import row_blocks

# cells per native call: no intermediates to keep in cache, only the workers to share among
_NATIVE_CELLS = 1 << 20


def _output(array: np.ndarray, in_place: bool) -> np.ndarray:
    return array if in_place else np.empty_like(array)


def _native_pass(kernel, arrays: tuple, numbers: tuple, **flags: int):
    """A rows_pass calling `kernel` on each block of rows of the arrays (the update's inputs,
    then its outputs), or None where the native kernels are off or an array is not contiguous."""
    if not native.enabled() or not all(a.flags.c_contiguous for a in arrays):
        return None
    constants = np.array(numbers, dtype=arrays[0].dtype)   # as numpy casts a Python number

    def rows_pass(r: slice) -> None:
        kernel(*(a[r] for a in arrays), constants, **flags)
    return rows_pass


def _run(rows_pass, native_pass, X: np.ndarray) -> None:
    if native_pass is not None:
        row_blocks(X.shape[0], X.shape[1], native_pass, _NATIVE_CELLS)
    else:
        row_blocks(X.shape[0], X.shape[1], rows_pass)


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
    native_pass = _native_pass(native.sgd_update, (X, dX, v, X_out, v_out),
                               (lr, momentum, weight_decay), momentum=int(momentum != 0),
                               nesterov=int(bool(nesterov)), decay=int(weight_decay != 0))
    _run(rows_pass, native_pass, X)
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
    native_pass = _native_pass(native.adam_update, (X, dX, m, v, X_out, m_out, v_out),
                               (lr, alpha, keep1, keep2, epsilon, weight_decay),
                               decay=int(weight_decay != 0))
    _run(rows_pass, native_pass, X)
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
    native_pass = _native_pass(native.rmsprop_update, (X, dX, s, mom, X_out, s_out, mom_out),
                               (lr, rho, keep, momentum, epsilon, weight_decay),
                               momentum=int(momentum > 0), decay=int(weight_decay != 0))
    _run(rows_pass, native_pass, X)
    return [X_out, s_out, mom_out]


def _decayed(x: np.ndarray, weight_decay, lr) -> np.ndarray:
    """X - X * weight_decay * lr (a new array), or X itself without weight decay."""
    if weight_decay == 0:
        return x
    decay = np.multiply(x, weight_decay)
    np.multiply(decay, lr, out=decay)
    return np.subtract(x, decay, out=decay)
