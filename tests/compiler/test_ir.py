"""Graph invariants: Graph.validate, topological order, and the passes that rewrite graphs."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.compiler import ir, ops, passes
from kerasdml.compiler.errors import GraphError


def param(name, shape):
    return ir.Param(name, np.zeros(shape, dtype=np.float32), "layer", name)


def inp(name="x", shape=(4,)):
    return ir.Node(name, "input", ops.Input(), (), (name,), (shape,))


def dense(name, source, units=3, d=4, shapes=None, **fields):
    return ir.Node(name, "dense", ops.Dense(units), (source,), (name,), shapes,
                   (param("kernel", (d, units)), param("bias", (units,))), **fields)


def graph(*nodes, inputs=("x",), outputs=None):
    return ir.Graph("g", tuple(nodes), tuple(inputs), tuple(outputs or (nodes[-1].output,)))


def test_a_valid_chain():
    g = graph(inp(), dense("a", "x", shapes=((3,),)), dense("b", "a", 2, 3, shapes=((2,),)))
    assert g.validate() is g
    assert g.consumers("a") == (g.node("b"),)
    assert g.shape("b") == (2,) and [n.name for n, _ in g.params()] == ["a", "a", "b", "b"]


@pytest.mark.parametrize("make, message", [
    (lambda: graph(inp(), dense("a", "x"), dense("a", "a", 3, 3)), "two nodes are named 'a'"),
    (lambda: graph(inp(), dense("a", "x"), ir.Node("b", "dense", ops.Dense(3), ("x",), ("a",),
                                                   params=(param("kernel", (4, 3)),
                                                           param("bias", (3,))))),
     "produced twice"),
    (lambda: graph(inp(), dense("a", "ghost")), "'ghost' is produced by no node"),
    (lambda: graph(inp(), dense("a", "b", 3, 3), dense("b", "a", 3, 3)), "cycle through: a, b"),
    (lambda: graph(inp(), dense("b", "a", 3, 3), dense("a", "x")), "not in topological order"),
    (lambda: graph(inp(), dense("a", "x"), outputs=("nothing",)), "'nothing' is produced by no"),
    (lambda: graph(inp(), dense("a", "x"), inputs=()), "graph inputs"),
    (lambda: graph(inp(), ir.Node("a", "mystery", ops.Dense(3), ("x",), ("a",))), "unknown op"),
    (lambda: graph(inp(), ir.Node("a", "dense", ops.Flatten(), ("x",), ("a",))),
     "attributes are Flatten"),
    (lambda: graph(inp(), ir.Node("a", "add", ops.Merge(), ("x",), ("a",))), "has 1 inputs"),
    (lambda: graph(inp(), ir.Node("a", "dense", ops.Dense(3), ("x",), ("a",),
                                  params=(param("kernel", (4, 3)),))),
     "expected ['kernel', 'bias']"),
    (lambda: graph(inp(), dense("a", "x", d=5)), "'kernel' has shape (5, 3), expected (4, 3)"),
], ids=["duplicate_name", "tensor_twice", "missing_tensor", "cycle", "order", "bad_output",
        "bad_inputs", "unknown_op", "attrs_type", "arity", "missing_param", "param_shape"])
def test_validate_rejects(make, message):
    with pytest.raises(GraphError) as caught:
        make().validate(require_shapes=False)
    assert message in str(caught.value)


def test_validate_requires_shapes_unless_told():
    g = graph(inp(), dense("a", "x"))
    g.validate(require_shapes=False)
    with pytest.raises(GraphError, match="output shape unknown"):
        g.validate()


def test_sorted_keeps_a_topological_order_and_repairs_another():
    nodes = (inp(), dense("a", "x"), inp("y"), dense("b", "y"))
    g = graph(*nodes, inputs=("x", "y"))
    assert g.sorted().nodes == g.nodes
    shuffled = graph(dense("b", "y"), inp("y"), dense("a", "x"), inp(), inputs=("x", "y"))
    assert [n.name for n in shuffled.sorted().nodes] == ["y", "b", "x", "a"]


def test_params_are_read_only_and_nodes_frozen():
    node = dense("a", "x")
    with pytest.raises(AttributeError):
        node.name = "b"
    p = ir.Param("kernel", np.zeros(2), "l", "kernel")
    assert p.shape == (2,)


def test_split_activations_keeps_consumers_and_names_fresh():
    relu = ops.Activation("relu")
    nodes = (inp(), dense("a", "x", activation=relu), dense("a/relu", "a", 2, 3))
    g = passes.split_activations(graph(*nodes))
    assert [(n.name, n.op, n.inputs, n.outputs) for n in g.nodes] == [
        ("x", "input", (), ("x",)), ("a", "dense", ("x",), ("a/preact",)),
        ("a/relu_1", "activation", ("a/preact",), ("a",)),
        ("a/relu", "dense", ("a",), ("a/relu",))]
    assert all(n.activation is None for n in g.nodes)


def test_drop_inference_noops_rewires_consumers_and_outputs():
    nodes = (inp(), ir.Node("drop", "dropout", ops.Dropout(0.5), ("x",), ("drop",)),
             dense("a", "drop"), ir.Node("lin", "activation", ops.Activation("linear"), ("a",),
                                         ("lin",)))
    g = passes.drop_inference_noops(graph(*nodes))
    assert [n.name for n in g.nodes] == ["x", "a"]
    # the output keeps its name (Keras' output name): the tensor before the no-op takes it
    assert g.node("a").inputs == ("x",) and g.node("a").outputs == ("lin",)
    assert g.outputs == ("lin",)


def test_prepare_runs_every_pass():
    nodes = (inp(shape=(8, 8, 3)),
             ir.Node("c", "conv2d", ops.Conv2D(2, (4, 4), (2, 2), "same"), ("x",), ("c",),
                     params=(param("kernel", (4, 4, 3, 2)), param("bias", (2,))),
                     activation=ops.Activation("relu")),
             ir.Node("d", "dropout", ops.Dropout(0.1), ("c",), ("d",)),
             ir.Node("f", "flatten", ops.Flatten(), ("d",), ("f",)))
    g = passes.prepare(graph(*nodes))
    assert [n.op for n in g.nodes] == ["input", "conv2d", "activation", "flatten"]
    assert g.node("c").attrs.padding == ir.Pad2D(1, 1, 1, 1)
    assert g.shape("f") == (32,)
    assert [n.op for n in passes.prepare(graph(*nodes), training=True).nodes].count("dropout") == 1
