"""Which elements of the model list a worker's `upd` function reads, so the server sends only those.

The model list that paramserv trains usually carries more than `upd` needs: the generated
scripts keep the optimizer's state (momentum, Adam's moments), the step and the metric sums in
it for `agg`. A worker that only calls `upd` (an exchange every batch, no model averaging)
never looks at them, so the server replaces them by empty matrices in what it sends, which
halves what travels per update for SGD with momentum and leaves a third for Adam. The analysis
is conservative: when `upd` uses the list in any way other than `model[constant]` (passes it
on, assigns it, measures it, indexes it by a variable or a range), every element is sent.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import nodes as n
from ..lists import DMLList

_REBINDING = (n.Assign, n.IndexAssign)


def positions_read(function, parameter: str = "model") -> frozenset | None:
    """The constant indexes (1-based numbers or names) of `parameter` that the function's
    body reads, or None when it may read any element."""
    found: set = set()
    for node in ast_nodes(function.definition.body):
        if isinstance(node, n.Var) and node.name == parameter:
            return None
        if isinstance(node, _REBINDING) and node.name == parameter:
            return None
        if isinstance(node, n.MultiAssign) and parameter in node.names:
            return None
        if isinstance(node, n.For) and node.var == parameter:
            return None
        if isinstance(node, n.Index) and node.name == parameter:
            key = _constant_key(node)
            if key is None:
                return None
            found.add(key)
    return frozenset(found)


def _constant_key(index: n.Index):
    rows, cols = index.rows, index.cols
    if rows.is_range or not isinstance(rows.lower, n.Literal) or rows.upper is not None:
        return None
    if cols.lower is not None or cols.upper is not None:
        return None
    value = rows.lower.value
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def ast_nodes(value):
    """Every AST node under `value` (a node, or a tuple of them), depth first."""
    if isinstance(value, tuple):
        for item in value:
            yield from ast_nodes(item)
    elif isinstance(value, n.Node):
        yield value
        for field in dataclasses.fields(value):
            yield from ast_nodes(getattr(value, field.name))


def trimmed(model: DMLList, reads: frozenset | None) -> DMLList:
    """The model with the elements `upd` does not read replaced by empty matrices (positions
    and names unchanged, so `model[i]` and `model["name"]` still find theirs)."""
    if reads is None:
        return model
    keep = {key - 1 if isinstance(key, int) else None for key in reads}
    keep |= {i for i, name in enumerate(model.names) if name is not None and name in reads}
    return DMLList([value if i in keep or not isinstance(value, np.ndarray)
                    else np.empty((0, 0), dtype=value.dtype) for i, value in enumerate(model)],
                   model.names)
