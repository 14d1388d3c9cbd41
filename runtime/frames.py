"""What running DML code needs at its core, shared by the interpreter and function calls: the
variables of one activation (Frame) and running a compiled block of statements."""
from __future__ import annotations


class Frame:
    """The variables of one function activation (or of the main program)."""
    __slots__ = ("vars", "owned", "stack")

    def __init__(self, variables: dict, stack: tuple[str, ...] = ()):
        self.vars = variables
        self.owned: set[str] = set()  # matrices this frame may write in place
        self.stack = stack


def run_block(statements, frame) -> None:
    for statement in statements:
        statement(frame)
