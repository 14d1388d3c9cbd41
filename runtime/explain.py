"""`--explain`: the plan as it runs, one line per matrix operation, grouped by statement line.

    # EXPLAIN mode=hybrid budget=700.0 MB block=1000
    script.dml line 4
      %*%            10000x784 784x10 -> 10000x10       781.2 KB  SPARK(broadcast)

Sizes are known only when an operation runs (DML has no static shapes here), so the plan is
printed as the program executes; an operation inside a loop is shown once per distinct plan.
"""
from __future__ import annotations

from typing import TextIO


def format_bytes(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def _dims(shape) -> str:
    return f"{shape[0]}x{shape[1]}"


class Explainer:
    def __init__(self, out: TextIO, planner):
        self.out = out
        self.seen: set = set()
        self.statement = None
        spark = planner.spark
        block = f" block={spark.block}" if spark is not None else ""
        collect = f" collect<={format_bytes(planner.collect_limit)}" if planner.mode == "hybrid" else ""
        out.write(f"# EXPLAIN mode={planner.mode} budget={format_bytes(planner.budget)}{collect}{block}\n")

    def _header(self, position) -> None:
        statement = (position.file, position.line) if position is not None else None
        if statement != self.statement:
            self.statement = statement
            where = f"{position.file} line {position.line}" if position is not None else "<input>"
            self.out.write(where + "\n")

    def record(self, position, name: str, shapes, decision) -> None:
        key = (position, name, tuple(shapes), str(decision))
        if key in self.seen:
            return
        self.seen.add(key)
        self._header(position)
        output = decision.output or (max(shapes, key=lambda s: s[0] * s[1]) if shapes else None)
        operands = " ".join(_dims(s) for s in shapes)
        result = f" -> {_dims(decision.output)}" if decision.output else ""
        size = format_bytes(output[0] * output[1] * 8) if output else "-"
        self.out.write(f"  {name:<14} {operands + result:<34} {size:>10}  {decision}\n")

    def parfor(self, position, where: str) -> None:
        key = (position, "parfor", where)
        if key not in self.seen:
            self.seen.add(key)
            self._header(position)
            self.out.write(f"  {'parfor':<14} {'':<34} {'':>10}  {where}\n")

    def fused(self, position, name: str, shapes, replaces: str) -> None:
        """A fusion across statements, shown once per statement pair and shapes."""
        key = (position, name, tuple(shapes))
        if key not in self.seen:
            self.seen.add(key)
            self._header(position)
            operands = " ".join(_dims(s) for s in shapes)
            self.out.write(f"  {'fused':<14} {operands:<34} {'':>10}  LOCAL {name} (one pass: "
                           f"{replaces})\n")
