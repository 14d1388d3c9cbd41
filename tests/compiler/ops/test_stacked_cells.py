"""keras.layers.RNN over a list of cells (StackedRNNCells): predictions equal Keras' on the same
weights (.keras, legacy .h5 and in-memory models; cells of different kinds and sizes, with and
without bias, go_backwards, return_sequences, a Keras mask), training equals model.fit, and
what a stack cannot do (its states, initial_state) is refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize, save
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError

L = keras.layers
ATOL = 1e-5
RNG = np.random.default_rng(11)
TOKENS = np.array([[3, 1, 4, 0, 0], [2, 0, 5, 1, 0], [1, 2, 3, 4, 5], [0, 0, 6, 2, 5]],
                  dtype="int32")


def _cells():
    # named out of their order and of their classes' order: the file keys them by class
    return [L.LSTMCell(4, name="zeta"), L.GRUCell(3, use_bias=False, name="alpha"),
            L.SimpleRNNCell(2, activation="relu", name="mid"), L.LSTMCell(3, name="omega")]


def _stacked(return_sequences=False, go_backwards=False):
    x = keras.Input((5, 3))
    y = L.RNN(_cells(), return_sequences=return_sequences, go_backwards=go_backwards,
              name="stack")(x)
    return keras.Model(x, L.Dense(2)(L.Flatten()(y) if return_sequences else y),
                       name="stacked_cells")


def _masked():
    x = keras.Input((5,), dtype="int32")
    y = L.Embedding(7, 3, mask_zero=True)(x)
    y = L.RNN([L.GRUCell(4), L.LSTMCell(3)], return_sequences=True)(y)
    return keras.Model(x, L.RNN([L.SimpleRNNCell(3), L.GRUCell(2)], go_backwards=True)(y),
                       name="masked_stack")


MODELS = {"last": lambda: _stacked(),
          "sequences": lambda: _stacked(return_sequences=True),
          "backwards_sequences": lambda: _stacked(return_sequences=True, go_backwards=True),
          "backwards_last": lambda: _stacked(go_backwards=True)}


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, fmt, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=5, scale=0.7)
    assert_predicts_like_keras(model, [RNG.normal(size=(4, 5, 3)).astype("float32")],
                               atol=ATOL, fmt=fmt)


def test_a_masked_stack_predicts_like_keras(assert_predicts_like_keras):
    assert_predicts_like_keras(randomize(_masked(), seed=5, scale=0.7), [TOKENS], atol=ATOL)


def test_an_in_memory_model_predicts_like_keras():
    model = randomize(MODELS["backwards_sequences"](), seed=7, scale=0.7)
    x = RNG.normal(size=(3, 5, 3)).astype("float32")
    np.testing.assert_allclose(compile_model(model).predict(x), model.predict(x, verbose=0),
                               atol=ATOL, rtol=1e-5)


def test_each_cell_gets_its_own_weights(tmp_path):
    """The cells' arrays come out of the file in the list's order (not the file's), each named
    after its cell."""
    model = randomize(MODELS["last"](), seed=5, scale=0.7)
    params = {p.weight: p.value for _, p in compile_model(save(model, tmp_path)).graph.params()
              if p.layer == "stack"}
    expected = {f"{cell.name}/{w.path.rsplit('/', 1)[-1]}": w.numpy()
                for cell in model.get_layer("stack").cell.cells for w in cell.weights}
    assert sorted(params) == sorted(expected) and len(expected) == 11
    for name, value in expected.items():
        assert np.array_equal(np.asarray(params[name]).reshape(value.shape), value), name


def test_trains_like_keras(tmp_path):
    x = keras.Input((5, 3))
    y = L.RNN([L.LSTMCell(4), L.GRUCell(3)], return_sequences=True)(x)
    y = L.RNN([L.SimpleRNNCell(3), L.LSTMCell(3)], go_backwards=True)(y)
    model = randomize(keras.Model(x, L.Dense(3, activation="softmax")(y), name="stacks"),
                      seed=3, scale=0.5)
    assert_trains_like_keras(model, RNG.normal(size=(16, 5, 3)).astype("float32"),
                             RNG.integers(0, 3, 16), tmp_path)


@pytest.mark.parametrize("kwargs, call, attribute", [
    (dict(return_state=True), {}, "return_state"),
    ({}, dict(initial_state=True), "initial_state")])
def test_states_of_a_stack_are_refused_by_name(kwargs, call, attribute, tmp_path):
    x = keras.Input((5, 3))
    layer = L.RNN([L.LSTMCell(2), L.LSTMCell(2)], name="stack", **kwargs)
    if call:
        states = [L.Dense(2)(L.Flatten()(x)) for _ in range(4)]
        y = layer(x, initial_state=states)
    else:
        y = layer(x)
    y = y[0] if isinstance(y, list) else y
    with pytest.raises(UnsupportedAttributeError, match=f"stack.*{attribute}"):
        compile_model(save(keras.Model(x, y, name="stack_states"), tmp_path))
