"""activity_regularizer on any layer: Keras adds regularizer(output) / batch size to the loss for
each output of the layer. Training reports the loss and reaches the weights model.fit does;
prediction is unchanged; a regularizer other than L1, L2 or L1L2 is refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import compile_graph, keras, randomize, save
from kerasdml.compiler import compile_model
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
R = keras.regularizers
RNG = np.random.default_rng(29)


def dense_model():
    return keras.Sequential([keras.Input((6,)),
                             L.Dense(8, activation="elu", activity_regularizer=R.L1L2(0.01, 0.02)),
                             L.Dense(2, activity_regularizer=R.L2(0.05))], name="dense_model")


def conv_model():
    x = keras.Input((5, 5, 2))
    y = L.Conv2D(3, 3, padding="same", activation="relu", activity_regularizer=R.L1(0.01))(x)
    y = L.BatchNormalization()(y)
    y = L.Conv2D(2, 2, activity_regularizer=R.L2(0.02))(y)
    return keras.Model(x, L.Dense(2)(L.Flatten()(y)), name="conv_model")


CASES = {"dense": (dense_model, (6,)), "conv2d": (conv_model, (5, 5, 2))}


@pytest.mark.parametrize("name", list(CASES))
def test_trains_like_keras_loss_and_weights(name, tmp_path):
    build, shape = CASES[name]
    model = randomize(build(), seed=4, scale=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x = RNG.normal(size=(32, *shape)).astype("float32")
    y = RNG.normal(size=(32, 2)).astype("float32")
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0).fit(x, y)
    history = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(estimator.history_["loss"], history["loss"], rtol=1e-5)
    exported = keras.models.load_model(estimator.export(tmp_path / "out.keras"))
    for got, expected in zip(exported.weights, model.weights):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5, rtol=1e-5,
                                   err_msg=expected.path)


@pytest.mark.parametrize("name", list(CASES))
def test_prediction_is_unchanged(name, tmp_path):
    build, shape = CASES[name]
    model = randomize(build(), seed=4, scale=0.5)
    compiled = compile_model(save(model, tmp_path))
    x = RNG.normal(size=(4, *shape)).astype("float32")
    np.testing.assert_allclose(compiled.predict(x, precision="double"),
                               model.predict(x, verbose=0), atol=1e-5, rtol=1e-5)
    assert "activity" not in compiled.predict_script


def test_every_output_of_a_layer_is_regularized(tmp_path):
    x = keras.Input((4, 3))
    outputs = L.LSTM(5, return_state=True, activity_regularizer=R.L2(0.1))(x)
    graph = compile_graph(save(keras.Model(x, outputs), tmp_path), training=True)
    penalized = [n.inputs[0] for n in graph.nodes if n.op == "activity_regularization"]
    assert len(penalized) == 3 and all(t.endswith("/unregularized") for t in penalized)


def test_other_regularizers_are_refused_by_name(tmp_path):
    model = keras.Sequential([keras.Input((6,)), L.Dense(
        4, activity_regularizer=R.OrthogonalRegularizer(0.01))])
    with pytest.raises(CompileError, match=r"activity_regularizer.*L1, L2 or L1L2"):
        compile_model(save(model, tmp_path))


def test_a_wrapped_layers_penalty_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((3, 6)), L.TimeDistributed(
        L.Dense(4, activity_regularizer=R.L2(0.01)))])
    with pytest.raises(CompileError, match=r"activity_regularizer='on a layer it wraps'"):
        compile_model(save(model, tmp_path))
