"""The compiler's intermediate representation: a graph of typed layer nodes.

Conventions that hold for every op:
- Shapes are per sample in Keras layout, the batch dimension excluded: images are (H, W, C),
  sequences (T, D), vectors (D,). A dimension Keras leaves open (variable sequence length) is None.
- Parameters keep the layout Keras stores them in (documented per attribute class below); the
  conversion to DML's layout is `compiler.passes.layout`, applied when weights are written.
- Axes in attributes count per-sample dimensions (batch excluded); negative values count from the
  end. After `passes.infer_shapes` every axis is non-negative.
- Spatial padding is explicit per side (`Pad2D`, `Pad1D`), resolved from Keras' "same", "valid"
  and "causal" by `passes.infer_shapes` (the frontend keeps Keras' string, since "same" depends on
  the input size); Keras puts the odd pixel of "same" padding at the bottom/right.
- What each op is (attributes, parameters, shape rule, template) is declared once, in its family's
  module under `compiler/ops/`, and registered in `opdef.OPS`; importing `compiler.ops` loads them.
- Tensor names: the output of a Keras layer is named after the layer ("name:k" for the k-th call
  of a shared layer, "model/name" inside a nested model); tensors inside the expansion of one layer
  add a "/suffix" ("sep/depthwise", "conv1/preact").
"""
from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Iterator

import numpy as np

from .errors import GraphError
from .opdef import OPS, definition

Shape = tuple  # tuple[int | None, ...], per sample (batch excluded)


@dataclass(frozen=True)
class Pad1D:
    left: int = 0
    right: int = 0


@dataclass(frozen=True)
class Elementwise:
    """fn(x) or x fn constant (constant_first: constant fn x): a keras.ops call's node, which
    other ops' handlers build too (Rescaling's product, Dot's normalisation)."""
    fn: str
    constant: float | None = None
    constant_first: bool = False


@dataclass(frozen=True)
class Pad2D:
    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0


@dataclass(frozen=True, eq=False)
class Param:
    """A parameter array in Keras layout (read-only) and where it came from."""
    name: str           # its role in the op: kernel, bias, gamma, ...
    value: np.ndarray
    layer: str          # Keras layer name ("model/layer" inside a nested model)
    weight: str         # Keras weight name: kernel, recurrent_kernel, moving_mean, ...
    location: str = ""  # where it was read: "model.weights.h5:layers/dense_1/vars/0"
    regularizer: tuple = ()  # Keras' weight penalty: (("l1", factor), ("l2", factor)) or empty
    constraint: tuple = ()   # Keras' constraint after each update: ("max_norm", 3.0, 0) or empty

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)


@dataclass(frozen=True)
class Node:
    """One operation. `activation` holds a fused activation until `passes.split_activations`
    moves it into a node of its own; `shapes` is None until `passes.infer_shapes` fills it."""
    name: str
    op: str
    attrs: object
    inputs: tuple = ()
    outputs: tuple = ()
    shapes: tuple | None = None
    params: tuple = ()
    layer: str = ""
    keras_class: str = ""
    activation: object = None  # ops.activations.Activation, or None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def output(self) -> str:
        return self.outputs[0]

    @property
    def shape(self) -> Shape | None:
        return None if self.shapes is None else self.shapes[0]

    def replace(self, **changes) -> "Node":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Graph:
    """A model: nodes in topological order, the tensors fed in and the tensors returned."""
    name: str
    nodes: tuple
    inputs: tuple
    outputs: tuple
    source: str = field(default="", compare=False)  # the model file, for messages
    # (output, its Keras mask tensor) for the outputs that carry a mask: Keras weights their
    # loss and metrics by it
    output_masks: tuple = field(default=(), compare=False)
    # how Keras' predict arranges the outputs when the model returns a dict (or lists and dicts
    # nested): a position in `outputs`, ("list", (items...)) or ("dict", ((key, item), ...)) in
    # the model's key order; None for one output or a flat list
    output_structure: object = field(default=None, compare=False)
    # the keys of a model built on a dict of inputs, one per input (Keras takes data by them)
    input_keys: tuple = field(default=(), compare=False)

    @cached_property
    def _producers(self) -> dict:
        return {t: n for n in self.nodes for t in n.outputs}

    def producer(self, tensor: str) -> Node:
        return self._producers[tensor]

    def output_mask(self, tensor: str) -> str | None:
        """The Keras mask tensor a model output carries, if any."""
        return dict(self.output_masks).get(tensor)

    def consumers(self, tensor: str) -> tuple:
        return tuple(n for n in self.nodes if tensor in n.inputs)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def shape(self, tensor: str) -> Shape | None:
        node = self._producers[tensor]
        return None if node.shapes is None else node.shapes[node.outputs.index(tensor)]

    def input_shapes(self, node: Node) -> tuple:
        return tuple(self.shape(t) for t in node.inputs)

    def params(self) -> Iterator[tuple]:
        """(node, param) for every parameter, in node order."""
        return ((n, p) for n in self.nodes for p in n.params)

    def with_nodes(self, nodes: Iterable[Node], **changes) -> "Graph":
        """The graph with other nodes; an output a pass renames keeps its mask."""
        if "outputs" in changes and self.output_masks:
            renamed = dict(zip(self.outputs, changes["outputs"]))
            changes["output_masks"] = tuple((renamed[t], m) for t, m in self.output_masks)
        return dataclasses.replace(self, nodes=tuple(nodes), **changes)

    def with_tensors_renamed(self, renamed: dict) -> "Graph":
        """The graph with tensors renamed (`renamed`: old name -> new name) wherever they are
        written or read: by the nodes, as model inputs and outputs, and as output masks."""
        if not renamed:
            return self
        def rename(tensors):
            return tuple(renamed.get(t, t) for t in tensors)
        return dataclasses.replace(
            self, nodes=tuple(n.replace(inputs=rename(n.inputs), outputs=rename(n.outputs))
                              for n in self.nodes),
            inputs=rename(self.inputs), outputs=rename(self.outputs),
            output_masks=tuple(rename(pair) for pair in self.output_masks))

    def topological_order(self) -> tuple:
        """The nodes ordered so that every tensor is produced before it is used; ties keep the
        stored order. Raises GraphError on a cycle or a tensor nobody produces."""
        return _topological_order(self)

    def sorted(self) -> "Graph":
        return self.with_nodes(self.topological_order())

    def validate(self, require_shapes: bool = True) -> "Graph":
        """Checks the invariants the backend relies on; returns self, raises GraphError.

        Node names are unique and every tensor is produced by exactly one node; every used tensor
        is produced earlier in the stored order (so there are no cycles); the graph inputs are the
        outputs of the input nodes and the graph outputs exist; ops, attribute types and input
        counts are those of OPS; shapes are present (unless require_shapes is False); parameters
        are exactly those the op expects, with shapes that fit the attributes and input shapes.
        """
        _check_structure(self)
        for node in self.nodes:
            _check_node(self, node, require_shapes)
        return self


# --- parameters each op expects ----------------------------------------------------------------

def expected_params(op: str, attrs, input_shapes: tuple | None) -> dict:
    """{param name: shape} the op expects; None in a shape where the input shape is unknown."""
    return definition(op).params(attrs, input_shapes)


# --- checks ------------------------------------------------------------------------------------

def _topological_order(graph: Graph) -> tuple:
    producers = graph._producers
    for node in graph.nodes:
        missing = [t for t in node.inputs if t not in producers]
        if missing:
            raise GraphError(f"node '{node.name}': input tensor '{missing[0]}' is produced by "
                             "no node")
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    waiting = {id(n): len({producers[t].name for t in n.inputs}) for n in graph.nodes}
    users: dict = {}
    for node in graph.nodes:
        for name in {producers[t].name for t in node.inputs}:
            users.setdefault(name, []).append(node)
    ready = [index[id(n)] for n in graph.nodes if waiting[id(n)] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = graph.nodes[heapq.heappop(ready)]
        order.append(node)
        for user in users.get(node.name, ()):
            waiting[id(user)] -= 1
            if waiting[id(user)] == 0:
                heapq.heappush(ready, index[id(user)])
    if len(order) < len(graph.nodes):
        stuck = sorted(n.name for n in graph.nodes if waiting[id(n)] > 0)
        raise GraphError("the graph has a cycle through: " + ", ".join(stuck))
    return tuple(order)


def _check_structure(graph: Graph) -> None:
    names, produced = set(), set()
    for node in graph.nodes:
        if node.name in names:
            raise GraphError(f"two nodes are named '{node.name}'")
        names.add(node.name)
        for tensor in node.outputs:
            if tensor in produced:
                raise GraphError(f"tensor '{tensor}' is produced twice (again by '{node.name}')")
            produced.add(tensor)
    seen = set()
    for node in graph.nodes:
        unseen = [t for t in node.inputs if t not in seen]
        if unseen:
            graph.topological_order()  # names a cycle or a missing producer when there is one
            raise GraphError(f"node '{node.name}' comes before the producer of '{unseen[0]}'; "
                             "the nodes are not in topological order")
        seen.update(node.outputs)
    input_tensors = {n.output for n in graph.nodes if n.op == "input"}
    if set(graph.inputs) != input_tensors or len(graph.inputs) != len(input_tensors):
        raise GraphError(f"graph inputs {list(graph.inputs)} are not the input nodes' tensors "
                         f"{sorted(input_tensors)}")
    for tensor in graph.outputs:
        if tensor not in produced:
            raise GraphError(f"graph output '{tensor}' is produced by no node")


def _check_node(graph: Graph, node: Node, require_shapes: bool) -> None:
    spec = OPS.get(node.op)
    where = f"node '{node.name}' ({node.op})"
    if spec is None:
        raise GraphError(f"{where}: unknown op; known ops: {', '.join(OPS)}")
    if type(node.attrs) is not spec.attrs:
        raise GraphError(f"{where}: attributes are {type(node.attrs).__name__}, "
                         f"expected {spec.attrs.__name__}")
    count = len(node.inputs)
    if count < spec.min_inputs or (spec.max_inputs is not None and count > spec.max_inputs):
        raise GraphError(f"{where}: has {count} inputs, expected {spec.min_inputs}"
                         f"..{spec.max_inputs if spec.max_inputs is not None else 'n'}")
    if len(node.outputs) != 1:
        raise GraphError(f"{where}: has {len(node.outputs)} outputs, every op has exactly one")
    _check_shapes(graph, node, where, require_shapes)
    _check_params(graph, node, where)


def _check_shapes(graph: Graph, node: Node, where: str, require_shapes: bool) -> None:
    if node.shapes is None:
        if require_shapes:
            raise GraphError(f"{where}: output shape unknown (run passes.infer_shapes)")
        return
    if len(node.shapes) != len(node.outputs):
        raise GraphError(f"{where}: {len(node.shapes)} shapes for {len(node.outputs)} outputs")
    for shape in node.shapes:
        if not isinstance(shape, tuple) or not all(
                d is None or (isinstance(d, int) and d > 0) for d in shape):
            raise GraphError(f"{where}: bad shape {shape!r} (a tuple of positive ints or None)")


def _check_params(graph: Graph, node: Node, where: str) -> None:
    shapes = graph.input_shapes(node)
    expected = expected_params(node.op, node.attrs, None if None in shapes else shapes)
    names = [p.name for p in node.params]
    if sorted(names) != sorted(expected):
        raise GraphError(f"{where}: parameters {names}, expected {list(expected)}")
    for param in node.params:
        want = expected[param.name]
        if len(want) != len(param.shape) or any(
                w is not None and w != got for w, got in zip(want, param.shape)):
            raise GraphError(f"{where}: parameter '{param.name}' has shape {param.shape}, "
                             f"expected {tuple('?' if w is None else w for w in want)} "
                             f"(from {param.layer}/{param.weight})")
