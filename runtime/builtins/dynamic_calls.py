"""`eval(fname, args...)` and `evalList(fname, args...)`: call the DML function that a string
names ("fn", "ns::fn" or "path/file.dml::fn", as paramserv names functions: function_refs.py).

As in SystemDS, the arguments bind by position and must fill every parameter; a single list
argument instead holds the arguments (unless the function takes one list parameter): a named
list binds by name, a positional one in order, and either may leave out scalar parameters that
have defaults. `eval` returns the function's first output as a matrix (a number becomes a 1x1
matrix); `evalList` returns all outputs as a list named by the function's output names."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..values import is_any_matrix, to_matrix, type_name
from .registry import builtin


# keeps_inputs: the arguments go to a DML function, which may return them as they are
@builtin("eval", context=True, caller=True, distributed=True, keeps_inputs=True)
def eval_(context, refs, fname, *args, **named):
    _, outputs = _call("eval", refs, fname, args, named)
    if not outputs:
        raise DMLRuntimeError(f"eval: function `{fname}` returns nothing; eval returns its first "
                              "output")
    first = outputs[0]
    if is_any_matrix(first):
        return first
    if isinstance(first, (bool, int, float)):
        return to_matrix(first, context.dtype)
    raise DMLRuntimeError(f"eval: function `{fname}` returns a {type_name(first)} first; eval "
                          "returns a matrix (a number becomes a 1x1 matrix): use evalList for "
                          "other outputs")


@builtin("evalList", context=True, caller=True, distributed=True, keeps_inputs=True)
def eval_list(context, refs, fname, *args, **named):
    function, outputs = _call("evalList", refs, fname, args, named)
    return DMLList(outputs, function.output_names)


def _call(what: str, refs, fname, args: tuple, named: dict) -> tuple:
    """The function `fname` names, and its outputs on the arguments."""
    if named:
        # SystemDS drops the names and binds such arguments in the order written.
        raise DMLRuntimeError(f"{what} takes the function's arguments by position, not as "
                              f"`{next(iter(named))}=`; to bind them by name pass a named list: "
                              f"{what}(fname, list(a=..., b=...))")
    if not isinstance(fname, str):
        raise DMLRuntimeError(f"{what} needs the function's name as a string first, got "
                              f"{type_name(fname)}")
    if not args:
        # SystemDS reads the first argument's type to resolve the function, and fails without one
        raise DMLRuntimeError(f"{what} needs at least one argument after the function's name")
    function = refs.find(fname, what)
    if len(args) == 1 and isinstance(args[0], DMLList) and not _takes_one_list(function):
        names, values = _expand(what, function, args[0])
    else:
        if len(args) != len(function.param_names):
            raise DMLRuntimeError(f"{what}: function `{function.name}` takes "
                                  f"{len(function.param_names)} arguments, got {len(args)} (eval "
                                  "fills no defaults for arguments given by position; pass a list "
                                  "to use them)")
        names, values = list(function.param_names), list(args)
    return function, function.call(names, values, ())


def _takes_one_list(function) -> bool:
    params = function.definition.params
    return len(params) == 1 and params[0].type.data_type == "list"


def _expand(what: str, function, arguments: DMLList) -> tuple[list[str], list]:
    """The names and values a list argument binds, scalar defaults filling what it leaves out."""
    params = function.param_names
    given = [name for name in arguments.names if name is not None]
    if given and len(given) != len(arguments):
        raise DMLRuntimeError(f"{what}: the argument list must name all its elements or none")
    if given:
        values = dict(zip(arguments.names, arguments))
        unknown = [name for name in values if name not in params]
        if unknown:
            raise DMLRuntimeError(f"{what}: function `{function.name}` has no parameter "
                                  f"`{unknown[0]}`; its parameters are {', '.join(params) or 'none'}")
    else:
        if len(arguments) > len(params):
            raise DMLRuntimeError(f"{what}: function `{function.name}` takes {len(params)} "
                                  f"arguments, the list holds {len(arguments)}")
        values = dict(zip(params, arguments))
    for name in params:
        if name not in values and _scalar_default(function, name):
            values[name] = function.defaults[name]
    missing = [name for name in params if name not in values]
    if missing:
        raise DMLRuntimeError(f"{what}: the argument list leaves out "
                              f"{', '.join('`' + m + '`' for m in missing)} of function "
                              f"`{function.name}`, which has no scalar default")
    return list(values), list(values.values())


def _scalar_default(function, name: str) -> bool:
    # SystemDS fills in only scalar defaults when it expands a list
    return name in function.defaults and isinstance(function.defaults[name], (bool, int, float, str))
