"""The supported-layer table: `kerasdml inspect --layers` prints it from the handler registry,
README.md holds the same table, and every registered class has a row."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kerasdml.compiler.frontend import supported_classes
from kerasdml.compiler.layer_table import supported_layers_table

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- supported-layers: begin", "<!-- supported-layers: end -->"


def readme_table() -> str:
    text = README.read_text()
    start = text.index("\n", text.index(BEGIN)) + 1
    return text[start:text.index(END)].rstrip("\n")


def test_readme_holds_the_generated_table():
    assert readme_table() == supported_layers_table(), (
        "README.md's supported-layer table is stale: replace it with `kerasdml inspect --layers`")


def test_every_registered_class_has_a_row():
    table = supported_layers_table()
    for name in supported_classes():
        assert f"| `{name.replace('ops.', 'keras.ops.')}` |" in table


def test_inspect_layers_prints_it():
    out = subprocess.run([sys.executable, "-m", "kerasdml.compiler.launch", "inspect", "--layers"],
                         capture_output=True, text=True, check=True).stdout
    assert out.rstrip("\n") == supported_layers_table()
