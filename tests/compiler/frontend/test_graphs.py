"""Functional models: skip connections, merges, several inputs and outputs, shared layers, nested
submodels; each read from .keras, legacy .h5 and the in-memory model."""
from __future__ import annotations

import numpy as np
import pytest

from support import ir_reference
from support.keras_models import (assert_matches_keras, assert_params_are_keras_weights, compile_graph,
                           keras, randomize, sample_inputs, save, sequential)

L = keras.layers


def residual():
    x = keras.Input((6, 6, 3), name="image")
    y = L.Conv2D(3, 3, padding="same", activation="relu", name="c1")(x)
    y = L.BatchNormalization(name="bn")(y)
    y = L.Add(name="skip")([x, y])
    y = L.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(x, L.Dense(2, activation="softmax", name="out")(y), name="residual")


def inception():
    x = keras.Input((6, 6, 2), name="image")
    a = L.Conv2D(2, 1, name="a")(x)
    b = L.Conv2D(3, 3, padding="same", name="b")(x)
    c = L.MaxPooling2D(3, strides=1, padding="same", name="c")(x)
    y = L.Concatenate(name="cat")([a, b, c])
    return keras.Model(x, L.Flatten(name="flat")(y), name="inception")


def multi_io():
    u = keras.Input((4,), name="u")
    v = keras.Input((4,), name="v")
    w = keras.Input((3,), name="w")
    s = L.Subtract(name="sub")([u, v])
    m = L.Multiply(name="mul")([u, v])
    a = L.Average(name="avg")([s, m, u])
    x = L.Maximum(name="max")([a, v])
    y = L.Concatenate(axis=1, name="cat")([x, w])
    first = L.Dense(2, name="first")(y)
    second = L.Dense(1, activation="sigmoid", name="second")(L.Dropout(0.2)(y))
    return keras.Model([u, v, w], [first, second], name="multi_io")


def shared_layer():
    x = keras.Input((5,), name="x")
    dense = L.Dense(5, activation="tanh", name="shared")
    y = dense(dense(x))
    return keras.Model(x, L.Add(name="add")([y, dense(x)]), name="shared_layer")


def nested():
    inner_seq = sequential((4,), L.Dense(3, name="in1"), L.Dense(4, name="in2"), name="inner_seq")
    i = keras.Input((4,), name="fi")
    inner_fn = keras.Model(i, L.Add(name="fadd")([i, L.Dense(4, name="fd")(i)]), name="inner_fn")
    x = keras.Input((4,), name="x")
    y = inner_fn(inner_seq(x))
    return keras.Model(x, L.Dense(1, name="head")(y), name="nested")


def nested_sequential():
    inner = keras.Sequential([L.Dense(3, name="a"), L.Dense(2, name="b")], name="block")
    return sequential((5,), L.Dense(5, name="first"), inner, name="outer")


BUILDERS = [residual, inception, multi_io, shared_layer, nested, nested_sequential]


@pytest.fixture(params=BUILDERS, ids=[b.__name__ for b in BUILDERS])
def model(request):
    keras.utils.set_random_seed(0)
    return randomize(request.param(), seed=5)


@pytest.mark.parametrize("fmt", ["keras", "h5", "memory"])
def test_graph_matches_keras(model, fmt, tmp_path):
    graph = compile_graph(model if fmt == "memory" else save(model, tmp_path, fmt))
    assert_params_are_keras_weights(graph, model)
    assert_matches_keras(graph, model, sample_inputs(model))


def test_residual_structure(tmp_path):
    graph = compile_graph(save(residual(), tmp_path))
    assert graph.node("skip").inputs == ("image", "bn")
    assert graph.node("bn").inputs == ("c1",)
    assert graph.producer("c1").name == "c1/relu"
    assert graph.inputs == ("image",) and graph.outputs == ("out",)


def test_multi_io_keeps_keras_order_and_drops_dropout(tmp_path):
    graph = compile_graph(save(multi_io(), tmp_path))
    assert graph.inputs == ("u", "v", "w")
    assert graph.outputs == ("first", "second")
    assert graph.node("second").inputs == ("cat",)
    assert graph.shape("cat") == (7,) and graph.node("cat").attrs.axis == 0
    training = compile_graph(save(multi_io(), tmp_path), training=True)
    assert [n.op for n in training.nodes].count("dropout") == 1


def test_shared_layer_becomes_one_node_per_call(tmp_path):
    graph = compile_graph(save(shared_layer(), tmp_path))
    calls = [n for n in graph.nodes if n.op == "dense"]
    assert sorted(n.name for n in calls) == ["shared", "shared:1", "shared:2"]
    assert {n.layer for n in calls} == {"shared"}
    assert all(n.params[0].value is not None for n in calls)


def test_nested_models_are_inlined_with_prefixed_names(tmp_path):
    graph = compile_graph(save(nested(), tmp_path))
    names = [n.name for n in graph.nodes]
    assert names == ["x", "inner_seq/in1", "inner_seq/in2", "inner_fn/fd", "inner_fn/fadd", "head"]
    assert graph.node("inner_fn/fadd").inputs == ("inner_seq/in2", "inner_fn/fd")
    assert graph.node("inner_seq/in1").params[0].layer == "inner_seq/in1"


def test_named_inputs_and_outputs_come_in_keras_flattened_order(tmp_path):
    """Keras flattens a dict by its sorted keys (model.inputs, model.outputs, the numbering of
    a nested model's outputs); the dict's own order is not kept."""
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    outputs = {"s": L.Add(name="s")([a, b]), "p": L.Dense(2, name="p")(a)}
    model = randomize(keras.Model({"b": b, "a": a}, outputs, name="dicts"))
    graph = compile_graph(save(model, tmp_path))
    assert graph.inputs == ("a", "b") and graph.outputs == ("p", "s")
    assert [t.name for t in model.inputs] == ["a", "b"] and model.output_names == ["p", "s"]
    x = sample_inputs(model)
    expected = model({"a": x[0], "b": x[1]})
    for got, name in zip(ir_reference.run(graph, x), ("p", "s")):
        np.testing.assert_allclose(got, np.asarray(expected[name]), atol=1e-5)


def test_variable_sequence_length_stays_open(tmp_path):
    model = sequential((None, 3), L.LSTM(4, return_sequences=True, name="seq"),
                       L.GRU(2, name="last"), name="varlen")
    graph = compile_graph(save(model, tmp_path))
    assert graph.shape(graph.inputs[0]) == (None, 3)
    assert graph.shape("seq") == (None, 4) and graph.shape("last") == (2,)


def _inner(name="inner"):
    i = keras.Input((4,), name=f"{name}_in")
    return keras.Model(i, L.Dense(3, name=f"{name}_d")(i), name=name)


def _nested_outputs():
    """Nested models returned directly: Keras counts a functional model's calls from 1 in
    output_layers (its own first node is left out of the config) but from 0 in other refs."""
    x = keras.Input((4,), name="x")
    inner = _inner()
    first, second = inner(x), inner(L.Dense(4, name="pre")(x))
    seq = keras.Sequential([keras.Input((3,)), L.Dense(2, name="s")], name="seq")
    return keras.Model(x, [first, second, seq(first)], name="nested_outputs")


def _single_nested_output():
    x = keras.Input((4,), name="x")
    return keras.Model(x, _inner()(x), name="single_nested_output")


@pytest.mark.parametrize("fmt", ["keras", "h5", "memory"])
@pytest.mark.parametrize("build", [
    _nested_outputs,
    _single_nested_output,
    lambda: sequential((4,), L.Dense(4, name="pre"), _inner(), name="seq_of_model"),
], ids=["twice", "single", "sequential"])
def test_nested_model_as_an_output_matches_keras(build, fmt, tmp_path):
    from kerasdml.compiler import compile_model

    keras.utils.set_random_seed(0)
    model = randomize(build(), seed=3)
    x = sample_inputs(model, batch=4)[0]
    got = compile_model(model if fmt == "memory" else save(model, tmp_path, fmt)).predict(x)
    expected = model.predict(x, verbose=0)
    got, expected = (got, expected) if isinstance(expected, list) else ([got], [expected])
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-5)


def _assert_same_structure(got, expected):
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected)
        for key in expected:
            _assert_same_structure(got[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert isinstance(got, list) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _assert_same_structure(g, e)
    else:
        np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("fmt", ["keras", "h5", "memory"])
@pytest.mark.parametrize("outputs", [
    lambda a, b: {"zeta": a, "alpha": b},                # keys not sorted: Keras keeps their order
    lambda a, b: {"pair": [a, b], "one": a},
    lambda a, b: [{"u": b}, a],
], ids=["dict", "dict_of_list", "list_of_dict"])
def test_predict_returns_keras_structure_of_outputs(outputs, fmt, tmp_path):
    from kerasdml.compiler import compile_model

    keras.utils.set_random_seed(0)
    x = keras.Input((4,), name="x")
    hidden = L.Dense(5, activation="relu", name="hidden")(x)
    model = randomize(keras.Model(x, outputs(L.Dense(2, name="za")(hidden),
                                             L.Dense(3, name="al")(hidden)), name="structured"))
    data = sample_inputs(model, batch=4)[0]
    compiled = compile_model(model if fmt == "memory" else save(model, tmp_path, fmt))
    _assert_same_structure(compiled.predict(data), model.predict(data, verbose=0))
