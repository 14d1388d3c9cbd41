"""Compiles DML expressions into closures `frame -> value`.

`escaping` says whether the value may outlive the expression under another name (assigned,
passed to a function). Reading a variable that way ends the frame's ownership of its matrix,
so a later left-indexed write copies first. Operators and most builtins only read their
operands and produce fresh arrays, so their operands are read without escaping.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from . import nodes as n
from .fusion import compile_fused
from .inplace import binary_in_place, builtin_in_place
from .builtins import BUILTINS
from .builtins.registry import python_parameter
from .builtins.unsupported import unsupported_reason
from .errors import DMLRuntimeError
from .function_refs import FunctionRefs
from .indexing import index_bounds, read_index
from .operators import UNARY_RULES, binary_operator

if TYPE_CHECKING:
    from .functions import Module


class ExpressionCompiler:
    def __init__(self, interpreter, module: "Module", taking: frozenset[str] = frozenset()):
        self.interpreter = interpreter
        self.module = module
        self.context = interpreter.context
        self.taking = taking    # variables whose read here is the program's last (liveness.py)

    def compile(self, node, escaping: bool = True) -> Callable:
        return getattr(self, "_" + type(node).__name__)(node, escaping)

    # ---- leaves
    def _Literal(self, node: n.Literal, escaping):
        value = node.value
        return lambda frame: value

    def _Var(self, node: n.Var, escaping):
        if node.name in self.taking:
            return self._taking_reader(node.name)
        read = self.variable_reader(node.name)
        if not escaping:
            return read
        name = node.name

        def read_escaping(frame):
            value = read(frame)
            if frame.owned:
                frame.owned.discard(name)
            return value
        return read_escaping

    @staticmethod
    def _taking_reader(name: str) -> Callable:
        """Reads the variable and removes it from the frame: nothing reads it later, and an
        operand the frame no longer holds may be overwritten by the operation (inplace.py)."""
        def take(frame):
            try:
                value = frame.vars.pop(name)
            except KeyError:
                raise DMLRuntimeError(f"undefined variable `{name}`") from None
            if frame.owned:
                frame.owned.discard(name)
            return value
        return take

    def variable_reader(self, name: str) -> Callable:
        def read(frame):
            try:
                return frame.vars[name]
            except KeyError:
                raise DMLRuntimeError(f"undefined variable `{name}`") from None
        return read

    def _CommandLineArg(self, node: n.CommandLineArg, escaping):
        args, name, given_by = self.context.args, node.name, self.context.argument_hint

        def read(frame):
            if name not in args:
                hint = given_by.format(name=name) if given_by is not None else \
                    f"-args (position {name})" if name.isdigit() else f"-nvargs {name}=..."
                raise DMLRuntimeError(f"command-line argument `${name}` was not given (pass it with {hint})")
            return args[name]
        return read

    def _ListExpr(self, node: n.ListExpr, escaping):
        items = [self.compile(item, False) for item in node.items]
        return lambda frame: [item(frame) for item in items]

    # ---- operators and indexing
    def _Binary(self, node: n.Binary, escaping):
        fused = compile_fused(self, node)
        if fused is not None:
            return fused
        operator = self.binary(node.op, node.pos)
        left, right = self.compile(node.left, False), self.compile(node.right, False)
        in_place = binary_in_place(self, node.op, left, right, operator)
        if in_place is not None:
            return in_place
        return lambda frame: operator(left(frame), right(frame))

    def binary(self, op: str, position) -> Callable:
        """The function computing `a op b` at this call site (timed, and planned when a planner runs)."""
        return self._planned(op, self._counted(op, binary_operator(op)), position)

    def _Unary(self, node: n.Unary, escaping):
        operator = self._planned("unary" + node.op, self._counted(node.op, UNARY_RULES[node.op]), node.pos)
        operand = self.compile(node.operand, False)
        return lambda frame: operator(operand(frame))

    def _Index(self, node: n.Index, escaping):
        read = self.variable_reader(node.name)
        rows, cols, name = self.compile_range(node.rows), self.compile_range(node.cols), node.name
        index = self._planned("rightIndex", self._counted("rightIndex", read_index), node.pos)
        return lambda frame: index(read(frame), rows(frame), cols(frame), name)

    def compile_range(self, node: n.IndexRange) -> Callable:
        if node.lower is None and node.upper is None:
            return lambda frame: None
        lower = self.compile(node.lower, False)
        if node.upper is None:
            return lambda frame: index_bounds(lower(frame), None, False)
        upper = self.compile(node.upper, False)
        return lambda frame: index_bounds(lower(frame), upper(frame), True)

    def counted(self, name: str, function: Callable) -> Callable:
        """The function, timed under `name` when the run keeps statistics."""
        return self._counted(name, function)

    def counted_fused(self, name: str, function: Callable) -> Callable:
        """counted(), and `--stats` lists `name` among the fused and in-place operations."""
        self.mark_fused(name)
        return self._counted(name, function)

    def mark_fused(self, name: str) -> None:
        if self.context.stats is not None:
            self.context.stats.fused.add(name)

    def _counted(self, name: str, function: Callable) -> Callable:
        stats = self.context.stats
        return stats.timed(name, function) if stats is not None else function

    def _planned(self, name: str, function: Callable, position) -> Callable:
        """Without a planner (the local default) the function itself: no cost per call."""
        planner = self.context.planner
        return function if planner is None else planner.route(name, function, position)

    # ---- calls
    def _Call(self, node: n.Call, escaping):
        fused = compile_fused(self, node) or builtin_in_place(self, node)
        if fused is not None:
            return fused
        return self.compile_call(node, outputs=1, escaping=escaping)

    def compile_call(self, node: n.Call, outputs: int, escaping: bool = True) -> Callable:
        """A call site; `outputs` is how many values the caller takes (0 for a statement)."""
        if node.name == "ifdef":
            return self._ifdef(node)
        function = self.module.find_function(node.name, node.pos)
        if function is not None:
            return self._user_call(function, node, outputs)
        builtin = BUILTINS.get(node.name)
        if builtin is None:
            reason = unsupported_reason(node.name)
            if reason is not None:
                raise DMLRuntimeError(reason, node.pos)
            raise DMLRuntimeError(f"unknown function `{node.name}` (neither defined in {self.module.file}, "
                                  "nor sourced, nor a builtin)", node.pos)
        if outputs > 1 and outputs != builtin.outputs:
            raise DMLRuntimeError(f"builtin `{node.name}` returns {builtin.outputs} value(s); it cannot "
                                  f"be assigned to {outputs} variables", node.pos)
        if outputs == 1 and builtin.outputs > 1:
            if not builtin.script:
                raise DMLRuntimeError(f"builtin `{node.name}` returns {builtin.outputs} values; assign "
                                      f"them with [a, b, ...] = {node.name}(...)", node.pos)
            every = self._builtin_call(builtin, node)
            return lambda frame: every(frame)[0]
        return self._builtin_call(builtin, node)

    def builtin_call(self, builtin, node: n.Call) -> Callable:
        """The closure calling `builtin` with the node's arguments (checked now)."""
        return self._builtin_call(builtin, node)

    def _user_call(self, function, node: n.Call, outputs: int) -> Callable:
        positional = [a for a in node.args if a.name is None]
        named = [a for a in node.args if a.name is not None]
        if positional and named and node.args.index(named[0]) < len(positional):
            raise DMLRuntimeError("positional arguments must come before named ones", node.pos)
        names = function.bind(len(positional), [a.name for a in named], node.pos)
        available = len(function.output_names)
        if outputs > available or (outputs == 1 and available != 1):
            raise DMLRuntimeError(f"function `{node.name}` returns {available} value(s); the call takes "
                                  f"{outputs}" + (" (use [a, b] = f(...))" if available > 1 else ""),
                                  node.pos)
        args = [self.compile(a.value, escaping=True) for a in positional + named]

        def call(frame):
            return function.call(names, [arg(frame) for arg in args], frame.stack)
        if outputs == 1:
            return lambda frame: call(frame)[0]
        return call

    def _builtin_call(self, builtin, node: n.Call) -> Callable:
        positional = [a for a in node.args if a.name is None]
        named = [a for a in node.args if a.name is not None]
        if positional and named and node.args.index(named[0]) < len(positional):
            raise DMLRuntimeError("positional arguments must come before named ones", node.pos)
        try:
            builtin.check_call(len(positional), [a.name for a in named])
        except DMLRuntimeError as err:
            raise err.located(node.pos, ())
        escaping = builtin.keeps_inputs
        args = [self.compile(a.value, escaping) for a in positional]
        kwargs = {python_parameter(a.name): self.compile(a.value, escaping) for a in named}
        function = self._counted(node.name, builtin.function)
        if builtin.needs_caller:
            context, refs, target = self.context, FunctionRefs(self.interpreter, self.module), function
            function = lambda *a, **k: target(context, refs, *a, **k)  # noqa: E731
        elif builtin.needs_context:
            context = self.context
            target = function
            function = lambda *a, **k: target(context, *a, **k)  # noqa: E731
        if not builtin.takes_distributed:
            function = self._planned(node.name, function, node.pos)
        if not kwargs:
            if len(args) == 1:
                only = args[0]
                return lambda frame: function(only(frame))
            if len(args) == 2:
                first, second = args
                return lambda frame: function(first(frame), second(frame))
            return lambda frame: function(*[a(frame) for a in args])
        return lambda frame: function(*[a(frame) for a in args], **{k: v(frame) for k, v in kwargs.items()})

    def _ifdef(self, node: n.Call) -> Callable:
        """ifdef($name, default): the argument if given on the command line, else the default."""
        if len(node.args) != 2 or not isinstance(node.args[0].value, n.CommandLineArg):
            raise DMLRuntimeError("ifdef takes a $argument and a default value: ifdef($name, default)",
                                  node.pos)
        name = node.args[0].value.name
        default = self.compile(node.args[1].value)
        args = self.context.args
        return lambda frame: args[name] if name in args else default(frame)
