"""Fusion across statements: two consecutive calls of dml_lib layers run as one pass over memory.

Generated scripts call one dml_lib function per layer step, each its own statement:

    r1 = relu::forward(c1)
    [p1, Hp1, Wp1] = max_pool2d::forward(r1, 32, H1, W1o, 2, 2, 2, 2, 0, 0)
    ...
    dr1 = max_pool2d::backward(dp1, Hp1, Wp1, r1, 32, H1, W1o, 2, 2, 2, 2, 0, 0)
    dc1 = relu::backward(dr1, c1)

The interpreter calls those functions (it does not inline them), so no expression holds both
steps; the program does. Before a block is compiled, each pair of consecutive statements is
matched against RULES: both must call dml_lib's own functions (runtime/intrinsics.py checks the
sourced text), the second must read the first's result as the argument the rule names, and
liveness (liveness.py) says whether that intermediate is read later: relu -> max_pool keeps the
relu matrix only when a later statement reads it (the training step's backward pass does,
predict does not); max_pool_backward -> relu_backward fuses only when nothing reads the pool's
gradient afterwards. A matched pair becomes one closure that reads the arguments, runs the fused
kernel (runtime/local/fused_pooling.py, the plain path's bits), then leaves the frame as the two
statements would have: outputs assigned, last reads taken out.

When the values are not what the kernel handles (another dtype, a shape or geometry the plain
builtins would refuse), the two statements run as compiled, so errors read as before. Local runs
only: with Spark or hybrid planners the plain statements run, so the planner sees each operation;
the singlenode planner (`--explain` without Spark) fuses and shows the fused operators.
"""
from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from . import nodes as n
from .errors import DMLRuntimeError
from .frames import Frame
from .fusion_rules import RULES, LibraryCall, Plan

CALIBRATED_CALLS = range(1, 4)      # with --stats, these calls also time the plain statements
SWITCH_VARIABLE = "KERASDML_FUSION"  # 0: the plain statements (to measure or compare them)


def library_call(statement, module) -> LibraryCall | None:
    if isinstance(statement, n.Assign) and statement.op == "=" \
            and isinstance(statement.value, n.Call):
        names, call = (statement.name,), statement.value
    elif isinstance(statement, n.MultiAssign):
        names, call = statement.names, statement.call
    else:
        return None
    if "::" not in call.name:
        return None
    try:
        function = module.find_function(call.name, call.pos)
        positional = [a for a in call.args if a.name is None]
        named = [a for a in call.args if a.name is not None]
        bound = function.bind(len(positional), [a.name for a in named], call.pos) \
            if function is not None else None
    except DMLRuntimeError:               # the plain compilation reports it
        return None
    if function is None or function.module.library is None:
        return None
    return LibraryCall((function.module.library, function.name),
                       dict(zip(function.output_names, names)),
                       dict(zip(bound, [a.value for a in positional + named])), statement)


def fusable_context(context) -> bool:
    """The run is local: no planner, or the singlenode one that only explains."""
    planner = context.planner
    return planner is None or planner.mode == "singlenode"


def enabled(context) -> bool:
    return fusable_context(context) and os.environ.get(SWITCH_VARIABLE, "1") != "0"


def match(interpreter, statements, calls: list[LibraryCall | None]) -> Plan | None:
    """The plan fusing these consecutive statements (all of them), or None; calls are their
    library_call()s."""
    rule = RULES.get(tuple(c.function for c in calls)) if None not in calls else None
    if rule is None:
        return None
    return rule(*calls, [interpreter.last_reads.of(s) for s in statements])


GROUP_SIZES = sorted({len(key) for key in RULES}, reverse=True)


def compile_block(interpreter, statements, module) -> list:
    """The statements compiled, the longest runs of consecutive ones that a rule fuses as one."""
    compiled, index = [], 0
    fusing = enabled(interpreter.context)
    calls = [library_call(s, module) for s in statements] if fusing else []
    while index < len(statements):
        for size in GROUP_SIZES:
            group = statements[index:index + size]
            plan = match(interpreter, group, calls[index:index + size]) \
                if fusing and len(group) == size else None
            if plan is not None:
                compiled.append(interpreter.located(compile_group(interpreter, plan, group, module),
                                                    group[0].pos))
                index += size
                break
        else:
            compiled.append(interpreter.compile_statement(statements[index], module))
            index += 1
    return compiled


# ---- the fused statement ---------------------------------------------------------------------

def compile_group(interpreter, plan: Plan, statements, module) -> Callable:
    """One closure for the statements: the fused kernel, or the statements as compiled."""
    plain = [interpreter.compile_statement(s, module) for s in statements]
    exprs = interpreter.expressions(module)
    readers = {role: exprs.compile(e, escaping=False) for role, e in plan.reads.items()}
    dying = frozenset().union(*(interpreter.last_reads.of(s) for s in statements))
    context = interpreter.context
    run_kernel = _observed(interpreter, plan, statements, module, dying)

    def run(frame):
        outputs = run_kernel(frame, {role: read(frame) for role, read in readers.items()})
        if outputs is None:
            for statement in plain:
                statement(frame)
            return
        variables, owned = frame.vars, frame.owned
        for name in dying:                  # what the statements' last reads take
            variables.pop(name, None)
            owned.discard(name)
        for name, value in outputs.items():
            variables[name] = value
            owned.discard(name)
    if context.stats is not None:
        context.stats.fused.add(plan.name)
    return run


def _observed(interpreter, plan: Plan, statements, module, dying) -> Callable:
    """plan.kernel as (frame, values) -> outputs, timed and calibrated under --stats and shown
    by --explain."""
    context = interpreter.context
    stats, explainer = context.stats, getattr(context.planner, "explainer", None)
    if stats is None and explainer is None:
        return lambda frame, values: plan.kernel(values)
    quiet = [interpreter.compile_statement(s, module) for s in statements] if stats is not None else ()
    calls = [0]

    def observed(frame, values):
        before = _calibration_frame(frame, dying) if calls[0] in CALIBRATED_CALLS and quiet else None
        begin = time.perf_counter()
        outputs = plan.kernel(values)
        if outputs is None:
            return None
        fused_seconds = time.perf_counter() - begin
        calls[0] += 1
        if explainer is not None:
            explainer.fused(statements[0].pos, plan.name, [v.shape for v in values.values()
                                                   if isinstance(v, np.ndarray)], plan.replaces)
        if stats is not None:
            stats.fusion_ran(plan.name, fused_seconds)
            if before is not None:
                plain = stats.unrecorded(lambda: [statement(before) for statement in quiet])
                stats.fusion_calibrated(plan.name, plain, fused_seconds)
        return outputs
    return observed


def _calibration_frame(frame, dying) -> Frame:
    """A copy of the frame for the plain statements: the matrices they read for the last time
    are copies that only this frame holds, so the plain path may write into them as it would in
    an unfused run (inplace.py); everything else is shared and only read."""
    variables = {name: value.copy() if name in dying and type(value) is np.ndarray else value
                 for name, value in frame.vars.items()}
    return Frame(variables, frame.stack)
