"""Training curves: loss and each metric per epoch, training and validation side by side, drawn
with matplotlib (the optional `plot` extra).

    figure = plot_history(estimator.history_)              # shown inline in a Jupyter cell
    plot_history(estimator.history_, "curves.png")         # written to a file

Writing a file uses matplotlib's Agg canvas directly, so it works without a display and leaves
pyplot's state (and a notebook's backend) alone.
"""
from __future__ import annotations

import os

from ..errors import CompileError


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CompileError("drawing training curves needs matplotlib: "
                           "pip install 'kerasdml[plot]'") from None


def curve_names(history: dict) -> list[str]:
    """The quantities to draw, training names first: loss, then the metrics."""
    names = [name for name in history if not name.startswith("val_")]
    names += [name[4:] for name in history if name.startswith("val_") and name[4:] not in names]
    return names


def plot_history(history: dict, path: str | os.PathLike | None = None, title: str = ""):
    """One panel per quantity, epochs on the x axis; returns the matplotlib Figure."""
    _matplotlib()
    if not any(history.values()):
        raise CompileError("no training history to draw: fit the estimator first")
    names = curve_names(history)
    figure = _figure(path, len(names))
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
        for label, key, style in (("training", name, "o-"), ("validation", f"val_{name}", "s--")):
            values = history.get(key) or []
            if values:
                axes.plot(range(1, len(values) + 1), values, style, label=label)
        axes.set(title=name, xlabel="epoch")
        axes.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path)
    return figure


def _figure(path, panels: int):
    size = (4.5 * panels, 3.5)
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        figure = Figure(figsize=size)
        FigureCanvasAgg(figure)
        return figure
    from matplotlib import pyplot
    return pyplot.figure(figsize=size)
