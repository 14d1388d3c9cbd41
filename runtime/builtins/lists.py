"""List builtins: `list(...)` with positional or named elements, `append`, and `as.list`."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..values import type_name
from .registry import builtin


@builtin("list", keeps_inputs=True)
def list_(*values, **named):
    """Positional elements first, then the named ones in the order written."""
    return DMLList(list(values) + list(named.values()),
                   [None] * len(values) + list(named.keys()))


@builtin("append", keeps_inputs=True)
def append(target, value):
    if not isinstance(target, DMLList):
        raise DMLRuntimeError("append needs a list as its first argument (use cbind/rbind for "
                              "matrices)")
    if isinstance(value, DMLList):
        return DMLList(list(target) + list(value), target.names + value.names)
    return DMLList(list(target) + [value], target.names + [None])


@builtin("as.list", keeps_inputs=True)
def as_list(target):
    """A list as it is (its elements and names); SystemDS casts nothing else to a list."""
    if not isinstance(target, list):
        raise DMLRuntimeError(f"as.list needs a list, got {type_name(target)} (SystemDS casts only "
                              "lists with as.list; build one with list(...))")
    return DMLList(list(target), getattr(target, "names", None))
