"""The runtime's error types. Each carries where (file:line:col) and what, in DML terms."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourcePosition:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class DMLError(Exception):
    """Base of every error the runtime reports to a user."""


class DMLSyntaxError(DMLError):
    """The text is not valid DML. Carries the position, the offending line and what was expected."""

    def __init__(self, message: str, position: SourcePosition, line_text: str = ""):
        self.message = message
        self.position = position
        self.line_text = line_text
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.position}: syntax error: {self.message}"
        if self.line_text:
            caret = " " * (max(self.position.column, 1) - 1) + "^"
            text += f"\n    {self.line_text}\n    {caret}"
        return text


class DMLRuntimeError(DMLError):
    """A DML program failed while running: the cause, the statement's position and the call stack."""

    def __init__(self, message: str, position: SourcePosition | None = None,
                 call_stack: tuple[str, ...] = ()):
        self.message = message
        self.position = position
        self.call_stack = call_stack
        super().__init__(self.render())

    def located(self, position: SourcePosition, call_stack: tuple[str, ...]) -> "DMLRuntimeError":
        """The same error with a position, keeping the innermost one if already set."""
        if self.position is not None:
            return self
        return type(self)(self.message, position, call_stack)

    def render(self) -> str:
        where = f"{self.position}: " if self.position else ""
        text = f"{where}runtime error: {self.message}"
        if self.call_stack:
            text += "\n  call stack (innermost last): " + " -> ".join(self.call_stack)
        return text


class DMLInterrupted(KeyboardInterrupt):
    """Ctrl-C while a program ran: a KeyboardInterrupt that says which statement it stopped at.
    Not a DMLError, so that no handler of failures swallows the user's request to stop."""

    def __init__(self, position: SourcePosition, call_stack: tuple[str, ...] = ()):
        self.position = position
        self.call_stack = call_stack
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.position}: interrupted (Ctrl-C) while running this statement"
        if self.call_stack:
            text += "\n  call stack (innermost last): " + " -> ".join(self.call_stack)
        return text


class DMLStopError(DMLRuntimeError):
    """Raised by the DML builtin stop(); its message is the user's."""
