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

Shape = tuple  # tuple[int | None, ...], per sample (batch excluded)


@dataclass(frozen=True)
class Pad1D:
    left: int = 0
    right: int = 0


@dataclass(frozen=True)
class Pad2D:
    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0


# --- attributes, one class per op family -------------------------------------------------------

@dataclass(frozen=True)
class Input:
    """A model input. The node's output shape is the Keras input shape."""
    dtype: str = "float32"


@dataclass(frozen=True)
class Dense:
    """y = x @ kernel + bias over the last axis. kernel (D, units), bias (units,)."""
    units: int
    use_bias: bool = True


@dataclass(frozen=True)
class Activation:
    """Elementwise activation (softmax: along `axis`, always the last one).

    kind: relu, sigmoid, tanh, softmax, elu, selu, gelu, swish, softplus, leaky_relu, linear.
    relu: x if x > threshold (clipped at max_value when given), else alpha * (x - threshold);
    leaky_relu: x if x >= 0 else alpha * x; elu: x if x > 0 else alpha * (exp(x) - 1);
    gelu: approximate selects Keras' tanh approximation.
    """
    kind: str
    alpha: float = 0.0
    max_value: float | None = None
    threshold: float = 0.0
    axis: int = -1
    approximate: bool = False


@dataclass(frozen=True)
class Dropout:
    """Identity at inference. rate is the drop probability; spatial drops whole channels."""
    rate: float
    spatial: bool = False


@dataclass(frozen=True)
class Flatten:
    """Row-major flatten of the Keras-layout sample: (H, W, C) -> (H*W*C,) in h, w, c order."""


@dataclass(frozen=True)
class Reshape:
    """Row-major reshape of the Keras-layout sample; target is fully resolved (no -1)."""
    target: tuple


@dataclass(frozen=True)
class Conv1D:
    """(T, C) -> (T', filters). kernel (k, C, filters), bias (filters,)."""
    filters: int
    kernel: int
    stride: int = 1
    padding: Pad1D = Pad1D()
    use_bias: bool = True


@dataclass(frozen=True)
class Conv2D:
    """(H, W, C) -> (H', W', filters). kernel (kh, kw, C, filters), bias (filters,)."""
    filters: int
    kernel: tuple
    strides: tuple = (1, 1)
    padding: Pad2D = Pad2D()
    use_bias: bool = True


@dataclass(frozen=True)
class DepthwiseConv2D:
    """(H, W, C) -> (H', W', C*multiplier); output channel c*multiplier + m comes from input
    channel c. kernel (kh, kw, C, multiplier), bias (C*multiplier,)."""
    multiplier: int
    kernel: tuple
    strides: tuple = (1, 1)
    padding: Pad2D = Pad2D()
    use_bias: bool = True


@dataclass(frozen=True)
class Conv2DTranspose:
    """(H, W, C) -> (H', W', filters). kernel (kh, kw, filters, C), bias (filters,).

    The full transposed convolution has (H-1)*sh + kh rows; `padding` is what is cropped from each
    side of it (a negative amount appends that many zero rows/columns, which happens for "valid"
    when the kernel is smaller than the stride). output_padding is Keras' attribute, already
    accounted for in `padding` once resolved.
    """
    filters: int
    kernel: tuple
    strides: tuple = (1, 1)
    padding: Pad2D = Pad2D()
    use_bias: bool = True
    output_padding: tuple | None = None


@dataclass(frozen=True)
class Pool1D:
    """max_pool1d / avg_pool1d over (T, C). Average pooling counts only in-bounds elements (as
    Keras does with "same" padding); max pooling ignores the padding."""
    size: int
    stride: int
    padding: Pad1D = Pad1D()


@dataclass(frozen=True)
class Pool2D:
    """max_pool2d / avg_pool2d over (H, W, C); padding as in Pool1D."""
    size: tuple
    strides: tuple
    padding: Pad2D = Pad2D()


@dataclass(frozen=True)
class GlobalPool:
    """global_{avg,max}_pool{1,2}d: reduce every spatial axis; keepdims keeps them as size 1."""
    keepdims: bool = False


@dataclass(frozen=True)
class ZeroPad2D:
    padding: Pad2D


@dataclass(frozen=True)
class UpSample2D:
    """Nearest-neighbour upsampling: every pixel repeated size[0] x size[1] times."""
    size: tuple


@dataclass(frozen=True)
class BatchNorm:
    """Normalises the last (channel) axis. gamma (C,) when scale, beta (C,) when center,
    moving_mean (C,), moving_variance (C,)."""
    epsilon: float
    center: bool = True
    scale: bool = True
    momentum: float = 0.99
    axis: int = -1


@dataclass(frozen=True)
class LayerNorm:
    """Normalises each sample over the last axis. gamma (D,) when scale, beta (D,) when center."""
    epsilon: float
    center: bool = True
    scale: bool = True
    axis: int = -1


@dataclass(frozen=True)
class Embedding:
    """(T,) integer indices -> (T, output_dim). embeddings (input_dim, output_dim)."""
    input_dim: int
    output_dim: int


@dataclass(frozen=True)
class Recurrent:
    """simple_rnn / lstm / gru over (T, D) -> (T, units) or (units,).

    kernel (D, G*units), recurrent_kernel (units, G*units), bias (G*units,) with the gates in
    Keras' order: simple_rnn G=1; lstm G=4 [input, forget, cell, output]; gru G=3
    [update z, reset r, candidate h], and its bias is (2, 3*units) when reset_after (row 0 for the
    input projection, row 1 for the recurrent one). simple_rnn uses no recurrent_activation.
    """
    units: int
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    return_sequences: bool = False
    use_bias: bool = True
    reset_after: bool = True


@dataclass(frozen=True)
class Merge:
    """add / subtract (exactly two inputs) / multiply / average / maximum of equal shapes."""


@dataclass(frozen=True)
class Concatenate:
    axis: int = -1


# --- ops ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpSpec:
    attrs: type
    min_inputs: int = 1
    max_inputs: int | None = 1


_MERGE = dict(attrs=Merge, min_inputs=2, max_inputs=None)
OPS: dict[str, OpSpec] = {
    "input": OpSpec(Input, 0, 0),
    "dense": OpSpec(Dense), "activation": OpSpec(Activation), "dropout": OpSpec(Dropout),
    "flatten": OpSpec(Flatten), "reshape": OpSpec(Reshape),
    "conv1d": OpSpec(Conv1D), "conv2d": OpSpec(Conv2D),
    "depthwise_conv2d": OpSpec(DepthwiseConv2D), "conv2d_transpose": OpSpec(Conv2DTranspose),
    "max_pool1d": OpSpec(Pool1D), "avg_pool1d": OpSpec(Pool1D),
    "max_pool2d": OpSpec(Pool2D), "avg_pool2d": OpSpec(Pool2D),
    "global_avg_pool1d": OpSpec(GlobalPool), "global_max_pool1d": OpSpec(GlobalPool),
    "global_avg_pool2d": OpSpec(GlobalPool), "global_max_pool2d": OpSpec(GlobalPool),
    "zero_pad2d": OpSpec(ZeroPad2D), "upsample2d": OpSpec(UpSample2D),
    "batch_norm": OpSpec(BatchNorm), "layer_norm": OpSpec(LayerNorm),
    "embedding": OpSpec(Embedding),
    "simple_rnn": OpSpec(Recurrent), "lstm": OpSpec(Recurrent), "gru": OpSpec(Recurrent),
    "add": OpSpec(**_MERGE), "subtract": OpSpec(Merge, 2, 2), "multiply": OpSpec(**_MERGE),
    "average": OpSpec(**_MERGE), "maximum": OpSpec(**_MERGE),
    "concatenate": OpSpec(Concatenate, 2, None),
}

ACTIVATION_KINDS = ("relu", "sigmoid", "tanh", "softmax", "elu", "selu", "gelu", "swish",
                    "softplus", "leaky_relu", "linear")


@dataclass(frozen=True, eq=False)
class Param:
    """A parameter array in Keras layout (read-only) and where it came from."""
    name: str           # its role in the op: kernel, bias, gamma, ...
    value: np.ndarray
    layer: str          # Keras layer name ("model/layer" inside a nested model)
    weight: str         # Keras weight name: kernel, recurrent_kernel, moving_mean, ...
    location: str = ""  # where it was read: "model.weights.h5:layers/dense_1/vars/0"
    regularizer: tuple = ()  # Keras' weight penalty: (("l1", factor), ("l2", factor)) or empty

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
    activation: Activation | None = None

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

    @cached_property
    def _producers(self) -> dict:
        return {t: n for n in self.nodes for t in n.outputs}

    def producer(self, tensor: str) -> Node:
        return self._producers[tensor]

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
        return dataclasses.replace(self, nodes=tuple(nodes), **changes)

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

def _last(shape: Shape | None):
    return shape[-1] if shape else None


def _axis_size(shape: Shape, axis: int):
    return shape[axis] if -len(shape) <= axis < len(shape) else None


def _mul(a, b):
    return None if a is None or b is None else a * b


def _bias(use_bias: bool, n) -> dict:
    return {"bias": (n,)} if use_bias else {}


def _norm_params(attrs, n) -> dict:
    names = (["gamma"] if attrs.scale else []) + (["beta"] if attrs.center else [])
    return {name: (n,) for name in names}


_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _recurrent_params(op: str, a: Recurrent, d) -> dict:
    width = _GATES[op] * a.units
    params = {"kernel": (d, width), "recurrent_kernel": (a.units, width)}
    if a.use_bias:
        params["bias"] = (2, width) if op == "gru" and a.reset_after else (width,)
    return params


def expected_params(op: str, attrs, input_shapes: tuple | None) -> dict:
    """{param name: shape} the op expects; None in a shape where the input shape is unknown."""
    c = _last(input_shapes[0]) if input_shapes else None
    a = attrs
    if op in ("batch_norm", "layer_norm") and input_shapes:
        c = _axis_size(input_shapes[0], a.axis)
    if op == "dense":
        return {"kernel": (c, a.units), **_bias(a.use_bias, a.units)}
    if op == "conv1d":
        return {"kernel": (a.kernel, c, a.filters), **_bias(a.use_bias, a.filters)}
    if op == "conv2d":
        return {"kernel": (*a.kernel, c, a.filters), **_bias(a.use_bias, a.filters)}
    if op == "depthwise_conv2d":
        return {"kernel": (*a.kernel, c, a.multiplier), **_bias(a.use_bias, _mul(c, a.multiplier))}
    if op == "conv2d_transpose":
        return {"kernel": (*a.kernel, a.filters, c), **_bias(a.use_bias, a.filters)}
    if op == "batch_norm":
        return {**_norm_params(a, c), "moving_mean": (c,), "moving_variance": (c,)}
    if op == "layer_norm":
        return _norm_params(a, c)
    if op == "embedding":
        return {"embeddings": (a.input_dim, a.output_dim)}
    if op in _GATES:
        return _recurrent_params(op, a, c)
    return {}


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
