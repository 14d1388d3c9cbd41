"""The builtin-function table: each DML builtin is a Python function registered by name.

Python parameter names are the DML argument names, with '.' spelled '_' (index.return ->
index_return), so a call's positional and named arguments bind as Python binds them.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from ..errors import DMLRuntimeError


@dataclass(frozen=True)
class Builtin:
    name: str
    function: Callable
    signature: inspect.Signature
    needs_context: bool  # called with the run's Context as first argument
    keeps_inputs: bool   # its result may share memory with a matrix argument
    needs_caller: bool = False  # then also called with the calling module's FunctionRefs
    takes_distributed: bool = False  # given distributed matrices as they are, not collected
    outputs: int = 1  # how many values it returns (a tuple when more than one: [a, b] = f(...))
    script: bool = False  # one SystemDS writes in DML: `y = f(...)` takes its first output there

    @property
    def called_as(self) -> str:
        """The name DML calls it by: internal variants of a builtin are registered under the
        name plus a suffix from `=` on (elementwise.ASSIGNED_IFELSE)."""
        return self.name.partition("=")[0]

    def dml_parameters(self) -> list:
        """The signature's parameters that DML calls bind (not the context or the caller)."""
        skipped = (1 if self.needs_context else 0) + (1 if self.needs_caller else 0)
        return list(self.signature.parameters.values())[skipped:]

    def parameter_names(self) -> list[str]:
        return [p.name for p in self.dml_parameters()]

    def check_call(self, positional: int, named: list[str]) -> None:
        """Validates a call's shape (argument count and names) before the program runs."""
        if named and positional == 0 and self.called_as in POSITIONAL_FIRST:
            raise DMLRuntimeError(f"builtin `{self.called_as}` takes its first argument by position, "
                                  f"not as `{named[0]}=` (SystemDS reads {self.called_as}({named[0]}=...) "
                                  f"as a call of an undefined function)")
        params = self.dml_parameters()
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        accepts_any_name = any(p.kind is p.VAR_KEYWORD for p in params)
        slots = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
        if positional > len(slots) and not variadic:
            raise DMLRuntimeError(f"builtin `{self.called_as}` takes at most {len(slots)} positional "
                                  f"arguments, got {positional}")
        known = {p.name for p in params if p.kind is not p.VAR_POSITIONAL}
        for name in named:
            python_name = python_parameter(name)
            if python_name not in known and not accepts_any_name:
                raise DMLRuntimeError(f"builtin `{self.called_as}` has no parameter `{name}`; its parameters "
                                      f"are {', '.join(display_parameter(p) for p in self.parameter_names())}")
            if python_name in {p.name for p in slots[:positional]}:
                raise DMLRuntimeError(f"builtin `{self.called_as}` got parameter `{name}` twice")
        given = {p.name for p in slots[:positional]} | {python_parameter(x) for x in named}
        missing = [p.name for p in params
                   if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                   and p.name not in given]
        if missing:
            raise DMLRuntimeError(f"builtin `{self.called_as}` is missing argument "
                                  f"{', '.join('`' + display_parameter(m) + '`' for m in missing)}")


BUILTINS: dict[str, Builtin] = {}

# SystemDS' native builtins that are not "parameterized" (its Builtins table): a call whose first
# argument is named is not a call of the builtin there ("function sum is undefined in namespace
# .builtinNS"), while names on later arguments are accepted (max(3, y=2), solve(A, b=b)). The
# parameterized ones (order, removeEmpty, toString, ...), rand/matrix/read/write and the builtins
# SystemDS writes in DML take named arguments.
POSITIONAL_FIRST = frozenset((
    "abs acos append as.double as.integer as.list as.logical as.matrix as.scalar asin atan avg_pool "
    "avg_pool_backward bias_add bias_multiply bitwAnd bitwOr bitwShiftL bitwShiftR bitwXor "
    "castAsScalar cbind ceil ceiling centralMoment cholesky colCountDistinct colMaxs colMeans colMins "
    "colProds colSds colSums colVars compress conv2d conv2d_backward_data conv2d_backward_filter cos "
    "cosh cov cummax cummin cumprod cumsum cumsumprod decompress det diag eigen eval evalList exists "
    "exp floor ifelse interQuartileMean inv inverse is.infinite is.na is.nan isInf isNA isNaN length "
    "log lu max max_pool max_pool_backward mean median min moment ncol nrow outer pmax pmin ppred "
    "prod qr quantile rbind remove rev roll round "
    "rowCountDistinct rowcumsum rowIndexMax rowIndexMin rowMaxs rowMeans rowMins rowProds rowSds rowSums "
    "rowVars sample sd seq sign sin sinh solve sqrt sum svd t table tan tanh time trace var xor"
).split())


def python_parameter(dml_name: str) -> str:
    return dml_name.replace(".", "_")


def display_parameter(python_name: str) -> str:
    return python_name.replace("_", ".") if python_name in DOTTED_PARAMETERS else python_name


DOTTED_PARAMETERS = {"index_return", "lower_tail", "empty_return"}


def builtin(*names: str, context: bool = False, keeps_inputs: bool = False, caller: bool = False,
            distributed: bool = False, outputs: int = 1, script: bool = False):
    """Registers the decorated function under each DML name; names must be unique. `caller`:
    the function also receives the calling module's FunctionRefs (after the context), to call
    DML functions given by name. `distributed`: the planner does not route its calls; the
    function receives distributed matrices as they are (paramserv keeps them on Spark).
    `outputs`: a function returning several values returns them as a tuple. `script`: one of
    the builtins SystemDS writes in DML (scripts/builtin), done natively here (script_builtin)."""
    def register(function: Callable) -> Callable:
        signature = inspect.signature(function)
        for name in names:
            if name in BUILTINS:
                raise ValueError(f"builtin {name!r} is registered twice")
            BUILTINS[name] = Builtin(name, function, signature, context, keeps_inputs, caller,
                                     distributed, outputs, script)
        return function
    return register


def script_builtin(*names: str, **options):
    """builtin() for one SystemDS writes in DML: assigned to one variable, a call of several
    outputs gives its first, as SystemDS assigns such a function's (`Y = scale(X=X)`)."""
    return builtin(*names, script=True, **options)


def lookup(name: str) -> Builtin | None:
    return BUILTINS.get(name)
