"""List builtins: `list(...)` with positional or named elements, and `append`."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..lists import DMLList
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
