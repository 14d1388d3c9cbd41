"""What one run of a DML program carries: arguments, output stream, precision, statistics."""
from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

PRECISIONS = {"double": np.float64, "single": np.float32}


@dataclass
class Statistics:
    """Count and seconds per builtin or operator, for `kerasdml run --stats`."""
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    started: float = field(default_factory=time.perf_counter)
    fused: set[str] = field(default_factory=set)   # the names of fused or in-place operations
    # fusions across statements: name -> [runs, seconds], and the calibration samples
    # name -> [(plain seconds, fused seconds), ...] (statement_fusion.py)
    fusions: dict[str, list] = field(default_factory=dict)
    calibrations: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    def fusion_ran(self, name: str, seconds: float) -> None:
        entry = self.fusions.setdefault(name, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds

    def fusion_calibrated(self, name: str, plain: float, fused: float) -> None:
        self.calibrations[name].append((plain, fused))

    def unrecorded(self, work) -> float:
        """Seconds work() takes, its operations left out of the counters (a calibration run)."""
        counts, seconds = dict(self.counts), dict(self.seconds)
        begin = time.perf_counter()
        try:
            work()
            return time.perf_counter() - begin
        finally:
            self.counts.clear()
            self.counts.update(counts)
            self.seconds.clear()
            self.seconds.update(seconds)

    def timed(self, name: str, function):
        counts, seconds, clock = self.counts, self.seconds, time.perf_counter

        def run(*args, **kwargs):
            begin = clock()
            try:
                return function(*args, **kwargs)
            finally:
                counts[name] += 1
                seconds[name] += clock() - begin
        return run

    def report(self, top: int = 15) -> str:
        total = time.perf_counter() - self.started
        lines = [f"Total elapsed time: {total:.3f} sec.", "Heavy hitter operations:",
                 f"  {'#':>3}  {'operation':<24} {'time(s)':>10} {'count':>10}"]
        ranked = sorted(self.seconds.items(), key=lambda item: -item[1])[:top]
        for rank, (name, seconds) in enumerate(ranked, 1):
            lines.append(f"  {rank:>3}  {name:<24} {seconds:>10.3f} {self.counts[name]:>10}")
        ran = sorted((name for name in self.fused if self.counts[name]), key=lambda k: -self.seconds[k])
        if ran:
            lines.append("Fused operations (one pass over memory) and results written in place:")
            lines += [f"       {name:<24} {self.seconds[name]:>10.3f} {self.counts[name]:>10}"
                      for name in ran]
        return "\n".join(lines + self._fusion_report())

    def _fusion_report(self) -> list[str]:
        """Each fusion across statements: its runs, its time, and the time it saved, estimated
        from calibration calls that also ran the plain statements (on copies of the inputs)."""
        if not self.fusions:
            return []
        lines = ["Fused across statements (saved: runs x mean(plain - fused) over the calibration "
                 "calls, which also ran the plain statements; their time is in the total above):",
                 f"       {'fusion':<32} {'time(s)':>10} {'count':>8} {'saved(s)':>10} {'calibrated':>10}"]
        for name, (runs, seconds) in sorted(self.fusions.items(), key=lambda item: -item[1][1]):
            samples = self.calibrations.get(name, [])
            saved = f"{runs * sum(p - f for p, f in samples) / len(samples):.3f}" if samples else "-"
            lines.append(f"       {name:<32} {seconds:>10.3f} {runs:>8} {saved:>10} {len(samples):>10}")
        return lines


@dataclass
class Context:
    args: dict[str, object] = field(default_factory=dict)  # "$name" and "$1" values by name
    out: TextIO = field(default_factory=lambda: sys.stdout)
    precision: str = "double"
    stats: Statistics | None = None
    planner: object | None = None  # a runtime.planner.Planner when matrix ops may leave numpy
    outputs: frozenset[str] | None = None  # variables read after the run (None: any of them)
    # called as on_iteration(frame, loop variable) after each iteration of a for loop: how a
    # caller watches a long loop (training progress) without the script printing anything
    on_iteration: object | None = None
    # what a runtime keeps from one statement to a later one and drops with the run (paramserv
    # on Spark keeps its workers' partitions here), by owner
    run_caches: dict = field(default_factory=dict)
    # how a missing `$name` is passed, said in its error: a format of {name} (MLContext's
    # '.input("${name}", ...)'); None: the command line's -nvargs name=... / -args
    argument_hint: str | None = None

    @property
    def dtype(self):
        return PRECISIONS[self.precision]
