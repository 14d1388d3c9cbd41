"""Which variable reads are the last ones: a liveness analysis of a DML block.

A variable is live after a statement when some later statement may read it before it is
assigned again. A statement that reads a variable which is dead after it (or which the
statement itself overwrites, as `X = X - lr * dX` does) holds the last reference the program
will use: the interpreter then takes the value out of the frame while evaluating, and an
operation whose operand nothing else holds may write its result into the operand's buffer
(inplace.py). The same frees dead intermediates as soon as their last reader has run.

    live_in(s) = reads(s) | (live_out(s) - assigned(s))

Loops iterate to a fixed point; a branch's blocks share the statement's live-out. Only simple
statements (assignments and calls) are annotated, and only variables read exactly once in them,
as a plain name: with two reads, the first must not take the value the second still needs.
Variables read through indexing (`l["W"]`, `M[i, ]`) are read from the frame; when they are
dead after the statement, the interpreter drops them once it ran (`released`): a list whose
entries were all read out then no longer holds them.
"""
from __future__ import annotations

import dataclasses
from collections import Counter

from . import nodes as n

BLOCKS = ("body", "then_body", "else_body")
SIMPLE = (n.Assign, n.MultiAssign, n.ExprStatement, n.IndexAssign)


class LastReads:
    """For each simple statement of the analysed blocks, the names it reads for the last time."""

    def __init__(self):
        self._by_statement: dict[int, tuple[object, frozenset[str], frozenset[str]]] = {}

    def analyse(self, statements, live_at_exit: set[str]) -> None:
        _block(statements, set(live_at_exit), self._by_statement)

    def of(self, statement) -> frozenset[str]:
        """The names `statement` may take; none for a statement that was not analysed."""
        return self._entry(statement)[1]

    def released(self, statement) -> frozenset[str]:
        """The names `statement` reads through indexing for the last time."""
        return self._entry(statement)[2]

    def _entry(self, statement) -> tuple:
        entry = self._by_statement.get(id(statement))
        return entry if entry is not None and entry[0] is statement else (None, frozenset(), frozenset())


def every_name(statements) -> set[str]:
    """Every variable a block reads or assigns (what is live after a program whose variables
    may all be read afterwards)."""
    names: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, (n.Var, n.Index, n.Assign, n.IndexAssign)):
            names.add(node.name)
        elif isinstance(node, n.MultiAssign):
            names.update(node.names)
        elif isinstance(node, n.For):
            names.add(node.var)
    _walk(statements, visit, nested=True)
    return names


def _block(statements, live: set[str], found: dict) -> set[str]:
    """Annotates the block given what is live after it; returns what is live before it."""
    for statement in reversed(statements):
        live = _statement(statement, live, found)
    return live


def _statement(statement, live_out: set[str], found: dict) -> set[str]:
    if isinstance(statement, n.If):
        then_in = _block(statement.then_body, set(live_out), found)
        else_in = _block(statement.else_body, set(live_out), found)
        return then_in | else_in | set(_reads(statement.condition))
    if isinstance(statement, n.While):
        return _loop(statement.body, live_out, set(_reads(statement.condition)), found)
    if isinstance(statement, n.For):
        header = _reads(statement.iterable) + [r for p in statement.params
                                               for r in _reads(p.value)]
        return _loop(statement.body, live_out, set(), found, loop_var=statement.var) | set(header)
    if not isinstance(statement, SIMPLE):
        return set(live_out)
    reads = Counter(_statement_reads(statement))
    assigned = _assigned(statement)
    dying = {name for name, count in reads.items()
             if count == 1 and (name not in live_out or name in assigned)}
    indexed = _indexed(statement)
    released = {name for name in indexed if name not in live_out and name not in assigned}
    found[id(statement)] = (statement, frozenset(dying - indexed), frozenset(released))
    return (live_out - assigned) | set(reads)


def _loop(body, live_out: set[str], condition: set[str], found: dict,
          loop_var: str | None = None) -> set[str]:
    """What is live at a loop's head: what the exit needs, the condition, and the body's
    live-in for the next iteration (the loop variable is assigned before the body runs)."""
    head = set(live_out) | condition
    while True:
        body_in = _block(body, set(head), found)
        if loop_var is not None:
            body_in.discard(loop_var)
        new_head = head | body_in
        if new_head == head:
            return head
        head = new_head


def _assigned(statement) -> set[str]:
    if isinstance(statement, n.Assign):
        return {statement.name}
    if isinstance(statement, n.MultiAssign):
        return set(statement.names)
    return set()


def _statement_reads(statement) -> list[str]:
    """Every read of a variable in the statement, once per occurrence."""
    if isinstance(statement, n.Assign):
        own = [statement.name] if statement.op != "=" else []
        return own + _reads(statement.value)
    if isinstance(statement, n.IndexAssign):
        return [statement.name, statement.name] + _reads(statement.rows) \
            + _reads(statement.cols) + _reads(statement.value)
    return _reads(statement.call)


def names_read(node) -> set[str]:
    """The variables an expression (or statement) reads."""
    return set(_reads(node))


def _indexed(statement) -> set[str]:
    """Names read through indexing (M[i, j]): their reads go through the frame, never taken."""
    names: set[str] = set()
    _walk(statement, lambda node: names.add(node.name) if isinstance(node, n.Index) else None)
    return names


def _reads(node) -> list[str]:
    names: list[str] = []
    _walk(node, lambda item: names.append(item.name)
          if isinstance(item, (n.Var, n.Index)) else None)
    return names


def _walk(value, visit, nested: bool = False) -> None:
    """visit(node) for every node of value, the blocks of loops and branches only if nested."""
    if isinstance(value, (tuple, list)):
        for item in value:
            _walk(item, visit, nested)
    elif isinstance(value, n.Node):
        visit(value)
        for field in dataclasses.fields(value):
            if field.name != "pos" and (nested or field.name not in BLOCKS):
                _walk(getattr(value, field.name), visit, nested)
