"""Runs DML programs: the syntax tree is compiled once into Python closures, then executed.

Compiling resolves names, operators, builtins and argument bindings ahead of time, so a loop
body costs a few closure calls per statement instead of a walk over the tree each iteration.

Matrices are values: assigning `Y = X` shares the array, and left indexing copies it first unless
the variable owns it (see Frame.owned), so in-place writes are never seen through another name.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from . import intrinsics, statement_fusion
from . import nodes as n
from .builtins.elementwise import ASSIGNED_IFELSE
from .collector import LOOK_EVERY, collect_if_crowded
from .context import Context
from .errors import DMLError, DMLInterrupted, DMLRuntimeError, SourcePosition
from .expressions import ExpressionCompiler
from .frames import Frame, run_block
from .source_paths import resolve_source
from .functions import Module, UserFunction
from .lists import DMLList
from .indexing import assign_index
from .liveness import SIMPLE, LastReads, every_name
from .local.allocator import runtime_memory
from .local.threads import runtime_threads
from .parfor_analysis import ParforResults, loop_carried, parfor_results
from .parser import parse
from .values import to_bool, to_int, type_name

PARFOR_PARAMETERS = {"check", "par", "mode", "taskpartitioner", "tasksize", "datapartitioner",
                     "resultmerge", "opt", "log", "profile"}


def _condition(value, statement: str) -> bool:
    """A loop or branch condition must be a scalar: SystemDS refuses even a 1x1 matrix here."""
    if isinstance(value, np.ndarray):
        raise DMLRuntimeError(f"{statement} condition must be a scalar boolean, got a "
                              f"{value.shape[0]}x{value.shape[1]} matrix (use as.scalar)")
    return to_bool(value, f"{statement} condition")


class Interpreter:
    def __init__(self, context: Context):
        self.context = context
        self.modules: dict[Path, Module] = {}
        self.last_reads = LastReads()
        self._taking: frozenset[str] = frozenset()
        self._compiled: dict[int, Module] = {}   # modules whose functions this compiled
        self.program_module: Module | None = None  # the main program (load_program)

    def compiled(self, module: Module) -> None:
        """Notes a module whose functions this interpreter compiles (released by close())."""
        self._compiled[id(module)] = module

    def close(self) -> None:
        """Frees the compiled program now that its run is over. Its closures and modules refer
        to each other; left to the cycle collector, every run's thousands of them would bring
        round a full collection of the process's heap (long after `import keras`) every few runs."""
        for module in self._compiled.values():
            module.release()
        self._compiled.clear()
        self.modules.clear()
        self.program_module = None

    # ---- loading ----------------------------------------------------------------------------

    def load_program(self, text: str, file: str, base_dir: Path) -> tuple[Module, list]:
        """Parses and compiles a main program; returns its module and compiled statements."""
        program = parse(text, file)
        module = Module(file, base_dir)
        self.program_module = module
        statements = self._compile_module(program, module)
        return module, statements

    def load_source(self, path: Path, position: SourcePosition) -> Module:
        resolved = path.resolve()
        if resolved in self.modules:
            return self.modules[resolved]
        try:
            text = resolved.read_text()
        except OSError as err:
            raise DMLRuntimeError(f"cannot read sourced file {path}: {err.strerror}", position) from None
        module = Module(str(path), resolved.parent)
        self.modules[resolved] = module  # registered before compiling: files may source each other
        module.library = intrinsics.library_file(text, resolved)
        self._compile_module(parse(text, str(path)), module)
        intrinsics.attach(module, self.context)
        return module

    def _compile_module(self, program: n.Program, module: Module) -> list:
        # functions are known before the imports: a file sourced from here may source this one
        # back (a cycle) and call its functions
        for definition in program.functions:
            if definition.name in module.functions:
                raise DMLRuntimeError(f"function `{definition.name}` is defined twice", definition.pos)
            module.functions[definition.name] = UserFunction(definition, module)
        for statement in program.statements:  # imports take effect before anything runs
            self._import(statement, module)
        for function in module.functions.values():
            function.compile(self)
        outputs = self.context.outputs
        self.analyse(program.statements, every_name(program.statements) if outputs is None
                     else set(outputs))
        return self.compile_block(program.statements, module)

    def analyse(self, statements, live_at_exit: set[str]) -> None:
        """Finds the last reads of a program or function body before it is compiled (local
        runs only: under a Spark planner every read leaves the value in the frame)."""
        if statement_fusion.fusable_context(self.context):
            self.last_reads.analyse(statements, live_at_exit)

    def _import(self, statement, module: Module) -> None:
        if isinstance(statement, n.SetWd):
            module.base_dir = (module.base_dir / statement.path).resolve()
            # SystemDS takes a relative setwd() from its working directory
            module.setwd = (Path.cwd() / statement.path).resolve()
        elif isinstance(statement, n.Source):
            extra = (module.setwd,) if module.setwd is not None else ()
            module.namespaces[statement.namespace] = self.load_source(
                resolve_source(statement.path, module.base_dir, statement.pos,
                               extra + self._program_dirs()),
                statement.pos)

    def _program_dirs(self) -> tuple[Path, ...]:
        """Where SystemDS would look for a relative source() path: the main program's directory
        (setwd included; the CLI's stand-in for SystemDS' working directory), the working directory."""
        main = self.program_module
        return ((main.base_dir,) if main is not None else ()) + (Path.cwd(),)

    # ---- running ----------------------------------------------------------------------------

    def run(self, statements: list, frame: Frame) -> None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20000))
        try:
            with np.errstate(all="ignore"), runtime_threads(), runtime_memory():
                run_block(statements, frame)
        finally:
            sys.setrecursionlimit(limit)
            # compiled code keeps the context alive; what the run cached goes with the run
            self.context.run_caches.clear()

    # ---- statements -------------------------------------------------------------------------

    def compile_block(self, statements, module: Module) -> list:
        """The block's statements compiled, runs of consecutive ones fused where
        statement_fusion.py has a rule for them."""
        statements = [s for s in statements if not isinstance(s, (n.Source, n.SetWd))]
        return statement_fusion.compile_block(self, statements, module)

    @staticmethod
    def located(body, position: SourcePosition):
        """The statement body reporting failures at `position` (as compiled statements do)."""
        return _located(body, position)

    def compile_statement(self, node, module: Module):
        compile_method = getattr(self, "_stmt_" + type(node).__name__)
        self._taking = self.last_reads.of(node) if isinstance(node, SIMPLE) else frozenset()
        try:
            body = compile_method(node, module)
        except DMLRuntimeError as err:
            raise err.located(node.pos, ())
        finally:
            self._taking = frozenset()
        released = self.last_reads.released(node) if isinstance(node, SIMPLE) else frozenset()
        return _located(_releasing(body, released) if released else body, node.pos)

    def _stmt_Assign(self, node: n.Assign, module: Module):
        name = node.name
        expr = node.value
        if isinstance(expr, n.Call) and expr.name == "ifelse" and "ifelse" not in module.functions:
            expr = dataclasses.replace(expr, name=ASSIGNED_IFELSE)   # typed by both branches
        function = _called_function(module, expr) if node.op == "=" else None
        if function is not None and (not function.output_names or (
                len(function.output_names) > 1 and _has_control_flow(function.definition.body))):
            # SystemDS runs `x = f(...)` for a function with no outputs and leaves x without a value
            # (a later read fails); of a function with several it assigns the first, unless the
            # body is one block of plain statements (SystemDS inlines those and refuses the call)
            call = self.expressions(module).compile_call(expr, outputs=0)

            def assign_first(frame):
                values = call(frame)
                if values:
                    frame.vars[name] = values[0]
                    frame.owned.discard(name)
                else:
                    frame.vars.pop(name, None)
            return assign_first
        value = self.expressions(module).compile(expr, escaping=True)
        if node.op == "=":
            def assign(frame):
                frame.vars[name] = value(frame)
                if frame.owned:
                    frame.owned.discard(name)
            return assign
        combine = self.expressions(module).binary(node.op[0], node.pos)
        read = self.expressions(module).variable_reader(name)

        def accumulate(frame):
            frame.vars[name] = combine(read(frame), value(frame))
            if frame.owned:
                frame.owned.discard(name)
        return accumulate

    def _stmt_IndexAssign(self, node: n.IndexAssign, module: Module):
        exprs = self.expressions(module)
        rows, cols = exprs.compile_range(node.rows), exprs.compile_range(node.cols)
        value = exprs.compile(node.value, escaping=False)
        name = node.name
        read = exprs.variable_reader(name)
        combine = exprs.binary(node.op[0], node.pos) if node.op != "=" else None
        if self.context.planner is not None:
            return self.context.planner.index_assign(name, read, rows, cols, value, combine,
                                                     _write_index, node.pos)

        def assign(frame):
            _write_index(frame, name, read(frame), rows(frame), cols(frame), value(frame), combine)
        return assign

    def _stmt_MultiAssign(self, node: n.MultiAssign, module: Module):
        call = self.expressions(module).compile_call(node.call, outputs=len(node.names))
        names = node.names

        def assign(frame):
            values = call(frame)
            for name, value in zip(names, values):
                frame.vars[name] = value
                frame.owned.discard(name)
        return assign

    def _stmt_ExprStatement(self, node: n.ExprStatement, module: Module):
        return self.expressions(module).compile_call(node.call, outputs=0)

    def _stmt_If(self, node: n.If, module: Module):
        condition = self.expressions(module).compile(node.condition, escaping=False)
        then_body = self.compile_block(node.then_body, module)
        else_body = self.compile_block(node.else_body, module)

        def run_if(frame):
            if _condition(condition(frame), "if"):
                run_block(then_body, frame)
            else:
                run_block(else_body, frame)
        return run_if

    def _stmt_While(self, node: n.While, module: Module):
        condition = self.expressions(module).compile(node.condition, escaping=False)
        body = self.compile_block(node.body, module)

        def run_while(frame):
            countdown = LOOK_EVERY
            while _condition(condition(frame), "while"):
                run_block(body, frame)
                countdown -= 1
                if not countdown:
                    countdown = LOOK_EVERY
                    collect_if_crowded()
        return run_while

    def _stmt_For(self, node: n.For, module: Module):
        iteration_values = self._compile_iterable(node.iterable, module)
        body = self.compile_block(node.body, module)
        var = node.var
        if node.parallel:
            return self._compile_parfor(node, module, iteration_values, body)
        if node.params:
            raise DMLRuntimeError("only parfor loops take parameters such as check= or par=")

        observe = self.context.on_iteration

        def run_for(frame):
            variables = frame.vars
            frame.owned.discard(var)
            countdown = LOOK_EVERY
            for value in iteration_values(frame):
                variables[var] = value
                for statement in body:
                    statement(frame)
                if observe is not None:
                    observe(frame, var)
                countdown -= 1
                if not countdown:
                    countdown = LOOK_EVERY
                    collect_if_crowded()
        return run_for

    def _compile_parfor(self, node: n.For, module: Module, iteration_values, body):
        for param in node.params:
            if param.name not in PARFOR_PARAMETERS:
                raise DMLRuntimeError(f"unknown parfor parameter `{param.name}`; known: "
                                      f"{', '.join(sorted(PARFOR_PARAMETERS))}", param.pos)
        merging = parfor_results(node)
        if merging.checked:
            carried = loop_carried(node.body, node.var)
            if carried:
                raise DMLRuntimeError(
                    f"parfor iterations depend on each other through {', '.join(sorted(carried))} "
                    "(assigned in one iteration and read in a later one); write results by left "
                    "indexing (R[i, ] = ...), use a for loop, or pass check=0 if this is intended",
                    node.pos)
        local = self._local_parfor(node.var, iteration_values, body, merging, node.pos)
        if self.context.planner is not None:  # may run the iterations as Spark tasks
            return self.context.planner.parfor(self, node, module, iteration_values, merging, local)
        return local

    @staticmethod
    def _local_parfor(var: str, iteration_values, body, merging: ParforResults, position):
        results, sums = merging.results, merging.sums

        def run_parfor(frame):
            # Each iteration sees the variables as they were before the loop; only the result
            # matrices (left-indexed in the body) carry over, as SystemDS merges them. What an
            # iteration adds to an accumulator (`R += ...`) is added to the merged matrix.
            before = accumulated_matrices(frame.vars, sums, merging.checked, position)
            merged = results + [name for name in merging.plain if isinstance(frame.vars.get(name), np.ndarray)]
            for value in iteration_values(frame):
                child = Frame(dict(frame.vars), frame.stack)
                child.vars.update(before)
                child.owned = {r for r in results if r in frame.owned and r not in before}
                child.vars[var] = value
                run_block(body, child)
                for name in merged:
                    if name in before:
                        frame.vars[name] = add_accumulated(frame.vars[name], child.vars[name],
                                                           before[name], name, position)
                        frame.owned.add(name)
                    elif name in child.vars and name not in sums:
                        frame.vars[name] = child.vars[name]
                        if name in child.owned:
                            frame.owned.add(name)
                        else:
                            frame.owned.discard(name)
        return run_parfor

    def _compile_iterable(self, node, module: Module):
        exprs = self.expressions(module)
        if isinstance(node, n.Range):
            start, stop = exprs.compile(node.start, False), exprs.compile(node.stop, False)
            return lambda frame: counting(start(frame), stop(frame), None)
        if node.name != "seq":
            raise DMLRuntimeError(f"a for loop iterates over a:b or seq(from, to, by), not `{node.name}(...)`",
                                  node.pos)
        if any(a.name is not None for a in node.args) or not 2 <= len(node.args) <= 3:
            raise DMLRuntimeError("seq in a for loop takes 2 or 3 positional arguments", node.pos)
        bounds = [exprs.compile(a.value, False) for a in node.args]
        if len(bounds) == 2:
            return lambda frame: counting(bounds[0](frame), bounds[1](frame), None)
        return lambda frame: counting(bounds[0](frame), bounds[1](frame), bounds[2](frame))

    def expressions(self, module: Module) -> ExpressionCompiler:
        """An expression compiler for the statement being compiled: its reads of the variables
        in `_taking` (last reads, found by liveness.py) take the value out of the frame."""
        return ExpressionCompiler(self, module, taking=self._taking)


def accumulated_matrices(variables: dict, sums, checked: bool, position) -> dict:
    """The parfor accumulators' matrices before the loop. A scalar `s += ...` is a dependency
    between iterations, as in SystemDS; with check=0 it keeps its value from before the loop."""
    before = {}
    for name in sums:
        value = variables.get(name)
        if isinstance(value, np.ndarray):
            before[name] = value
        elif checked:
            raise DMLRuntimeError(
                f"parfor iterations depend on each other through {name} ({name} += ... adds up "
                f"matrices only, {name} is a {type_name(value) if name in variables else 'undefined'}); "
                "use a for loop, or pass check=0 if this is intended", position)
    return before


def add_accumulated(merged: np.ndarray, written, before: np.ndarray, name: str, position) -> np.ndarray:
    """SystemDS's result merge for `R += ...` in a parfor: merged + (written - before)."""
    if not isinstance(written, np.ndarray) or written.shape != before.shape:
        raise DMLRuntimeError(f"parfor accumulator `{name}` changed its shape or type in an "
                              "iteration; `R += ...` in a parfor must keep R's dimensions", position)
    return merged + (written - before)


def _write_index(frame: Frame, name: str, target, rows, cols, value, combine) -> None:
    """`name[rows, cols] = value` in place, copying the matrix first unless the frame owns it."""
    if isinstance(target, DMLList):  # lists are values: write into a copy
        if cols is not None or combine is not None:
            raise DMLRuntimeError(f"list `{name}` takes plain assignments to {name}[i]")
        frame.vars[name] = target.with_element(rows, value, name)
        return
    if name not in frame.owned:
        if not isinstance(target, np.ndarray):
            raise DMLRuntimeError(f"cannot index into `{name}`: it is a {type_name(target)}, "
                                  "not a matrix")
        target = target.copy()
        frame.vars[name] = target
        frame.owned.add(name)
    assign_index(target, rows, cols, value, name, combine)


def _located(body, position: SourcePosition):
    """Wraps a statement so that any failure inside it reports this statement's position."""
    def run(frame):
        try:
            body(frame)
        except DMLError as err:
            if isinstance(err, DMLRuntimeError) and err.position is None:
                err.position, err.call_stack = position, frame.stack
                err.args = (err.render(),)
            raise
        except DMLInterrupted:
            raise
        except KeyboardInterrupt:  # Ctrl-C: the innermost statement says where it stopped
            raise DMLInterrupted(position, frame.stack) from None
        except RecursionError:
            raise DMLRuntimeError("recursion too deep (more than the interpreter's stack allows)",
                                  position, frame.stack) from None
        except Exception as err:  # a numpy or Python failure: report it in DML terms
            raise DMLRuntimeError(f"{type(err).__name__}: {err}", position, frame.stack) from err
    return run


def counting(start, stop, step) -> range:
    """The values of `start:stop` or `seq(start, stop, step)` in a loop header, as SystemDS runs
    them: bounds truncated to ints, `a:b` counting down when a > b, a step of the wrong sign giving
    no iterations. A fractional step is refused (SystemDS would silently run zero iterations)."""
    first, last = to_int(start, "loop bound"), to_int(stop, "loop bound")
    if step is None:
        by = 1 if last >= first else -1
    else:
        if isinstance(step, float) and not step.is_integer():
            raise DMLRuntimeError(f"a for loop's increment must be a whole number, got {step!r} "
                                  "(iterate over an index and compute the value instead)")
        by = to_int(step, "loop increment")
        if by == 0:
            raise DMLRuntimeError("a for loop's increment must not be zero")
    return range(first, last + (1 if by > 0 else -1), by)


def _releasing(body, names: frozenset[str]):
    """The statement, then the variables it read through indexing for the last time dropped
    from the frame (liveness.py's `released`)."""
    def run(frame):
        body(frame)
        for name in names:
            frame.vars.pop(name, None)
            frame.owned.discard(name)
    return run


def _called_function(module: Module, expr) -> UserFunction | None:
    """The user function that `expr` calls, if it is such a call."""
    return module.find_function(expr.name, expr.pos) if isinstance(expr, n.Call) else None


def _has_control_flow(body) -> bool:
    return any(isinstance(statement, (n.If, n.For, n.While)) for statement in body)
