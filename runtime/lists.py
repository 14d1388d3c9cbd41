"""DML lists: ordered values of any type, each with an optional name, as SystemDS has them.

`list(a, b)` / `list(w=W, b=b)` build one; `l[i]`, `l[i:j]` and `l["name"]` give a list again
(SystemDS's right indexing keeps the type), which `as.matrix` / `as.scalar` unwrap when it holds
one element. Lists are values: `l[i] = x` writes into a copy, so no other name sees the change.
"""
from __future__ import annotations

import numpy as np

from .errors import DMLRuntimeError
from .values import type_name


class DMLList(list):
    """A DML list; `names[i]` is the name of element i, or None for a positional element."""
    __slots__ = ("names",)

    def __init__(self, values=(), names=None):
        super().__init__(values)
        self.names = list(names) if names is not None else [None] * len(self)

    def position(self, key, name: str) -> int:
        """The 0-based position of a 1-based index or of an element's name."""
        if isinstance(key, str):
            if key not in self.names:
                known = ", ".join(n for n in self.names if n is not None) or "none"
                raise DMLRuntimeError(f"list `{name}` has no element named {key!r} (names: {known})")
            return self.names.index(key)
        if not 1 <= key <= len(self):
            raise DMLRuntimeError(f"index {key} out of bounds for list `{name}` of length {len(self)}")
        return key - 1

    def span(self, bounds, name: str) -> tuple[int, int]:
        """The 0-based [start, stop) of `l[a]`, `l[a:b]` or `l["name"]`."""
        if bounds is None:
            return 0, len(self)
        first, last = bounds
        start, end = self.position(first, name), self.position(last, name)
        if start > end:
            raise DMLRuntimeError(f"empty index range {first}:{last} of list `{name}`")
        return start, end + 1

    def sublist(self, bounds, name: str) -> "DMLList":
        start, stop = self.span(bounds, name)
        return DMLList(self[start:stop], self.names[start:stop])

    def is_named(self) -> bool:
        return any(n is not None for n in self.names)

    def with_element(self, bounds, value, name: str) -> "DMLList":
        """A copy with `l[i] = value` (a one-element list on the right stands for its element)."""
        start, stop = self.span(bounds, name)
        copy = DMLList(self, self.names)
        if isinstance(value, DMLList):
            if len(value) != stop - start:
                raise DMLRuntimeError(f"cannot assign a list of {len(value)} elements into "
                                      f"{stop - start} elements of list `{name}`")
            # as SystemDS: a list replaced whole takes the right's names (none, if it has none);
            # a part takes the names of a named list on the right only into a named list
            # (`l[1] = list(f=2)` renames element 1 to f)
            if stop - start == len(self) or (value.is_named() and self.is_named()):
                copy.names[start:stop] = value.names
            copy[start:stop] = list(value)
        elif stop - start == 1:
            copy[start] = value
        else:
            raise DMLRuntimeError(f"cannot assign a {type_name(value)} into {stop - start} elements "
                                  f"of list `{name}`")
        return copy


def single_element(value, function: str):
    """The element of a one-element list (what `as.matrix(l[1])` converts); other values pass."""
    if not isinstance(value, DMLList):
        return value
    if len(value) != 1:
        raise DMLRuntimeError(f"{function} needs a list of one element, got a list of {len(value)}")
    return value[0]


def list_to_string(items: DMLList, format_matrix, format_scalar) -> str:
    """SystemDS's toString of a list: `List containing:` and the elements in brackets."""
    parts = []
    for item in items:
        if isinstance(item, DMLList):
            parts.append(list_to_string(item, format_matrix, format_scalar))
        elif isinstance(item, np.ndarray):
            parts.append("\nMatrix:\n" + format_matrix(item))
        else:
            parts.append(format_scalar(item))
    if not parts:       # SystemDS drops the last two characters, which for no element are "\n["
        return "List containing:]"
    return "List containing:\n[" + ", ".join(parts) + "]"
