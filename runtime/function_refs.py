"""Function references by name, as SystemDS's paramserv takes them: `"fn"` (a function of the
calling file), `"ns::fn"` (of a sourced namespace) or `"path/file.dml::fn"` (of that file,
loaded if no source() named it; the path resolves as source() paths do, then against the
working directory, as SystemDS resolves it)."""
from __future__ import annotations

import threading
from pathlib import Path

from .errors import DMLRuntimeError
from .source_paths import resolve_source


class FunctionRefs:
    """Resolves and calls DML functions named by strings, on behalf of one calling module."""

    def __init__(self, interpreter, module):
        self.interpreter = interpreter
        self.module = module
        self._lock = threading.Lock()   # loading a file is not safe from two threads at once

    def find(self, reference, what: str):
        if not isinstance(reference, str) or not reference:
            raise DMLRuntimeError(f"{what} must name a DML function (\"fn\" or \"file.dml::fn\"), "
                                  f"got {reference!r}")
        if "::" not in reference:
            function = self.module.functions.get(reference)
            if function is None:
                raise DMLRuntimeError(f"{what}: function `{reference}` is not defined in "
                                      f"{self.module.file}")
            return function
        prefix, name = reference.rsplit("::", 1)
        if prefix == ".defaultNS":          # SystemDS's name for the calling file's namespace
            return self.find(name, what)
        if prefix in self.module.namespaces:
            return self.module.find_function(reference, None)
        module = self._load(prefix, what)
        function = module.functions.get(name)
        if function is None:
            known = ", ".join(sorted(module.functions)) or "none"
            raise DMLRuntimeError(f"{what}: function `{name}` is not defined in {prefix} "
                                  f"(it defines: {known})")
        return function

    def _load(self, path: str, what: str):
        with self._lock:
            for base in (self.module.base_dir, Path.cwd()):
                try:
                    return self.interpreter.load_source(resolve_source(path, base, None), None)
                except DMLRuntimeError as err:
                    if "not found" not in str(err):
                        raise
        raise DMLRuntimeError(f"{what}: no file {path!r} (looked next to {self.module.file} and in "
                              "the working directory), and no sourced namespace of that name")


def call_by_name(function, arguments: dict, stack: tuple[str, ...], what: str) -> list:
    """Calls a user function binding `arguments` by parameter name, as paramserv binds them.
    The call takes the values over (the dict is emptied): a value the caller holds nowhere else
    is the function's alone, which may then update its matrices in place (inplace.py)."""
    missing = [p for p in function.param_names if p not in arguments and p not in function.defaults]
    unknown = [a for a in arguments if a not in function.param_names]
    if missing or unknown:
        raise DMLRuntimeError(f"{what} `{function.name}` must take the parameters "
                              f"{', '.join(arguments)} (by these names); it takes "
                              f"{', '.join(function.param_names) or 'none'}")
    names, values = list(arguments), list(arguments.values())
    arguments.clear()
    return function.call(names, values, stack)
