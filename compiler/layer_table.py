"""The layer table of `kerasdml inspect`: one row per Keras layer with its class, IR ops,
output shape, parameter count and whether the compiler translates it (and why not); and the
table of supported layer classes (`kerasdml inspect --layers`, README.md), from the registry.

The rows come from `compile_model` itself, so inspect refuses exactly what compile refuses, with
the same message (`refusal`)."""
from __future__ import annotations

from dataclasses import dataclass

from .compile import compile_model
from .errors import (CompileError, InvalidModelError, UnsupportedAttributeError,
                     UnsupportedLayerError)
from .frontend.config import flatten_model
from .frontend.registry import supported_table
from .frontend.sources import open_model

_REFUSALS = (UnsupportedLayerError, UnsupportedAttributeError, InvalidModelError)


@dataclass(frozen=True)
class LayerRow:
    name: str
    keras_class: str
    ops: str
    shape: str
    params: int
    status: str


def layer_rows(source) -> list:
    """Rows for a model the compiler translates, or, when it refuses, rows saying why."""
    return inspect_model(source)[0]


def inspect_model(source) -> tuple:
    """(rows, the message `kerasdml compile` refuses the model with, or None)."""
    try:
        model = compile_model(source)
    except _REFUSALS as error:
        return _refused_rows(source, error), error.message
    return _graph_rows(model.train_graph), None


def _graph_rows(graph) -> list:
    rows, order = {}, []
    for node in graph.nodes:
        layer = node.layer or node.name
        if layer not in rows:
            order.append(layer)
            rows[layer] = dict(keras_class=node.keras_class or node.op, ops=[], params=0)
        entry = rows[layer]
        entry["ops"].append(node.op)
        entry["params"] += sum(p.value.size for p in node.params)
        entry["shape"] = node.shape
    return [LayerRow(name, e["keras_class"], " + ".join(e["ops"]), str(e["shape"]),
                     e["params"], "yes") for name, e in ((n, rows[n]) for n in order)]


def _refused_rows(source, error: CompileError) -> list:
    reasons = {}
    for layer in getattr(error, "layers", ()):
        reasons[layer.name] = f"no: {layer.reason}"
    for problem in getattr(error, "problems", ()):
        reasons[problem.layer] = (f"no: {problem.attribute}={problem.value!r} "
                                  f"(accepted: {problem.accepted})")
    invalid = getattr(error, "invalid", (error,) if isinstance(error, InvalidModelError) else ())
    for problem in invalid:
        reasons[problem.layer] = f"no: {problem.problem}"
    with open_model(source) as model:
        try:
            calls = flatten_model(model.config, model.path).calls
        except CompileError:
            calls = []
    if not calls:
        return [LayerRow(name, "?", "-", "-", 0, why) for name, why in reasons.items()]
    return [LayerRow(c.layer, c.class_name, "-", "-", 0, reasons.get(c.layer, "yes"))
            for c in calls]


def format_table(rows: list) -> str:
    header = ("layer", "class", "IR ops", "output shape", "params", "supported")
    cells = [header] + [(r.name, r.keras_class, r.ops, r.shape, str(r.params), r.status)
                        for r in rows]
    widths = [max(len(row[i]) for row in cells[:]) for i in range(len(header) - 1)]
    lines = []
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    total = sum(r.params for r in rows)
    lines.append(f"{len(rows)} layers, {total} parameters")
    return "\n".join(lines)


def supported_layers_table() -> str:
    """The supported layer classes and keras.ops calls as a Markdown table, from the handler
    registry (`kerasdml inspect --layers` prints it; README.md holds a copy a test compares)."""
    rows = supported_table()
    lines = ["| Keras class | What is supported |", "|---|---|"]
    lines += [f"| `{name.replace('ops.', 'keras.ops.')}` | {doc.replace('|', '/')} |"
              for name, doc in rows]
    return "\n".join(lines)
