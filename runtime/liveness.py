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
import functools
import threading
from collections import Counter, OrderedDict

from . import nodes as n

BLOCKS = ("body", "then_body", "else_body")
SIMPLE = (n.Assign, n.MultiAssign, n.ExprStatement, n.IndexAssign)


class LastReads:
    """For each simple statement of the analysed blocks, the names it reads for the last time."""

    def __init__(self):
        self._by_statement: dict[int, tuple[object, frozenset[str], frozenset[str]]] = {}

    def analyse(self, statements, live_at_exit: set[str]) -> None:
        self._by_statement.update(_annotations(statements, frozenset(live_at_exit)))

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


# Analyses of recent blocks: parsed programs are cached (parser.py), so a script run again (every
# predict call of a compiled model) analyses the same statement objects; ids are only
# trusted while the entry holds the statements themselves.
_RECENT: OrderedDict[tuple[int, frozenset[str]], tuple[object, dict]] = OrderedDict()
_RECENT_BLOCKS = 512
_RECENT_LOCK = threading.Lock()


def _annotations(statements, live_at_exit: frozenset[str]) -> dict:
    key = (id(statements), live_at_exit)
    with _RECENT_LOCK:                  # interpreters in threads (paramserv workers) share it
        entry = _RECENT.get(key)
        if entry is not None and entry[0] is statements:
            _RECENT.move_to_end(key)
            return entry[1]
    annotations: dict = {}
    _block(statements, set(live_at_exit), _Analysis(annotations))
    with _RECENT_LOCK:
        _RECENT[key] = (statements, annotations)
        if len(_RECENT) > _RECENT_BLOCKS:
            _RECENT.popitem(last=False)
    return annotations


class _Analysis:
    """One analysis: the annotations it finds, and each statement's reads, computed once
    (a loop's fixed point visits its body several times)."""

    def __init__(self, annotations: dict):
        self.annotations = annotations
        self._summaries: dict[int, tuple] = {}

    def summary(self, statement) -> tuple[Counter, set[str], set[str]]:
        """A simple statement's reads (with counts), assigned names and indexed names."""
        entry = self._summaries.get(id(statement))
        if entry is None:
            entry = (Counter(_statement_reads(statement)), _assigned(statement),
                     _indexed(statement))
            self._summaries[id(statement)] = entry
        return entry

    def reads(self, statement, parts) -> set[str]:
        """The names a loop's or branch's own parts (its condition, a loop header) read."""
        entry = self._summaries.get(id(statement))
        if entry is None:
            entry = self._summaries[id(statement)] = set(_reads(parts))
        return entry


def _block(statements, live: set[str], analysis: _Analysis) -> set[str]:
    """Annotates the block given what is live after it; returns what is live before it."""
    for statement in reversed(statements):
        live = _statement(statement, live, analysis)
    return live


def _statement(statement, live_out: set[str], analysis: _Analysis) -> set[str]:
    if isinstance(statement, n.If):
        then_in = _block(statement.then_body, set(live_out), analysis)
        else_in = _block(statement.else_body, set(live_out), analysis)
        return then_in | else_in | analysis.reads(statement, statement.condition)
    if isinstance(statement, n.While):
        return _loop(statement.body, live_out, analysis.reads(statement, statement.condition), analysis)
    if isinstance(statement, n.For):
        header = analysis.reads(statement, (statement.iterable, [p.value for p in statement.params]))
        return _loop(statement.body, live_out, set(), analysis, loop_var=statement.var) | header
    if not isinstance(statement, SIMPLE):
        return set(live_out)
    reads, assigned, indexed = analysis.summary(statement)
    dying = {name for name, count in reads.items()
             if count == 1 and (name not in live_out or name in assigned)}
    released = {name for name in indexed if name not in live_out and name not in assigned}
    analysis.annotations[id(statement)] = (statement, frozenset(dying - indexed), frozenset(released))
    return (live_out - assigned) | reads.keys()


def _loop(body, live_out: set[str], condition: set[str], analysis: _Analysis,
          loop_var: str | None = None) -> set[str]:
    """What is live at a loop's head: what the exit needs, the condition, and the body's
    live-in for the next iteration (the loop variable is assigned before the body runs)."""
    head = set(live_out) | condition
    while True:
        body_in = _block(body, set(head), analysis)
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
        for name in _children(type(value), nested):
            _walk(getattr(value, name), visit, nested)


@functools.cache
def _children(kind: type, nested: bool) -> tuple[str, ...]:
    """The fields of a node class that may hold nodes (blocks only if nested)."""
    return tuple(field.name for field in dataclasses.fields(kind)
                 if field.name != "pos" and (nested or field.name not in BLOCKS))
