"""parfor on Spark (mode=REMOTE_SPARK): iterations run as Spark tasks.

The driver ships, in one broadcast, the loop body's syntax tree, the functions it may call (the
modules' definitions, not compiled code), the `$` arguments and the variables the body reads
as they are before the loop (distributed ones collected; large ones in broadcasts of their own,
kept while the same matrix comes back). Each task compiles the body with the local
interpreter once and runs its share of the iterations in order, as the local parfor does. The
driver then merges each task's result matrices by DML's parfor rule: the cells a task changed
(compared with the matrix before the loop) are written into the result; tasks write disjoint
cells; an accumulator (`R += ...`) gets what each task added to it. What a body prints is
returned with the task's results and printed in iteration order.
"""
from __future__ import annotations

import io
from functools import partial

import numpy as np

from ..context import Context
from ..functions import Module, UserFunction
from .. import intrinsics
from ..parfor_analysis import ParforResults, read_names
from .lease import Lease


def module_snapshot(module: Module) -> dict:
    """A picklable description of a module and everything it sourced:
    {id: (file, dir, defs, ns, dml_lib's name for it or None)}."""
    snapshot: dict = {}

    def visit(current: Module) -> int:
        key = id(current)
        if key not in snapshot:
            snapshot[key] = None  # modules may source each other
            namespaces = {name: visit(child) for name, child in current.namespaces.items()}
            definitions = [f.definition for f in current.functions.values()]
            snapshot[key] = (current.file, str(current.base_dir), definitions, namespaces,
                             current.library)
        return key
    return {"root": visit(module), "modules": snapshot}


def rebuild_modules(snapshot: dict, interpreter) -> Module:
    """The modules again, compiled by `interpreter`, dml_lib's files with their kernels as
    where they were loaded."""
    from pathlib import Path

    modules = {key: Module(file, Path(base), library=library)
               for key, (file, base, _, _, library) in snapshot["modules"].items()}
    for key, (_, _, definitions, namespaces, _) in snapshot["modules"].items():
        module = modules[key]
        module.namespaces = {name: modules[child] for name, child in namespaces.items()}
        for definition in definitions:
            module.functions[definition.name] = UserFunction(definition, module)
    for module in modules.values():
        for function in module.functions.values():
            function.compile(interpreter)
        intrinsics.attach(module, interpreter.context)
    return modules[snapshot["root"]]


def _chunks(values: list, count: int) -> list[list]:
    size = -(-len(values) // count)
    return [values[k:k + size] for k in range(0, len(values), size)]


def run_task(payload, item):
    """Executor side: compile the body, run this task's iterations, return results and output;
    the cycle collector paused meanwhile, as in a local run (collector.py)."""
    from ..collector import collector_paused

    with collector_paused():
        return _compiled_and_run(payload, item)


def _compiled_and_run(payload, item):
    from ..frames import Frame, run_block
    from ..interpreter import Interpreter
    from ..local.allocator import runtime_memory

    index, iterations = item
    shipped = payload.value
    out = io.StringIO()
    interpreter = Interpreter(Context(args=shipped["args"], out=out, precision=shipped["precision"]))
    try:
        module = rebuild_modules(shipped["modules"], interpreter)
        body = interpreter.compile_block(shipped["body"], module)
        results = shipped["results"]
        variables = dict(shipped["variables"])  # a broadcast value is shared by a worker's tasks
        variables.update({name: shared.value for name, shared in shipped["shared"].items()})
        for name in results:
            if isinstance(variables.get(name), np.ndarray):
                variables[name] = variables[name].copy()
        frame = Frame(variables)
        frame.owned = set(results)  # the task's copies: written in place, as the local loop does
        with np.errstate(all="ignore"), runtime_memory():
            for value in iterations:
                child = Frame(dict(frame.vars))
                child.owned = set(frame.owned)
                child.vars[shipped["var"]] = value
                run_block(body, child)
                for name in results:
                    if name in child.vars:
                        frame.vars[name] = child.vars[name]
    finally:
        interpreter.close()      # frees the compiled body now, not at a cycle collection
    written = {name: frame.vars[name] for name in results if isinstance(frame.vars.get(name), np.ndarray)}
    return index, out.getvalue(), written


def merge(before, merged, written: np.ndarray):
    """Writes into `merged` the cells a task changed: those where `written` differs from the
    matrix before the loop (NaN compared equal to NaN)."""
    if not isinstance(before, np.ndarray) or before.shape != written.shape:
        return written.copy()
    changed = (before != written) & ~(np.isnan(before) & np.isnan(written))
    merged[changed] = written[changed]
    return merged


class SharedInputs:
    """Large loop inputs broadcast once and reused while the same (unowned, hence unchanged)
    matrix comes back: a training loop's data set is shipped once, not once per parfor. A
    replaced one is destroyed at once; the last ones when the loop's program is dropped."""
    SMALL = 2**20  # bytes; smaller values travel inside the task payload

    def __init__(self, runtime):
        self.runtime = runtime
        self.entries: dict[str, tuple] = {}  # name -> (value, broadcast, its lease)

    def split(self, variables: dict, owned: set) -> tuple[dict, dict]:
        inline, shared = {}, {}
        for name, value in variables.items():
            if isinstance(value, np.ndarray) and value.nbytes >= self.SMALL and name not in owned:
                shared[name] = self._broadcast(name, value)
            else:
                inline[name] = value
        return inline, shared

    def _broadcast(self, name: str, value: np.ndarray):
        known = self.entries.get(name)
        if known is not None and known[0] is value:
            return known[1]
        if known is not None:
            known[2].release()
        broadcast = self.runtime.sc.broadcast(value)
        self.entries[name] = (value, broadcast, Lease(broadcasts=(broadcast,)))
        return broadcast


def remote_parfor(runtime, interpreter, node, module, iteration_values, merging: ParforResults,
                  planner):
    from ..interpreter import accumulated_matrices, add_accumulated

    par = next((p.value for p in node.params if p.name == "par"), None)
    snapshot = module_snapshot(module)
    context = interpreter.context
    shared_inputs = SharedInputs(runtime)
    results, sums, plain = merging.results, merging.sums, merging.plain
    inputs = sorted((read_names(node.body) | set(results) | set(plain)) - {node.var})

    def run_parfor(frame):
        values = list(iteration_values(frame))
        if not values:
            return
        variables = {name: planner.collect(frame.vars[name]) for name in inputs if name in frame.vars}
        before = accumulated_matrices(variables, sums, merging.checked, node.pos)
        names = results + sorted(name for name in plain if isinstance(variables.get(name), np.ndarray))
        inline, shared = shared_inputs.split(variables, frame.owned)
        payload = runtime.sc.broadcast({
            "modules": snapshot, "body": node.body, "var": node.var, "results": names,
            "args": context.args, "precision": context.precision, "variables": inline, "shared": shared})
        width = getattr(par, "value", None) or runtime.sc.defaultParallelism
        chunks = _chunks(values, max(1, min(len(values), int(width))))
        tasks = runtime.sc.parallelize(list(enumerate(chunks)), len(chunks))
        try:
            outcomes = runtime.guarded(lambda: tasks.map(partial(run_task, payload)).collect())
        finally:
            Lease(broadcasts=(payload,)).release()
        merged = {name: variables[name].copy() if isinstance(variables.get(name), np.ndarray)
                  else variables.get(name) for name in names}
        for _, printed, written in sorted(outcomes, key=lambda outcome: outcome[0]):
            context.out.write(printed)
            for name, matrix in written.items():
                if name in before:
                    merged[name] = add_accumulated(merged[name], matrix, before[name], name, node.pos)
                elif name not in sums:
                    merged[name] = merge(variables.get(name), merged[name], matrix)
        for name, value in merged.items():
            if value is not None:
                frame.vars[name] = value
                frame.owned.add(name)
    return run_parfor
