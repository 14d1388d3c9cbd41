"""Add, Subtract, Multiply, Average, Maximum and Concatenate."""
from __future__ import annotations

from ..registry import op_template
from ..step import Step, Unsupported, size

_SYMBOLS = {"add": " + ", "subtract": " - ", "multiply": " * "}


@op_template(("add", "subtract", "multiply", "average", "maximum"), "merge.dml.j2")
def merge(n: Step) -> dict:
    op = n.node.op
    # Maximum of k inputs is a chain of pairwise maxima m_j = max(m_{j-1}, x_j), as in Keras; the
    # backward pass walks it back (on ties the earlier input gets the gradient)
    maxima = [n.xs[0]] + [f"{n.out}_max{j}" for j in range(2, len(n.xs))] + [n.out]
    others = [" * ".join(x for j, x in enumerate(n.xs) if j != i) for i in range(len(n.xs))]
    return dict(op=op, joined=_SYMBOLS.get(op, " + ").join(n.xs), count=len(n.xs),
                others=others, maxima=maxima)


@op_template("concatenate", "concatenate.dml.j2")
def concatenate(n: Step) -> dict:
    """Along the axis DML keeps whole: the channels of images (channels-first rows), the steps of
    sequences, vectors; along features of sequences, per step."""
    rank, axis = len(n.out_shape), n.a.axis
    if rank == 3 and axis != 2:
        raise Unsupported("axis", axis + 1, "-1 (the channel axis) for images")
    widths = [size(s) for s in n.in_shapes]
    per_step = rank == 2 and axis == 1
    if per_step:
        widths = [s[1] for s in n.in_shapes]
    bounds, start = [], 1
    for width in widths:
        bounds.append((start, start + width - 1))
        start += width
    return dict(per_step=per_step, T=n.out_shape[0] if per_step else 1, bounds=bounds,
                total=sum(widths), widths=widths)
