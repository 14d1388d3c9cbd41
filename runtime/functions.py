"""User-defined DML functions: the modules they live in, argument binding and calls."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import nodes as n
from .collector import collect_if_crowded
from .errors import DMLRuntimeError
from .frames import Frame, run_block
from .liveness import every_name
from .lists import DMLList
from .values import is_any_matrix, type_name


@dataclass
class Module:
    """One DML file: its functions and the namespaces it sourced."""
    file: str
    base_dir: Path
    functions: dict[str, "UserFunction"] = field(default_factory=dict)
    namespaces: dict[str, "Module"] = field(default_factory=dict)
    library: str | None = None     # dml_lib's name for the file when it is dml_lib's own text
    setwd: Path | None = None      # the file's last setwd() taken from the working directory

    def release(self) -> None:
        """Drops the compiled functions and the sourced modules once a run is over: compiled
        bodies call the module's functions, which hold the module, so without this only the
        cycle collector could free them."""
        for function in self.functions.values():
            function.release()
        self.functions.clear()
        self.namespaces.clear()

    def find_function(self, qualified: str, position) -> "UserFunction | None":
        if "::" not in qualified:
            return self.functions.get(qualified)
        namespace, name = qualified.split("::", 1)
        module = self.namespaces.get(namespace)
        if module is None:
            known = ", ".join(sorted(self.namespaces)) or "none"
            raise DMLRuntimeError(f"unknown namespace `{namespace}` in `{qualified}` (sourced namespaces: "
                                  f"{known})", position)
        function = module.functions.get(name)
        if function is None:
            known = ", ".join(sorted(module.functions)) or "none"
            raise DMLRuntimeError(f"function `{name}` is not defined in {module.file} (namespace "
                                  f"`{namespace}`; it defines: {known})", position)
        return function


class UserFunction:
    def __init__(self, definition: n.FunctionDef, module: Module):
        self.definition = definition
        self.module = module
        self.name = definition.name
        self.param_names = [p.name for p in definition.params]
        self.output_names = [p.name for p in definition.outputs]
        self.body: list = []
        self.defaults: dict[str, object] = {}
        self.variable_defaults: set[str] = set()
        self.kernel = None     # bound arguments -> outputs or None (runtime/intrinsics.py)

    def compile(self, interpreter) -> None:
        interpreter.compiled(self.module)
        exprs = interpreter.expressions(self.module)
        empty = Frame({})
        for param in self.definition.params:
            if param.default is None:
                continue
            if every_name([param.default]):
                # a default such as `K = ncol(A)` reads variables: SystemDS takes it for no
                # default (the argument must be given), so it is not evaluated here
                self.variable_defaults.add(param.name)
                continue
            self.defaults[param.name] = exprs.compile(param.default, escaping=False)(empty)
        interpreter.analyse(self.definition.body, set(self.output_names))
        self.body = interpreter.compile_block(self.definition.body, self.module)

    def release(self) -> None:
        """Drops what compile() made (Module.release)."""
        self.body, self.defaults, self.kernel = [], {}, None

    def bind(self, positional: int, named: list[str], position) -> list[str]:
        """Maps a call's arguments to parameter names, checked before the program runs."""
        if positional > len(self.param_names):
            raise DMLRuntimeError(f"function `{self.name}` takes {len(self.param_names)} arguments, "
                                  f"got {positional + len(named)}", position)
        names = self.param_names[:positional]
        for name in named:
            if name not in self.param_names:
                raise DMLRuntimeError(f"function `{self.name}` has no parameter `{name}`; its parameters "
                                      f"are {', '.join(self.param_names) or 'none'}", position)
            if name in names:
                raise DMLRuntimeError(f"function `{self.name}` got parameter `{name}` twice", position)
            names.append(name)
        missing = [p for p in self.param_names if p not in names and p not in self.defaults]
        if missing:
            unusable = [m for m in missing if m in self.variable_defaults]
            hint = (f" (the default of {', '.join('`' + m + '`' for m in unusable)} reads variables; "
                    "DML uses only defaults without variables)") if unusable else ""
            raise DMLRuntimeError(f"function `{self.name}` is missing argument "
                                  f"{', '.join('`' + m + '`' for m in missing)}{hint}", position)
        return names

    def call(self, names: list[str], values: list, caller_stack: tuple[str, ...]) -> list:
        variables = dict(self.defaults)
        variables.update(zip(names, values))
        values.clear()      # the frame holds the arguments alone (an operand nothing else holds
                            # may be overwritten in place: inplace.py); no loop variable keeps one
        for param in self.definition.params:
            variables[param.name] = _conform(variables[param.name], param, self.name)
        if self.kernel is not None:
            outputs = self.kernel(variables)
            if outputs is not None:
                return outputs
        frame = Frame(variables, caller_stack + (self.name,))
        run_block(self.body, frame)
        collect_if_crowded()
        outputs = []
        for output in self.definition.outputs:
            if output.name not in frame.vars:
                raise DMLRuntimeError(f"function `{self.name}` did not assign its output `{output.name}`")
            outputs.append(_conform(frame.vars[output.name], output, self.name))
        return outputs


def _conform(value, param: n.Param, function: str):
    """Checks a value against a declared type, converting between int and double as DML does."""
    declared = param.type
    if declared.data_type == "matrix":
        if not is_any_matrix(value):
            raise DMLRuntimeError(f"function `{function}`: `{param.name}` is declared {declared} but got "
                                  f"{type_name(value)}")
        return value
    if declared.data_type == "list":
        if not isinstance(value, DMLList):
            raise DMLRuntimeError(f"function `{function}`: `{param.name}` is declared {declared} but got "
                                  f"{type_name(value)}")
        return value
    if declared.data_type != "scalar":
        return value
    if is_any_matrix(value):
        raise DMLRuntimeError(f"function `{function}`: `{param.name}` is declared {declared} but got "
                              f"{type_name(value)}")
    kind = declared.value_type
    if kind == "double" and isinstance(value, (int, bool)):
        return float(value)
    if kind == "int" and isinstance(value, float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise DMLRuntimeError(f"function `{function}`: `{param.name}` is declared int but got {value}")
        return int(value)
    if kind == "int" and isinstance(value, bool):
        return int(value)
    if kind == "boolean" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if kind == "string" and not isinstance(value, str):
        raise DMLRuntimeError(f"function `{function}`: `{param.name}` is declared string but got "
                              f"{type_name(value)}")
    if kind in ("int", "double", "boolean") and isinstance(value, str):
        return _from_string(value, kind, param.name, function)
    return value


def _from_string(text: str, kind: str, name: str, function: str):
    """A string given for a number or boolean is converted as SystemDS converts a call's scalar
    arguments: `-nvargs flag=true` passes the string "true" (SystemDS's own paramserv tests pass
    modelAvg so). SystemDS takes "TRUE"/"true" as TRUE and any other string as FALSE; here only
    the four spellings of print and the command line are taken, anything else is an error."""
    if kind == "boolean":
        if text in ("TRUE", "true", "FALSE", "false"):
            return text in ("TRUE", "true")
        raise DMLRuntimeError(f"function `{function}`: `{name}` is declared boolean but got the "
                              f"string {text!r} (TRUE, true, FALSE or false convert)")
    try:
        number = float(text) if "_" not in text else None     # Python reads "1_0"; Java does not
    except ValueError:
        number = None
    if number is None or (kind == "int" and not math.isfinite(number)):
        raise DMLRuntimeError(f"function `{function}`: `{name}` is declared {kind} but got the "
                              f"string {text!r}, which is not a number")
    return int(number) if kind == "int" else number
