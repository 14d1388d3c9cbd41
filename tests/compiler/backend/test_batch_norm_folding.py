"""A BatchNormalization right after a convolution or a Dense is folded into that layer's kernel and
bias in prediction scripts (computed once, before the batch loop, from the bound weights), and
still predicts what Keras predicts; training scripts keep it."""
import re

import numpy as np
import pytest

from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.estimator import Keras2DML
from support.keras_models import keras, predict, randomize, sample_inputs, save, sequential

L = keras.layers


def conv_bn(**batch_norm):
    return sequential((7, 7, 3), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(**batch_norm),
                      L.ReLU(), L.GlobalAveragePooling2D(), name="conv_bn")


def conv_without_bias():
    return sequential((7, 7, 3), L.Conv2D(4, 3, use_bias=False), L.BatchNormalization(),
                      L.Flatten(), name="conv_without_bias")


def depthwise_and_separable():
    return sequential((8, 8, 3), L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False),
                      L.BatchNormalization(), L.SeparableConv2D(5, 3, padding="same"),
                      L.BatchNormalization(scale=False), L.Flatten(), name="depthwise_separable")


def dense_bn():
    return sequential((6,), L.Dense(5), L.BatchNormalization(center=False), name="dense_bn")


def sequence_bn():
    """A Conv1D's channels are its kernel's rows, the BatchNormalization's per-step rows: the
    fold transposes its vectors."""
    return sequential((6, 3), L.Conv1D(4, 2), L.BatchNormalization(), L.Dense(3),
                      L.BatchNormalization(), name="sequence_bn")


def conv_read_twice():
    """The convolution's output is also added to the normalised one: nothing to fold."""
    inputs = keras.Input((6, 6, 2))
    conv = L.Conv2D(2, 3, padding="same")(inputs)
    return keras.Model(inputs, L.Add()([conv, L.BatchNormalization()(conv)]), name="conv_read_twice")


FOLDED = {
    "conv": lambda: conv_bn(),
    "conv_center_false": lambda: conv_bn(center=False),
    "conv_scale_false": lambda: conv_bn(scale=False),
    "conv_without_bias": conv_without_bias,
    "depthwise_and_separable": depthwise_and_separable,
    "dense_center_false": dense_bn,
    "conv1d_and_dense_on_steps": sequence_bn,
}


def batch_loop(script: str) -> str:
    return script[script.index("for (i in 1:batches)"):]


def assert_predicts_like_keras(compiled, model, precision):
    inputs = sample_inputs(model, batch=5)
    atol = 1e-5 if precision == "double" else 1e-4
    np.testing.assert_allclose(compiled.predict(inputs[0], precision=precision),
                               predict(model, inputs)[0], atol=atol, rtol=1e-4)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(FOLDED))
def test_folded_batch_norm_predicts_like_keras(name, precision, tmp_path):
    model = randomize(FOLDED[name]())
    compiled = compile_model(save(model, tmp_path))
    script = compiled.predict_script
    assert not re.search(r"batch_norm\dd::", batch_loop(script))
    folds = len([layer for layer in model.layers if isinstance(layer, L.BatchNormalization)])
    assert len(re.findall(r"^# folded into \w+'s kernel and bias", script, re.M)) == folds
    assert_predicts_like_keras(compiled, model, precision)


def test_a_convolution_read_elsewhere_keeps_its_batch_norm(tmp_path):
    model = randomize(conv_read_twice())
    compiled = compile_model(save(model, tmp_path))
    assert "batch_norm2d::forward" in batch_loop(compiled.predict_script)
    assert "folded" not in compiled.predict_script
    assert_predicts_like_keras(compiled, model, "double")


def test_training_scripts_keep_batch_norm(tmp_path):
    compiled = compile_model(save(randomize(conv_bn()), tmp_path), loss="mse", optimizer="sgd")
    assert "batch_norm2d::forward" in compiled.train_script
    assert "folded" not in compiled.train_script


def test_weights_stay_the_keras_values(tmp_path):
    model = randomize(conv_bn())
    weights = compile_model(save(model, tmp_path)).keras_weights()
    for layer in model.layers[:2]:
        for variable in layer.weights:
            np.testing.assert_array_equal(weights[(layer.name, variable.name)], variable.numpy())


def test_trained_weights_fold_as_keras_predicts_with_them(tmp_path):
    """fit moves the kernels and the moving statistics; predict binds those and folds them."""
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(16, 7, 7, 3)).astype("float32")
    y = rng.normal(size=(16, 4)).astype("float32")
    model = randomize(conv_bn(), scale=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    estimator = Keras2DML(model, epochs=2, batch_size=8, seed=1, verbose=0).fit(x, y)
    exported = keras.models.load_model(estimator.export(tmp_path / "trained.keras"))
    statistics = exported.layers[1].moving_mean.numpy()
    assert not np.allclose(statistics, model.layers[1].moving_mean.numpy())
    np.testing.assert_allclose(estimator.predict(x), exported.predict(x, verbose=0), atol=1e-4,
                               rtol=1e-4)


@pytest.mark.parametrize("precision", ["double", "single"])
def test_predict_folds_once_per_set_of_weights_with_the_scripts_bits(precision, tmp_path, monkeypatch):
    """predict() runs the fold statements once per weight arrays and precision and binds their
    results; the predictions are the bits of the whole prediction script, which folds in
    every run. New arrays (a fit's) fold anew."""
    from kerasdml.runtime import api

    model = randomize(depthwise_and_separable())
    compiled = compile_model(save(model, tmp_path))
    inputs = sample_inputs(model, batch=5)[0]
    rows = compiled.inputs[0].rows(inputs)
    whole = api.run_string(compiled.script("predict", bound=True),
                           inputs={compiled.inputs[0].variable: rows, **compiled.weights},
                           args={"batch_size": 256}, outputs=[compiled.outputs[0].variable],
                           precision=precision)[compiled.outputs[0].variable]
    runs = []
    original = api.run_string
    monkeypatch.setattr(api, "run_string", lambda text, **kw: runs.append(text) or original(text, **kw))
    first = compiled.predict(inputs, precision=precision)
    again = compiled.predict(inputs, precision=precision)
    assert len(runs) == 3 and "for (i in 1:batches)" not in runs[0]     # one fold, two predicts
    assert "_folded = " not in runs[1] and "_folded" in runs[1]
    expected = compiled.outputs[0].keras(whole)
    assert first.tobytes() == again.tobytes() == expected.tobytes()
    changed = {name: value * 1.5 for name, value in compiled.weights.items()}
    moved = compiled.predict(inputs, precision=precision, weights=changed)
    assert len(runs) == 5 and not np.allclose(moved, first)
