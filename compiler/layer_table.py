"""The layer table of `kerasdml inspect`: one row per Keras layer with its class, IR ops,
output shape, parameter count and whether the compiler translates it (and why not)."""
from __future__ import annotations

from dataclasses import dataclass

from . import frontend, passes
from .backend import CompiledModel
from .errors import CompileError, UnsupportedAttributeError, UnsupportedLayerError
from .frontend.config import flatten_model
from .frontend.sources import open_model


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
    try:
        graph = frontend.read_graph(source)
        train = passes.prepare(graph, training=True)
        CompiledModel(passes.prepare(graph), None)
    except (UnsupportedLayerError, UnsupportedAttributeError) as error:
        return _refused_rows(source, error)
    return _graph_rows(train)


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
