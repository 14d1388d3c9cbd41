"""README.md's two set-up commands stay true, and CI runs exactly the test command."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_the_demo_and_a_test_command():
    demo, tests = readme_commands()[:2]
    assert demo.endswith(".venv/bin/kerasdml demo")
    assert tests.endswith("python -m pytest")
    from kerasdml.compiler.cli import main  # the console script knows the command
    from kerasdml.compiler.cli import COMMANDS
    assert main is not None and "demo" in COMMANDS


def test_ci_installs_and_tests_exactly_as_readme_says():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci
