"""Interpreter overhead: a DML loop of 100,000 iterations of scalar statements.

Prints the time per run and the ratio to the same loop written in plain Python, measured in the
same process. Target: the 100k-iteration DML loop in under 0.5 s.

    python bench/bench_interpreter.py        (or: python bench/run.py interpreter)
"""
from __future__ import annotations

import io
import time

from kerasdml.runtime.api import run_string

ITERATIONS = 100_000
SCRIPT = f"""
s = 0
x = 0.5
for (i in 1:{ITERATIONS}) {{
  s = s + i
}}
print(s)
"""
# Three statements per iteration: arithmetic, a comparison in an if, and a double update.
MIXED_SCRIPT = f"""
s = 0
x = 0.5
for (i in 1:{ITERATIONS}) {{
  s = s + i * 2
  if (i %% 2 == 0) {{
    x = x * 0.999 + 1
  }}
}}
print(s + " " + x)
"""


def python_reference() -> int:
    s = 0
    for i in range(1, ITERATIONS + 1):
        s = s + i
    return s


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def rows(options) -> list:
    from harness import Row, side_by_side
    out = io.StringIO()
    dml, python = side_by_side(lambda: run_string(SCRIPT, out=out), python_reference,
                               options.repeats)
    mixed = best_of(lambda: run_string(MIXED_SCRIPT, out=out), options.repeats)
    return [Row("interpreter: DML loop, 100k scalar assignments", dml, python, "plain Python",
                limit=0.5),
            Row("interpreter: DML loop, 100k x (assign, if, modulo, update)", mixed, python,
                "plain Python")]


def main() -> None:
    out = io.StringIO()
    dml = best_of(lambda: run_string(SCRIPT, out=out))
    mixed = best_of(lambda: run_string(MIXED_SCRIPT, out=out))
    python = best_of(python_reference)
    print(f"{'benchmark':<46} {'seconds':>9} {'ratio':>9}")
    print(f"{'python loop, 100k scalar assignments':<46} {python:>9.4f} {1.0:>8.1f}x")
    print(f"{'DML loop, 100k scalar assignments':<46} {dml:>9.4f} {dml / python:>8.1f}x")
    print(f"{'DML loop, 100k x (assign, if, modulo, update)':<46} {mixed:>9.4f} {mixed / python:>8.1f}x")
    print(f"target: 100k scalar assignments < 0.5 s -> {'met' if dml < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
