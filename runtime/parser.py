"""Parses DML text into the syntax tree of nodes.py, with the grammar in dml.lark."""
from __future__ import annotations

import functools
import math
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken,
                             VisitError)

from . import nodes as n
from .errors import DMLSyntaxError, SourcePosition

GRAMMAR_FILE = Path(__file__).with_name("dml.lark")
_INT64_MAX = 2**63 - 1

# SystemDS's builtin double constants: names that read as values everywhere (a loop variable or
# parameter of the same name does not shadow them) and can never be assigned.
BUILTIN_CONSTANTS = {"NaN": math.nan, "Inf": math.inf}

# Token names shown to users when a parse fails, instead of lark's terminal names.
TOKEN_DESCRIPTIONS = {
    "ID": "a name", "INT": "an integer", "DOUBLE": "a number", "STRING": "a string",
    "CMD_NAMED": "a $argument", "CMD_POS": "a $argument", "VALUE_TYPE": "a value type",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
    "COMMA": "','", "SEMICOLON": "';'", "COLON": "':'", "EQUAL": "'='", "_ASSIGN": "'=' or '<-'",
    "ASSIGN_OP": "'+=' or '-='", "OR_OP": "'|'", "AND_OP": "'&'", "NOT": "'!'",
    "REL_OP": "a comparison", "ADD_OP": "'+' or '-'", "MUL_OP": "'*' or '/'",
    "MOD_OP": "'%%' or '%/%'", "MATMUL_OP": "'%*%'", "POW_OP": "'^'", "$END": "end of input",
    "_RETURN": "'return'", "MULTI_LSQB": "'['",
}


@functools.cache
def _lark() -> Lark:
    return Lark(GRAMMAR_FILE.read_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True, cache=False)


def syntax_tree(text: str):
    """The grammar's parse tree of a program, with each node's source positions (meta), for
    tools that rewrite the source text (mlcontext.bound_reads); raises lark's errors."""
    return _lark().parse(text)


@functools.lru_cache(maxsize=256)
def parse(text: str, file: str = "<string>") -> n.Program:
    """Parses a whole DML program; raises DMLSyntaxError with file:line:col on bad input.
    Syntax trees are immutable, so a script run again (each epoch of a training loop driven
    from Python, the library files it sources) is parsed once."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(err, text, file) from None
    try:
        return _ToNodes(file).transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, DMLSyntaxError):
            raise err.orig_exc from None
        raise


def _syntax_error(err: UnexpectedInput, text: str, file: str) -> DMLSyntaxError:
    lines = text.splitlines()
    line = getattr(err, "line", -1)
    column = getattr(err, "column", -1)
    at_end = isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END")
    if at_end or line < 1:
        line, column = max(len(lines), 1), (len(lines[-1]) + 1 if lines else 1)
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream]
        message = (f"unterminated string starting with {char}" if char in "\"'"
                   else f"unexpected character {char!r}")
    elif isinstance(err, UnexpectedToken):
        found = "end of input" if err.token.type == "$END" else repr(str(err.token))
        message = f"unexpected {found}"
    else:
        message = "unexpected end of input"
    expected = _describe_expected(set(getattr(err, "expected", None) or ()))
    if expected:
        message += "; expected " + expected
    return DMLSyntaxError(message, SourcePosition(file, line, column), line_text)


# Mid-expression, every binary operator may follow; naming them all would bury the message.
OPERATOR_TOKENS = {"OR_OP", "AND_OP", "REL_OP", "ADD_OP", "MUL_OP", "MOD_OP", "MATMUL_OP", "POW_OP"}


def _describe_expected(terminals: set[str]) -> str:
    described = sorted({TOKEN_DESCRIPTIONS.get(t, _describe_terminal(t)) for t in terminals - OPERATOR_TOKENS})
    if terminals & OPERATOR_TOKENS:
        described.insert(0, "an operator")
    if len(described) > 8:
        described = described[:8] + ["..."]
    return ", ".join(described)


def _describe_terminal(name: str) -> str:
    """Anonymous keyword terminals are named after the keyword in upper case (IF, FOR, ...)."""
    try:
        return repr(_lark().get_terminal(name).pattern.value)
    except (KeyError, AttributeError):
        return name


def _unescape(literal: str) -> str:
    """A string literal's text. As in SystemDS, the escapes \\n \\t \\" \\' are replaced one after
    the other as substrings, and a doubled backslash is kept as two backslashes."""
    body = literal[1:-1]
    for escape, character in _ESCAPES:
        body = body.replace(escape, character)
    return body


_ESCAPES = (('\\"', '"'), ("\\'", "'"), ("\\n", "\n"), ("\\t", "\t"))


def _number_text(token: Token) -> str:
    return token.rstrip("lL")


@v_args(meta=True)
class _ToNodes(Transformer):
    """Builds nodes.py dataclasses bottom-up; every node keeps file:line:col."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _pos(self, meta) -> SourcePosition:
        return SourcePosition(self.file, getattr(meta, "line", 0), getattr(meta, "column", 0))

    def _tok_pos(self, token: Token) -> SourcePosition:
        return SourcePosition(self.file, token.line, token.column)

    # ---- program and functions
    def start(self, meta, items):
        functions = tuple(i for i in items if isinstance(i, n.FunctionDef))
        statements = tuple(i for i in items if not isinstance(i, n.FunctionDef))
        return n.Program(statements, functions, self.file, pos=SourcePosition(self.file, 1, 1))

    def function_def(self, meta, children):
        name, *rest = children
        params, outputs, body = [], [], []
        for child in rest:
            if isinstance(child, tuple) and child and child[0] == "out":
                outputs.append(child[1])
            elif isinstance(child, n.Param):
                params.append(child)
            elif child is not None:
                body.append(child)
        return n.FunctionDef(str(name), tuple(params), tuple(outputs), tuple(body), pos=self._pos(meta))

    def param(self, meta, children):
        type_spec, name, default = children
        return n.Param(type_spec, str(name), default, pos=self._pos(meta))

    def out_param(self, meta, children):
        type_spec, name = children
        return ("out", n.Param(type_spec, str(name), None, pos=self._pos(meta)))

    def scalar_type(self, meta, children):
        value_type = str(children[0]).lower()
        return n.TypeSpec("scalar", "int" if value_type == "integer" else value_type, pos=self._pos(meta))

    def data_type(self, meta, children):
        data_type, value_type = str(children[0]).lower(), str(children[1]).lower()
        if data_type not in ("matrix", "frame", "list", "scalar"):
            raise _node_error(f"unknown data type {children[0]!r}; expected matrix, frame, list or scalar",
                              self._tok_pos(children[0]))
        value_type = "int" if value_type == "integer" else value_type
        return n.TypeSpec(data_type, value_type, pos=self._pos(meta))

    # ---- statements
    def source_stmt(self, meta, children):
        path, namespace = children
        return n.Source(_unescape(path), str(namespace), pos=self._pos(meta))

    def setwd_stmt(self, meta, children):
        return n.SetWd(_unescape(children[0]), pos=self._pos(meta))

    def assign(self, meta, children):
        name, value = children
        return n.Assign(self._target(name), value, pos=self._pos(meta))

    def op_assign(self, meta, children):
        name, op, value = children
        return n.Assign(self._target(name), value, str(op), pos=self._pos(meta))

    def index_assign(self, meta, children):
        name, (rows, cols), value = children
        return n.IndexAssign(self._target(name), rows, cols, value, pos=self._pos(meta))

    def index_op_assign(self, meta, children):
        name, (rows, cols), op, value = children
        return n.IndexAssign(self._target(name), rows, cols, value, str(op), pos=self._pos(meta))

    def multi_assign(self, meta, children):
        _bracket, *names, call = children
        return n.MultiAssign(tuple(self._target(x) for x in names), call, pos=self._pos(meta))

    def _target(self, name: Token) -> str:
        if str(name) in BUILTIN_CONSTANTS:
            raise _node_error(f"cannot assign a value to the builtin constant {name}", self._tok_pos(name))
        return str(name)

    def call_stmt(self, meta, children):
        call = children[0]
        if isinstance(call, n.Call) and call.name == "write" and call.args:
            self._check_write_target(call)
        return n.ExprStatement(call, pos=self._pos(meta))

    def _check_write_target(self, call) -> None:
        """SystemDS only writes a variable: write(t(X), ...), write(X[1, ], ...) and write(42, ...)
        are rejected before anything runs."""
        if not isinstance(call.args[0].value, n.Var):
            raise _node_error("write's first argument must be a variable name; assign the "
                              "expression to a variable and write that variable", call.pos)

    def if_stmt(self, meta, children):
        condition, then_body, else_body = children
        return n.If(condition, then_body, else_body or (), pos=self._pos(meta))

    def body(self, meta, children):
        return tuple(c for c in children if c is not None)

    def for_stmt(self, meta, children, parallel=False):
        var, iterable, *params, body = children
        return n.For(str(var), iterable, body, tuple(params), parallel, pos=self._pos(meta))

    def parfor_stmt(self, meta, children):
        return self.for_stmt(meta, children, parallel=True)

    def while_stmt(self, meta, children):
        condition, body = children
        return n.While(condition, body, pos=self._pos(meta))

    def range_iter(self, meta, children):
        start, stop = children
        return n.Range(start, stop, pos=self._pos(meta))

    def call_iter(self, meta, children):
        name, args = children
        return n.Call(str(name), args, pos=self._pos(meta))

    # ---- indexing
    def index_list(self, meta, children):
        rows, cols = children
        return (rows or self._all(meta), cols or self._all(meta))

    def _all(self, meta):
        return n.IndexRange(None, None, True, pos=self._pos(meta))

    def index_range(self, meta, children):
        lower, upper = children
        return n.IndexRange(lower, upper, upper is not None, pos=self._pos(meta))

    def index_expr(self, meta, children):
        name, (rows, cols) = children
        return n.Index(str(name), rows, cols, pos=self._pos(meta))

    # ---- expressions
    def binary(self, meta, children):
        left, op, right = children
        return n.Binary(str(op), left, right, pos=self._tok_pos(op))

    def unary(self, meta, children):
        op, operand = children
        if str(op) == "-" and isinstance(operand, n.Literal) and type(operand.value) in (int, float):
            # SystemDS negates a number literal while parsing (exact), a variable at run time
            # (0 - x, through a double)
            return n.Literal(-operand.value, pos=self._tok_pos(op))
        return n.Unary(str(op), operand, pos=self._tok_pos(op))

    def call(self, meta, children):
        name, args = children
        return n.Call(str(name), args, pos=self._pos(meta))

    def arg_list(self, meta, children):
        return tuple(c if isinstance(c, n.Argument) else n.Argument(None, c, pos=c.pos)
                     for c in children if c is not None)

    def named_arg(self, meta, children):
        name, value = children
        return n.Argument(str(name), value, pos=self._pos(meta))

    def list_expr(self, meta, children):
        return n.ListExpr(tuple(children), pos=self._pos(meta))

    def int_lit(self, meta, children):
        value = int(_number_text(children[0]))
        if value > _INT64_MAX:      # DML integers are 64-bit: SystemDS cannot parse the literal
            raise _node_error(f"integer literal {children[0]} does not fit in 64 bits (write it "
                              f"as a double: {children[0]}.0)", self._pos(meta))
        return n.Literal(value, pos=self._pos(meta))

    def double_lit(self, meta, children):
        return n.Literal(float(_number_text(children[0])), pos=self._pos(meta))

    def string_lit(self, meta, children):
        return n.Literal(_unescape(children[0]), pos=self._pos(meta))

    def true_lit(self, meta, children):
        return n.Literal(True, pos=self._pos(meta))

    def false_lit(self, meta, children):
        return n.Literal(False, pos=self._pos(meta))

    def var(self, meta, children):
        name = str(children[0])
        if name in BUILTIN_CONSTANTS:
            return n.Literal(BUILTIN_CONSTANTS[name], pos=self._pos(meta))
        return n.Var(name, pos=self._pos(meta))

    def cmd_named(self, meta, children):
        return n.CommandLineArg(str(children[0])[1:], pos=self._pos(meta))

    def cmd_pos(self, meta, children):
        return n.CommandLineArg(str(children[0])[1:], pos=self._pos(meta))


def _node_error(message: str, position: SourcePosition) -> DMLSyntaxError:
    return DMLSyntaxError(message, position)
