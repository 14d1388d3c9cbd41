"""List builtins: `list(...)` with positional or named elements, `append`, `remove` and
`as.list`."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..values import to_int, type_name
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
    # as SystemDS: a one-element list on the right adds its element (named, if the target is
    # named); any other list, empty too, is added whole as one nested element
    if isinstance(value, DMLList) and len(value) == 1:
        name = value.names[0] if target.is_named() else None
        return DMLList(list(target) + [value[0]], target.names + [name])
    return DMLList(list(target) + [value], target.names + [None])


@builtin("remove", keeps_inputs=True, outputs=2)
def remove(target, index):
    """`[L2, e] = remove(L, i)`: L without its i-th element (the other names kept), and a list
    holding the removed element alone, without its name (as SystemDS returns it)."""
    if not isinstance(target, DMLList):
        raise DMLRuntimeError(f"remove needs a list as its first argument, got {type_name(target)}")
    # SystemDS takes the index as a long: doubles truncate, TRUE is 1; it has no removal by name
    if isinstance(index, str) or not isinstance(index, (bool, int, float)):
        raise DMLRuntimeError(f"remove needs a number as the index, got {type_name(index)}")
    position = to_int(index, "remove's index")
    if not 1 <= position <= len(target):
        raise DMLRuntimeError(f"remove: index {position} is out of bounds for a list of length "
                              f"{len(target)}")
    kept = [i for i in range(len(target)) if i != position - 1]
    return (DMLList([target[i] for i in kept], [target.names[i] for i in kept]),
            DMLList([target[position - 1]]))


@builtin("as.list", keeps_inputs=True)
def as_list(target):
    """A list as it is (its elements and names), except that a list holding one list alone is
    unnested to that inner list (`as.list(l[1])` where l[1] is a list); SystemDS casts nothing
    else to a list."""
    if not isinstance(target, list):
        raise DMLRuntimeError(f"as.list needs a list, got {type_name(target)} (SystemDS casts only "
                              "lists with as.list; build one with list(...))")
    if len(target) == 1 and isinstance(target[0], DMLList):
        target = target[0]
    return DMLList(list(target), getattr(target, "names", None))
