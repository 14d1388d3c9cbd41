"""The test suite collects without the optional packages (TensorFlow/Keras, pyspark, pyarrow,
pandas, matplotlib): a test that needs one skips by pytest.importorskip instead of failing at
collection."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

OPTIONAL = ("tensorflow", "keras", "pyspark", "pyarrow", "pandas", "matplotlib")
TESTS = Path(__file__).resolve().parent

# Imported by Python at start-up: makes every optional package look uninstalled.
HIDE = f"""
import sys

class Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden)")
        return None

sys.meta_path.insert(0, Hidden())
"""


def test_the_suite_collects_without_optional_packages(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(HIDE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path),
                                                                     os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                             "no:cacheprovider", str(TESTS)], capture_output=True, text=True,
                            env=env, cwd=TESTS.parent)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "(hidden)" in result.stdout  # the hiding worked: some modules were skipped
