"""Cross-entropies of a softmax or sigmoid output whose predictions saturate (p(true) < 1e-7, as
unscaled 0..255 pixels give): Keras 3's TensorFlow backend takes these losses from the
activation's logits although from_logits=False, so neither the loss nor its gradient is clipped.
Keras2DML.fit against model.fit / train_on_batch on the same weights, float32 and float64."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler import Keras2DML, compile_model

L = keras.layers
N = 16
RNG = np.random.default_rng(24)
X = (RNG.random((N, 6)) * 20).astype("float32")
CLASSES = RNG.integers(0, 3, N)
ONE_HOT = np.eye(3, dtype="float32")[CLASSES]
BITS = RNG.integers(0, 2, (N, 2)).astype("float32")


def _model(form: str, loss, floatx: str) -> keras.Model:
    """Dense weights large enough that about half the samples' true class is saturated."""
    loss = loss() if callable(loss) else loss
    units = 2 if form == "sigmoid" else 3
    layers = [L.Dense(units, activation=form if form in ("softmax", "sigmoid") else None)]
    if form == "activation_layer":
        layers.append(L.Activation("softmax"))
    model = keras.Sequential([keras.Input((6,)), *layers])
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0, 1.5, (6, units)).astype(floatx),
                       rng.normal(0, 1, units).astype(floatx)])
    model.compile(loss=loss, optimizer=keras.optimizers.SGD(0.05))
    return model


def _targets(form: str, loss):
    if form == "sigmoid":
        return BITS
    return CLASSES if "sparse" in str(loss) else ONE_HOT


CASES = {
    "softmax_categorical": ("softmax", "categorical_crossentropy"),
    "softmax_sparse": ("softmax", "sparse_categorical_crossentropy"),
    "sigmoid_binary": ("sigmoid", "binary_crossentropy"),
    "activation_layer_categorical": ("activation_layer", "categorical_crossentropy"),
    # loss objects made in the test, of its float type (a float32 loss on float64 outputs
    # casts them, which leaves Keras no logits to take: it clips)
    "softmax_smoothed": ("softmax",
                         lambda: keras.losses.CategoricalCrossentropy(label_smoothing=0.1)),
    "sigmoid_smoothed": ("sigmoid", lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.2)),
}


def _saturated(model, y) -> int:
    """Samples whose true class (any wrong bit) has a probability under 1e-7."""
    p = model.predict(X, verbose=0)
    if y.ndim == 1:
        return int((p[np.arange(N), y] < 1e-7).sum())
    if y.shape[1] == 3:
        return int((p[y == 1] < 1e-7).sum())
    return int(((np.abs(p - y) > 1 - 1e-7).any(axis=1)).sum())


def _tolerances(floatx: str) -> dict:
    return dict(rtol=1e-9, atol=1e-9) if floatx == "float64" else dict(rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_one_step_on_a_saturated_batch_is_keras_step(case, floatx):
    form, loss = CASES[case]
    model = _model(form, loss, floatx)
    y = _targets(form, loss)
    assert _saturated(model, y) >= N // 4
    precision = "double" if floatx == "float64" else "single"
    estimator = Keras2DML(model, epochs=1, batch_size=N, shuffle=False, verbose=0,
                          precision=precision).fit(X, y)
    keras_loss = float(model.train_on_batch(X, y))
    np.testing.assert_allclose(estimator.history_["loss"], [keras_loss], **_tolerances(floatx))
    np.testing.assert_allclose(estimator.predict(X), model.predict(X, verbose=0),
                               **_tolerances(floatx))


@pytest.mark.parametrize("case", ["softmax_categorical", "softmax_sparse", "sigmoid_binary",
                                  "activation_layer_categorical"])
def test_a_few_epochs_on_saturated_data_follow_keras(case, floatx):
    """Several steps, the validation loss (from the logits too) and score on the same data."""
    form, loss = CASES[case]
    model = _model(form, loss, floatx)
    y = _targets(form, loss)
    settings = dict(epochs=3, batch_size=4, shuffle=False, verbose=0)
    precision = "double" if floatx == "float64" else "single"
    estimator = Keras2DML(model, validation_split=0.25, precision=precision,
                          **settings).fit(X, y)
    history = model.fit(X, y, validation_split=0.25, **settings).history
    assert max(history["val_loss"]) > 1.0  # saturated validation samples count in full
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(estimator.history_[name], history[name],
                                   **_tolerances(floatx), err_msg=name)
    np.testing.assert_allclose(estimator.predict(X), model.predict(X, verbose=0),
                               **_tolerances(floatx))


def test_the_generated_script_takes_the_logits_and_skips_the_softmax_backward():
    model = _model("softmax", "categorical_crossentropy", "float32")
    script = compile_model(model).train_script
    variable = next(line.split(" = ")[0].strip() for line in script.splitlines()
                    if "softmax::forward(" in line)
    logits = script.split(f"{variable} = softmax::forward(")[1].split(")")[0]
    assert f"categorical_crossentropy::forward({logits}, y_batch, TRUE, 0.0)" in script
    assert f"d{logits} = categorical_crossentropy::backward({logits}, y_batch, TRUE, 0.0)" \
        in script
    assert "softmax::backward" not in script


def test_an_explicit_from_logits_loss_on_a_linear_output_is_unchanged():
    """A linear output has no softmax to take the logits of: the loss reads the output."""
    model = keras.Sequential([keras.Input((6,)), L.Dense(3, name="scores")])
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True), optimizer="sgd")
    script = compile_model(model).train_script
    assert "dscores = categorical_crossentropy::backward(scores, y_batch, TRUE, 0.0)" in script


# --- outputs that layers read too, and outputs an identity hands on ----------------------------

AUX = RNG.normal(size=(N, 1)).astype("float32")


def _read_model(form: str, floatx: str) -> keras.Model:
    """A softmax or sigmoid output that layers read too ("softmax_aux": a Dense reads the
    probabilities; "sigmoid_gate": the gate multiplies another Dense's output, which feeds a
    second output), or one that a layer returning its input tensor hands on (Dropout(0.0),
    Identity, Activation('linear'), a Dense's activity_regularizer, with an aux output reading
    the probabilities too), or a Reshape to the same shape (a new tensor: Keras clips)."""
    keras.utils.set_random_seed(3)
    units = 2 if form == "sigmoid_gate" else 3
    x = keras.Input((6,))
    penalty = keras.regularizers.L2(0.01) if form == "activity_regularizer" else None
    p = L.Dense(units, activation="sigmoid" if form == "sigmoid_gate" else "softmax",
                activity_regularizer=penalty, name="gate")(x)
    wrappers = {"dropout_0": L.Dropout(0.0), "identity": L.Identity(),
                "linear_activation": L.Activation("linear"), "reshape_same": L.Reshape((3,))}
    if form == "sigmoid_gate":
        aux = L.Dense(1, name="aux")(L.Multiply()([p, L.Dense(2, name="values")(x)]))
        outputs = [p, aux]
    elif form == "softmax_aux":
        outputs = [p, L.Dense(1, name="aux")(p)]
    elif form == "activity_regularizer":
        outputs = [p]
    else:
        outputs = [wrappers[form](p), L.Dense(1, name="aux")(p)]
    model = keras.Model(x, outputs)
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype(floatx) for w in model.get_weights()])
    gate = model.get_layer("gate")
    gate.set_weights([rng.normal(0, 1.5, w.shape).astype(floatx) for w in gate.get_weights()])
    loss = "binary_crossentropy" if form == "sigmoid_gate" else "categorical_crossentropy"
    if len(outputs) == 1:
        model.compile(loss=loss, optimizer=keras.optimizers.SGD(0.05))
    else:
        model.compile(loss=[loss, "mse"], loss_weights=[1.0, 0.5],
                      optimizer=keras.optimizers.SGD(0.05))
    return model


READ_FORMS = ["softmax_aux", "sigmoid_gate", "dropout_0", "identity", "linear_activation",
              "activity_regularizer", "reshape_same"]


def _read_targets(model, form: str) -> list:
    y = BITS if form == "sigmoid_gate" else ONE_HOT
    return [y, AUX] if len(model.outputs) > 1 else y


@pytest.mark.parametrize("scale", [1.0, 1 / 20], ids=["saturated", "unsaturated"])
@pytest.mark.parametrize("form", READ_FORMS)
def test_one_step_of_an_output_read_by_layers_or_handed_on_is_keras_step(form, scale, floatx):
    model = _read_model(form, floatx)
    x, y = X * scale, _read_targets(model, form)
    if scale == 1.0:
        p = model.predict(x, verbose=0)
        p = p[0] if isinstance(p, list) else p
        first = y[0] if isinstance(y, list) else y
        assert (np.abs(p - first) > 1 - 1e-7).any(axis=1).sum() >= N // 4
    precision = "double" if floatx == "float64" else "single"
    estimator = Keras2DML(model, epochs=1, batch_size=N, shuffle=False, verbose=0,
                          precision=precision).fit(x, y)
    history = model.fit(x, y, epochs=1, batch_size=N, shuffle=False, verbose=0).history
    for name, values in history.items():
        np.testing.assert_allclose(estimator.history_[name], values, **_tolerances(floatx),
                                   err_msg=name)
    _same_predictions(estimator, model, x, floatx)


@pytest.mark.parametrize("form", READ_FORMS)
def test_two_epochs_of_an_output_read_by_layers_or_handed_on_follow_keras(form, floatx):
    model = _read_model(form, floatx)
    y = _read_targets(model, form)
    settings = dict(epochs=2, batch_size=4, shuffle=False, verbose=0)
    precision = "double" if floatx == "float64" else "single"
    estimator = Keras2DML(model, precision=precision, **settings).fit(X, y)
    history = model.fit(X, y, **settings).history
    for name, values in history.items():
        np.testing.assert_allclose(estimator.history_[name], values, **_tolerances(floatx),
                                   err_msg=name)
    _same_predictions(estimator, model, X, floatx)


def _same_predictions(estimator, model, x, floatx: str) -> None:
    ours, theirs = estimator.predict(x), model.predict(x, verbose=0)
    for a, b in zip(ours if isinstance(ours, list) else [ours],
                    theirs if isinstance(theirs, list) else [theirs]):
        np.testing.assert_allclose(a, b, **_tolerances(floatx))


def test_a_softmax_read_by_a_layer_passes_that_layer_s_gradient_back_too():
    """The loss's gradient goes to the logits; the aux layer's through the softmax's backward,
    and the two are summed."""
    script = compile_model(_read_model("softmax_aux", "float32")).train_script
    assert "softmax::backward(" in script
    assert "categorical_crossentropy::forward(gate_preact, " in script
    summed = [line for line in script.splitlines() if line.strip().startswith("dgate_preact =")]
    assert summed and " + " in summed[0]
