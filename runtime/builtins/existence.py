"""`exists(X)`: whether a variable is defined.

SystemDS looks the name up in its runtime symbol table. A matrix or list argument is a defined
variable (an undefined one is an error before the program runs), so the answer is TRUE. A string
or other scalar names the variable to look for, and whether SystemDS finds it depends on its
compiler (constant propagation, live variables, statement blocks: `x = 3; exists("x")` is FALSE
there), which kerasdml does not reproduce, so that form is refused."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..values import is_any_matrix, type_name
from .registry import builtin


@builtin("exists", distributed=True)
def exists(x):
    if is_any_matrix(x) or isinstance(x, list):
        return True
    raise DMLRuntimeError(f"exists of a {type_name(x)} is not supported: kerasdml answers exists(X) "
                          "for a matrix or list variable X only (SystemDS's answer for a variable "
                          "name given as a string depends on how it compiled the script)")
