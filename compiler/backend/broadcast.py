"""DML for Keras' broadcasting between per-sample shapes, in DML's layouts.

A tensor of per-sample shape `small` broadcasts to `full` (numpy's rules: `small` is padded with
leading 1s, and each of its axes is 1 or equal to full's). DML holds one sample per row, images
channels first ((C, H, W) flattened), everything else in Keras' row-major order. `expand` writes
the lines that repeat the small tensor's values into full's layout, one broadcast axis at a time
from the innermost (adjacent broadcast axes count as one): with b values already laid out after
the axis, every block of b values is repeated s times (b = 1: a product with a row of ones;
b > 1: a product with a 0/1 tiling matrix of b x s*b). `reduce` writes the backward: the sums
over the repeated copies, in reverse order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


def dml_order(shape: tuple) -> tuple:
    """The per-sample axes of a Keras shape in the order DML lays them out."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


def can_broadcast(small: tuple, full: tuple) -> bool:
    """Whether `small` broadcasts to `full` with a layout expand can write (a lower-rank small
    tensor must not need reordering: at most one of its axes larger than 1 next to an image)."""
    if len(small) > len(full):
        return False
    padded = (1,) * (len(full) - len(small)) + tuple(small)
    if any(s not in (1, f) for s, f in zip(padded, full)):
        return False
    reordered = len(full) == 3 and len(small) < 3
    return not reordered or sum(s > 1 for s in small) <= 1


@dataclass(frozen=True)
class Repeat:
    """One broadcast axis: per sample, `outer` blocks of `inner` values, each repeated `times`."""
    outer: int
    times: int
    inner: int


def repeats(small: tuple, full: tuple) -> tuple:
    """The Repeat steps from the innermost broadcast axis outwards."""
    # a lower-rank small tensor next to an image has at most one axis above 1 (can_broadcast),
    # so its Keras-order values are also in the padded image's channels-first order
    padded = (1,) * (len(full) - len(small)) + tuple(small)
    small_dml, full_dml = dml_order(padded), dml_order(full)
    steps, inner, previous = [], 1, None
    for axis in range(len(full_dml) - 1, -1, -1):
        if small_dml[axis] != full_dml[axis]:
            if previous == axis + 1:    # next to the last broadcast axis: one repeat for both
                last = steps.pop()      # (a squeeze-and-excite scale over H and W: no tiling)
                steps.append(Repeat(math.prod(small_dml[:axis]), last.times * full_dml[axis],
                                    last.inner))
            else:
                steps.append(Repeat(math.prod(small_dml[:axis]), full_dml[axis], inner))
            previous = axis
        inner *= full_dml[axis]
    return tuple(steps)


def tiling(inner: int, times: int) -> str:
    """The inner x (times*inner) 0/1 matrix that lays a row of `inner` values `times` times."""
    width = inner * times
    return (f"table(((seq(1, {width}) - 1) %% {inner}) + 1, seq(1, {width}), "
            f"{inner}, {width})")


def expand(source: str, target: str, small: tuple, full: tuple) -> list:
    """Lines setting `target` (N x size(full)) from `source` (N x size(small))."""
    current, lines = source, []
    for step in repeats(small, full):
        block = f"matrix({current}, rows=nrow({source}) * {step.outer}, cols={step.inner})"
        spread = (f"{block} %*% matrix(1, rows=1, cols={step.times})" if step.inner == 1
                  else f"{block} %*% {tiling(step.inner, step.times)}")
        width = step.outer * step.times * step.inner
        lines.append(f"{target} = matrix({spread}, rows=nrow({source}), cols={width})")
        current = target
    if not lines:
        lines.append(f"{target} = {source}")
    return lines


def reduce(source: str, target: str, small: tuple, full: tuple) -> list:
    """Lines setting `target` (N x size(small)), the gradient of expand's input, from `source`,
    the gradient of its output (N x size(full))."""
    current, lines = source, []
    for step in reversed(repeats(small, full)):
        block = (f"matrix({current}, rows=nrow({source}) * {step.outer}, "
                 f"cols={step.times * step.inner})")
        summed = (f"rowSums({block})" if step.inner == 1
                  else f"{block} %*% t({tiling(step.inner, step.times)})")
        lines.append(f"{target} = matrix({summed}, rows=nrow({source}), "
                     f"cols={step.outer * step.inner})")
        current = target
    if not lines:
        lines.append(f"{target} = {source}")
    return lines
