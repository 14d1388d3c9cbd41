"""What the benchmarks share: options, result rows, side-by-side timing and the table.

A benchmark is a function `(Options) -> list[Row]`, registered in bench/run.py's BENCHMARKS.
Each row is one comparison measured in this process: kerasdml's seconds, the reference's
seconds (Keras, TensorFlow, plain Python, Spark...) and, where the project set one, the target
the ratio kerasdml / reference must meet.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Options:
    repeats: int = 3          # timed runs per side; the best counts
    quick: bool = False       # smaller workloads, for a fast look
    full: bool = False        # full workloads (a whole 60,000-image MNIST epoch)


@dataclass
class Row:
    benchmark: str
    kerasdml: float           # seconds
    reference: float          # seconds
    reference_name: str
    target: float | None = None     # the largest acceptable ratio kerasdml / reference
    limit: float | None = None      # or: the largest acceptable kerasdml seconds
    notes: list[str] = field(default_factory=list)
    unit: str = "s"           # or "MB": the two figures are memory, not time

    @property
    def ratio(self) -> float:
        return self.kerasdml / self.reference

    @property
    def verdict(self) -> str:
        if self.target is not None:
            return "met" if self.ratio <= self.target else "NOT met"
        if self.limit is not None:
            return "met" if self.kerasdml <= self.limit else "NOT met"
        return ""

    @property
    def goal(self) -> str:
        if self.target is not None:
            return f"<= {self.target:g}x"
        return f"< {self.limit:g} s" if self.limit is not None else ""


def seconds_once(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def side_by_side(ours: Callable[[], object], reference: Callable[[], object],
                 repeats: int) -> tuple[float, float]:
    """Best seconds of each of two functions, run alternately so that both see the same load.

    The minimum, not the mean: on a shared machine other processes only ever add time, and
    the minimum is the figure least disturbed by them. A short pause before each run lets the
    other library's worker threads stop spinning (OpenBLAS and TensorFlow busy-wait after a
    call, which on a small machine steals the cores the next measurement needs)."""
    best_ours = best_reference = float("inf")
    for _ in range(repeats):
        time.sleep(0.2)
        best_ours = min(best_ours, seconds_once(ours))
        time.sleep(0.2)
        best_reference = min(best_reference, seconds_once(reference))
    return best_ours, best_reference


def _seconds(value: float) -> str:
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def _figure(row: Row, value: float) -> str:
    return f"{value:.0f} MB" if row.unit == "MB" else _seconds(value)


def format_table(rows: list[Row]) -> str:
    header = ("benchmark", "kerasdml", "reference", "ratio", "target", "")
    lines = [(r.benchmark, _figure(r, r.kerasdml), f"{_figure(r, r.reference)} {r.reference_name}",
              f"{r.ratio:.2f}x", r.goal, r.verdict) for r in rows]
    widths = [max(len(str(line[k])) for line in [header, *lines]) for k in range(len(header))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    notes = [f"- {r.benchmark}: {note}" for r in rows for note in r.notes]
    return "\n".join(out + ([""] + notes if notes else []))
