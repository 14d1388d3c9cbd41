"""Training curves with matplotlib (the `plot` extra): what is drawn, and a clear message
without matplotlib."""
import sys

import pytest

from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.training.curves import curve_names, plot_history

pytest.importorskip("matplotlib")
HISTORY = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.6, 0.8, 0.9], "val_loss": [1.0, 0.7, 0.6],
           "val_accuracy": [0.5, 0.7, 0.8]}


def test_one_panel_per_quantity_with_training_and_validation_per_epoch(tmp_path):
    path = tmp_path / "curves.png"
    figure = plot_history(HISTORY, path, title="mlp")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    panels = {axes.get_title(): axes for axes in figure.axes}
    assert list(panels) == ["loss", "accuracy"]
    for name, axes in panels.items():
        lines = {line.get_label(): line for line in axes.get_lines()}
        assert list(lines["training"].get_xdata()) == [1, 2, 3]
        assert list(lines["training"].get_ydata()) == HISTORY[name]
        assert list(lines["validation"].get_ydata()) == HISTORY[f"val_{name}"]


def test_names_and_errors(monkeypatch):
    assert curve_names({"loss": [1], "val_loss": [1], "val_mae": [2]}) == ["loss", "mae"]
    with pytest.raises(CompileError, match="fit the estimator first"):
        plot_history({"loss": []})
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(CompileError, match=r"pip install 'kerasdml\[plot\]'"):
        plot_history(HISTORY)
