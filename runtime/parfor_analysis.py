"""What a parfor body shares between iterations: its result variables and its dependencies.

Iterations of a parfor are independent: each sees the variables as they were before the loop, and
only result matrices (written by left indexing, e.g. `R[i, ] = ...`, or accumulated by
`R += ...`) are merged afterwards. A body that reads a variable which an earlier iteration assigns
(`x = x + i`) would compute something else than the sequential loop, so, like SystemDS, such
loops are refused unless `check=0`.
"""
from __future__ import annotations

import dataclasses

from . import nodes as n


def result_variables(statements) -> set[str]:
    """Names written by left indexing anywhere in a block."""
    names: set[str] = set()
    for statement in statements:
        if isinstance(statement, n.IndexAssign):
            names.add(statement.name)
        for block in _blocks(statement):
            names |= result_variables(block)
    return names


@dataclasses.dataclass(frozen=True)
class ParforResults:
    """What a parfor merges back after its iterations, as SystemDS merges it."""
    checked: bool           # dependencies between iterations are refused (no check=0)
    sums: list[str]         # accumulators: what each iteration adds by `R += ...` is added up
    results: list[str]      # the left-indexed result matrices, then the accumulators
    plain: list[str]        # with check=0: matrices the body assigns as a whole (V = f(V))


def parfor_results(node: n.For) -> ParforResults:
    check = next((p.value for p in node.params if p.name == "check"), None)
    checked = not (isinstance(check, n.Literal) and check.value in (0, False))
    sums = sorted(accumulators(node.body))
    results = sorted(result_variables(node.body)) + sums
    plain = [] if checked else sorted(_assigned(node.body) - {node.var} - set(results))
    return ParforResults(checked, sums, results, plain)


def accumulators(statements) -> set[str]:
    """Result accumulators: variables the body only updates by `R += expr` (never assigns
    otherwise, never reads elsewhere). Like SystemDS, a parfor adds up what each iteration
    added to such a matrix, so `R += ...` is no dependency between iterations."""
    updated = _gathered(statements, _accumulated)
    others = _gathered(statements, _other_uses)
    return updated - others - result_variables(statements)


def _accumulated(statement) -> set[str]:
    if isinstance(statement, n.Assign) and statement.op == "+=":
        return {statement.name}
    return set()


def _other_uses(statement) -> set[str]:
    """The variables a statement assigns or reads, apart from the target of its `+=`."""
    if isinstance(statement, n.Assign) and statement.op == "+=":
        names: set[str] = set()
        _expression_reads(statement.value, names)
        return names
    return _targets(statement) | _reads(statement)


def loop_carried(statements, loop_var: str) -> set[str]:
    """Variables assigned in the body and read, in some iteration, before being assigned in it."""
    assigned = _assigned(statements) - {loop_var} - accumulators(statements)
    carried: set[str] = set()
    _walk(statements, set(), assigned, carried)
    return carried


def _walk(statements, defined: set[str], assigned: set[str], carried: set[str]) -> set[str]:
    """Visits statements in order; `defined` holds names surely assigned earlier in this iteration."""
    for statement in statements:
        carried |= (_reads(statement) & assigned) - defined
        if isinstance(statement, n.If):
            then_defined = _walk(statement.then_body, set(defined), assigned, carried)
            else_defined = _walk(statement.else_body, set(defined), assigned, carried)
            defined |= then_defined & else_defined
        elif isinstance(statement, (n.For, n.While)):
            inner = set(defined) | ({statement.var} if isinstance(statement, n.For) else set())
            _walk(statement.body, inner, assigned, carried)  # may run zero times: defines nothing
        else:
            defined |= _targets(statement)
    return defined


def _targets(statement) -> set[str]:
    if isinstance(statement, n.Assign):
        return {statement.name}
    if isinstance(statement, n.MultiAssign):
        return set(statement.names)
    return set()


def _gathered(statements, pick) -> set[str]:
    """The union of pick(statement) over a block's statements, nested blocks included."""
    names: set[str] = set()
    for statement in statements:
        names |= pick(statement)
        for block in _blocks(statement):
            names |= _gathered(block, pick)
    return names


def _assigned(statements) -> set[str]:
    return _gathered(statements, _targets)


def read_names(statements) -> set[str]:
    """The variables a block's expressions read (what a parfor body needs shipped)."""
    return _gathered(statements, _reads)


def _reads(statement) -> set[str]:
    """Variables a statement's own expressions read (not those of nested blocks)."""
    names: set[str] = set()
    if isinstance(statement, n.Assign) and statement.op != "=":
        names.add(statement.name)
    for field in dataclasses.fields(statement):
        if field.name in ("body", "then_body", "else_body", "pos"):
            continue
        _expression_reads(getattr(statement, field.name), names)
    return names


def _expression_reads(value, names: set[str]) -> None:
    if isinstance(value, (n.Var, n.Index)):
        names.add(value.name)
    if isinstance(value, (tuple, list)):
        for item in value:
            _expression_reads(item, names)
    elif isinstance(value, n.Node):
        for field in dataclasses.fields(value):
            if field.name != "pos":
                _expression_reads(getattr(value, field.name), names)


def _blocks(statement):
    return [getattr(statement, a) for a in ("then_body", "else_body", "body") if hasattr(statement, a)]
