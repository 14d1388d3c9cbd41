"""The conformance suite's runner, shared by the local and the Spark tests: the programs under
tests/runtime/conformance, their `# args:` lines, and what a program prints."""
from __future__ import annotations

import io
import shlex
from pathlib import Path

from kerasdml.runtime.api import run_file
from kerasdml.runtime.cli import script_arguments

SUITE = Path(__file__).resolve().parents[1] / "runtime" / "conformance"
PROGRAMS = sorted(SUITE.glob("*.dml"))


def program_arguments(program: Path, scratch: Path) -> dict:
    """The `# args: -nvargs a=1` / `# args: -args x y` first line, SCRATCH replaced by a temp dir."""
    first = program.read_text().splitlines()[0]
    if not first.startswith("# args:"):
        return {}
    words = [w.replace("SCRATCH", str(scratch)) for w in shlex.split(first[len("# args:"):])]
    flag, values = words[0], words[1:]
    assert flag in ("-nvargs", "-args"), f"{program.name}: bad args line {first!r}"
    return script_arguments(values if flag == "-nvargs" else None, values if flag == "-args" else None)


def run_program(program: Path, scratch: Path, **keywords) -> str:
    """What a program prints; keywords go to run_file (the Spark tests pass spark=, exec_mode=)."""
    out = io.StringIO()
    run_file(program, args=program_arguments(program, scratch), out=out, **keywords)
    return out.getvalue()
