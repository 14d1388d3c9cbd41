"""Turning a prepared IR graph into DML blocks: one forward (and, for training, one backward)
block per Keras layer, written by the op templates of `registry`.

Layouts: DML holds one sample per row. Vectors and sequences keep Keras' row-major order; images
are channels first, (C, H, W) flattened, as dml_lib's convolution layers need. The scripts convert
model inputs and outputs at their boundary (dml_lib's nn/util/layout.dml).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .. import ir
from ..errors import UnsupportedAttributeError
from ..opdef import definition, is_trainable
from ..passes.folding import folds
from .names import graph_names
from .registry import template_for
from .step import Step, Unsupported
from .weights import norm_groups

TEMPLATES = Path(__file__).parent / "templates"


def _bytecode_cache():
    """Compiled templates cached in the temporary folder (compiling them takes longer than
    writing the scripts of a ResNet50); none where that folder is not usable."""
    try:
        return jinja2.FileSystemBytecodeCache(pattern="kerasdml-jinja-%s.cache")
    except (OSError, RuntimeError):
        return None


ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                         keep_trailing_newline=True, autoescape=False,
                         bytecode_cache=_bytecode_cache())


@dataclass(frozen=True)
class Block:
    """DML lines for one Keras layer (a comment naming it first)."""
    layer: str
    keras_class: str
    lines: tuple


@dataclass(frozen=True)
class Program:
    """Everything the script skeletons need from the graph."""
    graph: ir.Graph
    tensors: dict            # tensor -> variable
    params: dict             # (node, param) -> variable
    steps: tuple             # Step per non-input node, in order
    sources: tuple           # dml_lib aliases used, in first-use order
    uses: dict               # tensor -> its readers (see _input_uses)
    folds: tuple = ()        # Blocks computing folded weights once, before the batch loop
    folded: tuple = ()       # the variables those blocks compute that the batch loop reads
    # a parameter variable several nodes hold -> {node: its part of the gradient}, in order
    shared: dict = field(default_factory=dict)
    # model output -> the logits its loss reads instead (logits_input; training only)
    logits: dict = field(default_factory=dict)
    # the nodes that pass no gradient back: a softmax or sigmoid whose output only a loss taken
    # from its logits reads, and the identities between it and the output (_idle_nodes)
    idle: frozenset = frozenset()

    def loss_gradients(self) -> list[str]:
        """The variable each model output's loss gradient goes to: d<output>, or one of the
        summed parts when layers read the output too. For an output in `logits` the gradient
        is the loss's with respect to those logits: d<logits>, or its part of their sum when
        the softmax or sigmoid (read by layers too) passes their gradient back as well."""
        return [gradient_name(self.tensors, self.uses, self.logits[t], LOGITS_LOSS, k)
                if t in self.logits else gradient_name(self.tensors, self.uses, t, LOSS, 0)
                for k, t in enumerate(self.graph.outputs)]

    def producer_step(self, tensor: str) -> Step:
        """The step of the node that writes `tensor`."""
        producer = self.graph.producer(tensor)
        return next(s for s, _ in self.steps if s.node is producer)


def build_program(graph: ir.Graph, training: bool, frozen: frozenset = frozenset(),
                  logits: dict | None = None) -> Program:
    """Steps for every node; all unsupported nodes are reported together. `frozen` names the
    Keras layers with trainable=False (a frozen BatchNormalization runs in inference mode).
    For prediction, a layer that folds into the one before it (passes.folding) has no step: a
    fold block computes that layer's weights once, and it writes the folded layer's output.
    `logits` (training): model output -> the logits (logits_input) its loss reads instead."""
    tensors, params = graph_names(graph)
    logits = dict(logits or {}) if training else {}
    uses = _input_uses(graph, training, logits)
    idle = _idle_nodes(graph, uses, logits)
    uses = {t: [r for r in readers if r[0] not in idle] for t, readers in uses.items()}
    shared = _shared_gradients(graph, tensors, params)
    absorbing = {} if training else {into: node for node, into in folds(graph).items()}
    steps, fold_steps, problems, sources = [], [], [], []

    def with_context(node: ir.Node, step: Step) -> bool:
        step.extra["frozen"] = (node.layer or node.name) in frozen
        try:
            step.extra.update(definition(node.op).context(step))
        except Unsupported as error:
            problems.append(error.problem(node))
            return False
        return True

    for node in graph.nodes:
        if node.op == "input" or node.name in absorbing.values():
            continue
        template = template_for(node.op)
        step = _step(graph, node, training, tensors, params, uses, shared)
        if node.name in absorbing:
            folded = graph.node(absorbing[node.name])
            fold = _step(graph, folded, training, tensors, params, uses, shared)
            if with_context(folded, fold):
                _absorb(step, fold, node)
                fold_steps.append((fold, template_for(folded.op)))
        if not with_context(node, step):
            continue
        steps.append((step, template))
        for alias in template.sources + tuple(step.extra.get("sources", ())):
            if alias not in sources:
                sources.append(alias)
    if training:
        problems += _constraint_problems(graph, params)
    if problems:
        raise UnsupportedAttributeError(problems)
    fold_blocks = [Block(s.node.layer or s.node.name, s.node.keras_class or s.node.op,
                         tuple(_render(s, t, "fold"))) for s, t in fold_steps]
    folded = tuple(name for s, _ in fold_steps for name in
                   (s.extra["into"]["folded_kernel"], s.extra["into"]["folded_bias"]))
    return Program(graph, tensors, params, tuple(steps), tuple(sources), uses,
                   tuple(fold_blocks), folded, shared, logits, idle)


def _constraint_problems(graph: ir.Graph, params: dict) -> list:
    """The norm constraints whose groups of values no whole rows or columns of their DML layout
    hold (the training script applies a constraint to whole rows or columns)."""
    groups = norm_groups(graph, params)
    return [Unsupported(f"{p.weight}_constraint", p.constraint,
                        "NonNeg, or a norm per output unit or filter (the axes but the last, as "
                        "MaxNorm(axis=0) on a Dense kernel or axis=[0, 1, 2] on a Conv2D one) "
                        "or over the whole weight").problem(node)
            for node, p in graph.params() if groups.get(params[(node.name, p.name)], "") is None]


def _absorb(step: Step, fold: Step, node: ir.Node) -> None:
    """`step` (the folded-into layer) reads weights the fold computes and writes the fold's
    output; the fold learns their names (`into`) and whether its per-channel vectors must be
    transposed to the layer's orientation (its definition's output_channels)."""
    channels = definition(node.op).output_channels(node.attrs)
    into = dict(layer=node.layer or node.name, kernel=step.params["kernel"],
                bias=step.params.get("bias"), scale=f"{fold.out}_scale",
                folded_kernel=f"{step.out}_W_folded", folded_bias=f"{step.out}_b_folded",
                transpose=channels != fold.channels)
    fold.extra["into"] = into
    step.extra["absorbed"] = fold.node.layer or fold.node.name
    step.params = dict(step.params, kernel=into["folded_kernel"], bias=into["folded_bias"])
    step.out = fold.out


LOSS = "(loss)"  # the reader of a model output in training: its gradient is the loss's
# the reader of the logits a model output's loss takes (position: the output's index)
LOGITS_LOSS = "(loss of logits)"


def _input_uses(graph: ir.Graph, training: bool = False, logits: dict | None = None) -> dict:
    """{tensor: [(node name, input position), ...]}: who reads each tensor. In training the loss
    reads every model output, which counts when layers read that output too (its gradient is
    then the sum of theirs and the loss's); a loss taken from logits (`logits`: output ->
    logits) reads those instead."""
    uses: dict = {}
    logits = logits or {}
    for node in graph.nodes:
        for position, tensor in enumerate(node.inputs):
            uses.setdefault(tensor, []).append((node.name, position))
    if training:
        for k, tensor in enumerate(graph.outputs):
            if tensor in logits:
                uses.setdefault(logits[tensor], []).append((LOGITS_LOSS, k))
            else:
                uses.setdefault(tensor, []).append((LOSS, 0))
    return uses


def _idle_nodes(graph: ir.Graph, uses: dict, logits: dict) -> frozenset:
    """The nodes between logits and a model output whose loss takes them (the softmax or
    sigmoid and the identities after it, logits_chain) that pass no gradient back: nothing
    that passes one back reads their output (the loss reads the logits), and they add no
    penalty of their own (an ActivityRegularization with l1 or l2 does; it still runs)."""
    chains = {node.name for t in logits for node in logits_chain(graph, t)}
    idle: set = set()
    for node in reversed(graph.nodes):
        if node.name in chains and not _penalizes(node) and \
                all(reader in idle for reader, _ in uses.get(node.output, [])):
            idle.add(node.name)
    return frozenset(idle)


def _penalizes(node: ir.Node) -> bool:
    return node.op == "activity_regularization" and bool(node.attrs.l1 or node.attrs.l2)


def gradient_name(tensors: dict, uses: dict, tensor: str, node: str, position: int) -> str:
    """d<tensor>, or d<tensor>_<k> for the k-th of several uses (summed later); d<tensor>__<k>
    where a tensor named <tensor>_<k> exists (Keras names layers activation, activation_1, ...),
    whose gradient is d<tensor>_<k>. A reader that passes no gradient back (Program.idle)
    gets d<tensor>, which it never writes."""
    readers = uses.get(tensor, [])
    base = tensors[tensor]
    if len(readers) <= 1 or (node, position) not in readers:
        return "d" + base
    suffix = f"_{readers.index((node, position)) + 1}"
    while base + suffix in tensors.values():
        suffix = "_" + suffix
    return "d" + base + suffix


def _shared_gradients(graph: ir.Graph, tensors: dict, params: dict) -> dict:
    """{variable: {node: d<variable>_<k>}} for the parameters several nodes hold (names.py), the
    k-th node's part of the gradient; share_gradients sums them into d<variable>."""
    holders: dict = {}
    for node, param in graph.params():
        holders.setdefault(params[(node.name, param.name)], []).append(node.name)
    taken = set(tensors.values()) | set(params.values())
    shared = {}
    for variable, nodes in holders.items():
        if len(nodes) > 1:
            parts = {}
            for k, node in enumerate(nodes, start=1):
                suffix = f"_{k}"
                while variable + suffix in taken:
                    suffix = "_" + suffix
                parts[node] = "d" + variable + suffix
            shared[variable] = parts
    return shared


def _step(graph, node, training, tensors, params, uses, shared) -> Step:
    roles = {p.name: params[(node.name, p.name)] for p in node.params}
    grads = {role: shared[var][node.name] if var in shared else "d" + var
             for role, var in roles.items() if is_trainable(node.op, role)}
    return Step(
        node=node, training=training,
        xs=tuple(tensors[t] for t in node.inputs), out=tensors[node.output],
        in_shapes=graph.input_shapes(node), out_shape=node.shape, params=roles, param_grads=grads,
        dxs=tuple(gradient_name(tensors, uses, t, node.name, i)
                  for i, t in enumerate(node.inputs)),
        dout="d" + tensors[node.output], extra={"graph": graph, "sources": ()},
        needs_dx=bool(node.inputs) and node.inputs[0] not in graph.inputs)


def _render(step: Step, template, macro: str) -> list:
    module = ENV.get_template(f"ops/{template.template}").module
    text = getattr(module, macro)(step)
    return [line.rstrip() for line in str(text).splitlines() if line.strip()]


def forward_blocks(program: Program) -> list:
    """One Block per Keras layer (consecutive nodes of one layer share a block)."""
    blocks = []
    for step, template in program.steps:
        lines = _render(step, template, "forward")
        if "absorbed" in step.extra:
            lines.insert(0, f"# {step.extra['absorbed']} is folded into the kernel and bias")
        _append(blocks, step.node, lines)
    return blocks


LOGITS_ACTIVATIONS = ("softmax", "sigmoid")


def _same_tensor_in_training(node: ir.Node) -> bool:
    """Whether the Keras layer of `node` returns its input tensor itself in training, which
    keeps the _keras_logits that Keras' softmax and sigmoid attach to their output: Identity,
    Activation('linear'), ActivityRegularization (and a layer's activity_regularizer), and
    Dropout, SpatialDropout, GaussianNoise, GaussianDropout, AlphaDropout at rate (stddev) 0.
    Not Reshape or Flatten (a new tensor, even of the same shape), nor dropout or noise that
    draws anything."""
    if node.op == "activation":
        return node.attrs.kind == "linear"
    if node.op == "dropout":
        return node.attrs.rate == 0
    if node.op == "noise":
        return node.attrs.amount == 0
    return node.op == "activity_regularization"


def logits_chain(graph: ir.Graph, tensor: str) -> list:
    """The softmax (over the last axis) or sigmoid writing model output `tensor`, and the layers
    after it that hand the output on as the same tensor (_same_tensor_in_training), the output's
    producer first; [] where the output is not such an activation's."""
    chain = []
    node = graph.producer(tensor)
    while node is not None and _same_tensor_in_training(node):
        chain.append(node)
        node = None if node.inputs[0] in graph.inputs else graph.producer(node.inputs[0])
    if node is None or node.op != "activation" or node.attrs.kind not in LOGITS_ACTIVATIONS:
        return []
    return chain + [node]


def logits_input(graph: ir.Graph, tensor: str) -> str | None:
    """The logits of model output `tensor`: the input of the softmax (over the last axis) or
    sigmoid that writes it, or writes the tensor that identities hand on as it (logits_chain);
    else None. Keras' TensorFlow backend takes a cross-entropy of such an output from these
    logits, whatever other layers read the output."""
    chain = logits_chain(graph, tensor)
    return chain[-1].inputs[0] if chain else None


def backward_blocks(program: Program) -> list:
    """Gradients in reverse order; a tensor read by several nodes gets the sum of theirs. The
    nodes that pass no gradient back (Program.idle: the softmax or sigmoid of an output whose
    loss's gradient goes to its logits, Program.loss_gradients) have no backward; one between
    them and the output that adds a penalty starts from a zero gradient."""
    uses = program.uses
    chains = {node.name for t in program.logits for node in logits_chain(program.graph, t)}
    blocks = []
    for step, template in reversed(program.steps):
        if step.node.name in program.idle:
            continue
        lines = _sum_gradients(program, uses, step.node.output)
        if step.node.name in chains and not uses.get(step.node.output):
            lines.append(f"{step.dout} = matrix(0, rows=nrow({step.out}), cols=ncol({step.out}))")
        if step.extra.get("no_input_gradient") and not _gradient_free(program,
                                                                      step.node.inputs[0]):
            raise UnsupportedAttributeError([Unsupported(
                "input", step.node.inputs[0], "a model input (gradients do not flow into "
                "integer indices)").problem(step.node)])
        lines += _render(step, template, "backward")
        lines += share_gradients(program, step)
        _append(blocks, step.node, lines)
    return blocks


def share_gradients(program: Program, step: Step) -> list:
    """After the backward of the first node holding a shared parameter (the last backward of
    its holders): the parameter's gradient, the sum of theirs, as Keras sums a shared weight's."""
    lines = []
    for role in step.param_grads:
        variable = step.params[role]
        parts = program.shared.get(variable, {})
        if parts and next(iter(parts)) == step.node.name:
            lines.append(f"d{variable} = " + " + ".join(parts.values()))
    return lines


def _gradient_free(program: Program, tensor: str) -> bool:
    """Whether nothing upstream of `tensor` needs its gradient: a model input, or the output of
    a layer that passes none back (an Embedding's indices from a Discretization)."""
    if tensor in program.graph.inputs:
        return True
    producer = program.graph.producer(tensor)
    step = next(s for s, _ in program.steps if s.node is producer)
    return bool(step.extra.get("no_input_gradient")) and _gradient_free(program,
                                                                         producer.inputs[0])


def _sum_gradients(program: Program, uses: dict, tensor: str) -> list:
    readers = uses.get(tensor, [])
    if len(readers) <= 1:
        return []
    parts = [gradient_name(program.tensors, uses, tensor, node, pos) for node, pos in readers]
    return [f"d{program.tensors[tensor]} = " + " + ".join(parts)]


def _append(blocks: list, node: ir.Node, lines: list) -> None:
    layer = node.layer or node.name
    if blocks and blocks[-1].layer == layer:
        last = blocks.pop()
        lines = list(last.lines) + lines
    blocks.append(Block(layer, node.keras_class or node.op, tuple(lines)))
