"""A compiled model's outputs go by Keras' names (the keys of compile's dict losses, metrics and
loss_weights, of fit's dict targets and of the history), whatever the passes remove: an output
written by an Identity, a linear Activation, a Dropout or a Reshape/Flatten that changes nothing
keeps that layer's name; the outputs of a model returning a dict go by its keys."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler import Keras2DML, compile_model

L = keras.layers
SPARSE = "sparse_categorical_crossentropy"

WRAPPERS = {
    "Identity": lambda name: L.Identity(name=name),
    "linear Activation": lambda name: L.Activation("linear", name=name),
    "Dropout": lambda name: L.Dropout(0.5, name=name),
    "Reshape": lambda name: L.Reshape((3,), name=name),
    "Flatten": lambda name: L.Flatten(name=name),
}


def shared_head(wrap, as_dict: bool = True) -> keras.Model:
    """One softmax head applied to two inputs, its results named "pa" and "pb" by `wrap`."""
    keras.utils.set_random_seed(0)
    head = L.Dense(3, activation="softmax", name="head")
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    pa, pb = wrap("pa")(head(a)), wrap("pb")(head(b))
    return keras.Model([a, b], {"pa": pa, "pb": pb} if as_dict else [pa, pb])


def data(count: int = 24):
    rng = np.random.default_rng(0)
    return ([rng.normal(size=(count, 5)), rng.normal(size=(count, 5))],
            rng.integers(0, 3, count), rng.integers(0, 3, count))


def assert_fits_like_keras(model, x, y, tmp_path, epochs: int = 2):
    """Keras2DML's history (keys and values) and trained weights are model.fit's."""
    estimator = Keras2DML(model, epochs=epochs, batch_size=8, shuffle=False, verbose=0)
    estimator.fit(x, y)
    history = model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0).history
    assert set(estimator.history_) == set(history)
    for name, per_epoch in history.items():
        np.testing.assert_allclose(estimator.history_[name], per_epoch, atol=1e-5, err_msg=name)
    trained = keras.models.load_model(estimator.export(tmp_path / "trained.keras"))
    for ours, theirs in zip(trained.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    return estimator


@pytest.mark.parametrize("wrapper", ["Identity", "linear Activation"])
def test_outputs_named_by_wrapper_layers_train_like_keras_fit(wrapper, tmp_path):
    model = shared_head(WRAPPERS[wrapper])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss={"pa": SPARSE, "pb": SPARSE},
                  loss_weights={"pa": 1.0, "pb": 0.5},
                  metrics={"pa": ["accuracy"], "pb": ["accuracy"]})
    assert model.output_names == ["pa", "pb"]
    x, ya, yb = data()
    estimator = assert_fits_like_keras(model, x, {"pb": yb, "pa": ya}, tmp_path)
    assert set(estimator.history_) == {"loss", "pa_loss", "pb_loss", "pa_accuracy",
                                       "pb_accuracy"}
    predicted = estimator.predict([v[:5] for v in x])
    theirs = model.predict([v[:5] for v in x], verbose=0)
    assert list(predicted) == list(theirs) == ["pa", "pb"]   # Keras' dict, in its order
    for name in theirs:
        np.testing.assert_allclose(predicted[name], theirs[name], atol=1e-5, err_msg=name)


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
@pytest.mark.parametrize("as_dict", [True, False], ids=["dict", "list"])
def test_outputs_keep_the_names_of_layers_that_do_nothing(wrapper, as_dict):
    model = shared_head(WRAPPERS[wrapper], as_dict)
    compiled = compile_model(model, loss={"pa": SPARSE, "pb": "mse"}, optimizer="sgd")
    assert model.output_names == ["pa", "pb"]
    assert [t.name for t in compiled.outputs] == ["pa", "pb"]
    assert compiled.train_graph.outputs == ("pa", "pb")
    assert [h.output for h in compiled.training.heads] == ["pa", "pb"]
    assert compiled.training.metric_names == ("pa_loss", "pb_loss")
    x, _, _ = data(6)
    theirs = model.predict(x, verbose=0)
    ours = compiled.predict(x)
    assert isinstance(ours, dict) == as_dict
    for k, name in enumerate(["pa", "pb"]):
        np.testing.assert_allclose(ours[name] if as_dict else ours[k],
                                   theirs[name] if as_dict else theirs[k], atol=1e-5)


def test_a_dict_of_outputs_goes_by_its_keys_in_keras_order(tmp_path):
    """Keras names the outputs of Model(i, {"zb": .., "ya": ..}) by the keys (its output_names
    are the layers' names, which compile refuses as keys), flattened in sorted key order."""
    keras.utils.set_random_seed(0)
    features = keras.Input((5,), name="features")
    model = keras.Model(features, {"zb": L.Dense(3, activation="softmax", name="dx")(features),
                                   "ya": L.Dense(2, name="dy")(features)})
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss={"zb": SPARSE, "ya": "mse"},
                  metrics={"zb": ["accuracy"], "ya": ["mae"]})
    assert model.output_names == ["dy", "dx"]
    rng = np.random.default_rng(1)
    x, labels, values = rng.normal(size=(24, 5)), rng.integers(0, 3, 24), rng.normal(size=(24, 2))
    assert [t.name for t in compile_model(model).outputs] == ["ya", "zb"]
    estimator = assert_fits_like_keras(model, x, {"zb": labels, "ya": values}, tmp_path)
    assert set(estimator.history_) == {"loss", "ya_loss", "zb_loss", "ya_mae", "zb_accuracy"}
    theirs, ours = model.predict(x[:4], verbose=0), estimator.predict(x[:4])
    assert list(ours) == list(theirs) == ["zb", "ya"]   # predict keeps the dict's own order
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, err_msg=key)


def test_a_dict_key_naming_another_layer_takes_that_name():
    features = keras.Input((5,), name="features")
    hidden = L.Dense(4, name="hid")(features)
    model = keras.Model(features, {"hid": L.Dense(3, name="o1")(hidden),
                                   "o2": L.Dense(2, name="o2")(features)})
    compiled = compile_model(model, loss={"hid": "mse", "o2": "mse"}, optimizer="sgd")
    assert [t.name for t in compiled.outputs] == ["hid", "o2"]
    x = np.random.default_rng(2).normal(size=(4, 5))
    theirs, ours = model.predict(x, verbose=0), compiled.predict(x)
    assert list(ours) == list(theirs)
    for key in ["hid", "o2"]:
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, err_msg=key)


def test_an_identity_of_another_output_stays():
    """Model(i, [h, Identity(h)]): both outputs keep their names, so the Identity stays."""
    features = keras.Input((5,), name="features")
    h = L.Dense(3, name="head")(features)
    model = keras.Model(features, [h, L.Identity(name="same")(h)])
    compiled = compile_model(model, loss=["mse", "mse"], optimizer="sgd")
    assert model.output_names == ["head", "same"]
    assert [t.name for t in compiled.outputs] == ["head", "same"]
    x = np.random.default_rng(3).normal(size=(4, 5))
    for ours, theirs in zip(compiled.predict(x), model.predict(x, verbose=0)):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_a_shared_layer_returned_twice_gets_two_names():
    """Keras names both outputs "head" (its output_names repeat); each keeps a name of its own:
    the layer's name, then the IR name of its second call."""
    head = L.Dense(3, activation="softmax", name="head")
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    model = keras.Model([a, b], [head(a), head(b)])
    assert model.output_names == ["head", "head"]
    compiled = compile_model(model, loss=[SPARSE, SPARSE], optimizer="sgd")
    assert [t.name for t in compiled.outputs] == ["head", "head:1"]
    assert [t.variable for t in compiled.outputs] == ["Y_head", "Y_head_1"]
