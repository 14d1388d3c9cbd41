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


@pytest.fixture(params=["float32", "float64"])
def floatx(request):
    """Keras' float type and dtype policy (which keeps the float type of its first use)."""
    before, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(request.param)
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_floatx(before)
    keras.config.set_dtype_policy(policy)


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
