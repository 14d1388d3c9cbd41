"""The layout of every generated script, applied once to the rendered text: each line indented
by its nesting (two spaces per open brace; a line continuing a statement inside open parentheses
four more), at most one blank line in a row and none just inside braces, and no `;` at the end of
a line (DML ends a statement at the line's end, a multi-assignment `[a, b] = f(x)` on the next
line included)."""
from __future__ import annotations

INDENT = "  "
CONTINUATION = INDENT * 2


def code_part(line: str) -> str:
    """The line without its comment and with string literals blanked, for counting braces."""
    out, quote = [], None
    for char in line:
        if quote:
            if char == quote:
                quote = None
                out.append(char)
            else:
                out.append(" ")
        elif char in "\"'":
            quote = char
            out.append(char)
        elif char == "#":
            break
        else:
            out.append(char)
    return "".join(out)


def format_dml(text: str) -> str:
    lines, depth, parentheses = [], 0, 0
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if lines and lines[-1] and not lines[-1].endswith("{"):
                lines.append("")
            continue
        code = code_part(line)
        closing = len(code) - len(code.lstrip("}"))
        if closing and lines and lines[-1] == "":
            lines.pop()  # no blank line before a closing brace
        depth = max(depth - closing, 0)
        continued = CONTINUATION if parentheses else ""
        lines.append(INDENT * depth + continued + _without_semicolon(line, code))
        depth += code.count("{") - code.count("}") + closing
        parentheses = max(parentheses + code.count("(") - code.count(")"), 0)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _without_semicolon(line: str, code: str) -> str:
    stripped = code.rstrip()
    if not stripped.endswith(";"):
        return line
    cut = len(stripped) - 1
    return (line[:cut].rstrip() + line[len(stripped):]).rstrip()
