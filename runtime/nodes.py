"""The DML syntax tree: small frozen dataclasses that keep their source position."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SourcePosition


@dataclass(frozen=True)
class Node:
    pos: SourcePosition = field(compare=False, repr=False, kw_only=True)


# ---- expressions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Literal(Node):
    value: int | float | bool | str


@dataclass(frozen=True)
class Var(Node):
    name: str


@dataclass(frozen=True)
class CommandLineArg(Node):
    """`$name` or `$1`: name is the text after the dollar sign."""
    name: str


@dataclass(frozen=True)
class IndexRange(Node):
    """One dimension of an index: `lower` alone, `lower:upper`, or everything (both None)."""
    lower: "Expr | None"
    upper: "Expr | None"
    is_range: bool


@dataclass(frozen=True)
class Index(Node):
    """Right indexing `X[rows, cols]`."""
    name: str
    rows: IndexRange
    cols: IndexRange


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: "Expr"


@dataclass(frozen=True)
class Argument(Node):
    name: str | None  # None for a positional argument
    value: "Expr"


@dataclass(frozen=True)
class Call(Node):
    name: str  # may carry a namespace: "ns::f"
    args: tuple[Argument, ...]


@dataclass(frozen=True)
class ListExpr(Node):
    """`[a, b, c]`, used for shape arguments such as input_shape=[N, C, H, W]."""
    items: tuple["Expr", ...]


Expr = Literal | Var | CommandLineArg | Index | Binary | Unary | Call | ListExpr


# ---- statements -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Assign(Node):
    name: str
    value: Expr
    op: str = "="  # "=", "+=" or "-="


@dataclass(frozen=True)
class IndexAssign(Node):
    """Left indexing `X[rows, cols] = value`."""
    name: str
    rows: IndexRange
    cols: IndexRange
    value: Expr
    op: str = "="


@dataclass(frozen=True)
class MultiAssign(Node):
    names: tuple[str, ...]
    call: Call


@dataclass(frozen=True)
class ExprStatement(Node):
    call: Call


@dataclass(frozen=True)
class If(Node):
    condition: Expr
    then_body: tuple["Statement", ...]
    else_body: tuple["Statement", ...]


@dataclass(frozen=True)
class For(Node):
    var: str
    iterable: "Range | Call"
    body: tuple["Statement", ...]
    params: tuple[Argument, ...] = ()
    parallel: bool = False  # parfor


@dataclass(frozen=True)
class Range(Node):
    start: Expr
    stop: Expr


@dataclass(frozen=True)
class While(Node):
    condition: Expr
    body: tuple["Statement", ...]


@dataclass(frozen=True)
class Source(Node):
    path: str
    namespace: str


@dataclass(frozen=True)
class SetWd(Node):
    path: str


Statement = Assign | IndexAssign | MultiAssign | ExprStatement | If | For | While | Source | SetWd


# ---- functions and programs -----------------------------------------------------------------

@dataclass(frozen=True)
class TypeSpec(Node):
    data_type: str   # "scalar", "matrix", "frame", "list"
    value_type: str  # "int", "double", "boolean", "string", "unknown"

    def __str__(self) -> str:
        if self.data_type == "scalar":
            return self.value_type
        return f"{self.data_type}[{self.value_type}]"


@dataclass(frozen=True)
class Param(Node):
    type: TypeSpec
    name: str
    default: Expr | None = None


@dataclass(frozen=True)
class FunctionDef(Node):
    name: str
    params: tuple[Param, ...]
    outputs: tuple[Param, ...]
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class Program(Node):
    statements: tuple[Statement, ...]
    functions: tuple[FunctionDef, ...]
    file: str
