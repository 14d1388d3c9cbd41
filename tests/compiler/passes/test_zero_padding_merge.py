"""A ZeroPadding2D read only by a convolution (or a depthwise one) is merged into that
convolution's padding in prediction scripts: no copy of the images left when the sum is
symmetric, one zero_pad2d when it is not, Keras' predictions either way; training scripts keep
the layer."""
import numpy as np
import pytest

from kerasdml.compiler.compile import compile_model
from support.keras_models import keras, predict, randomize, sample_inputs, save, sequential

L = keras.layers


def batch_loop(script: str) -> str:
    return script[script.index("for (i in 1:batches)"):]


CASES = {
    # (layers, zero_pad2d calls left in the prediction script's batch loop)
    "symmetric_then_valid_stride_2": ([L.ZeroPadding2D(1), L.Conv2D(4, 3, strides=2)], 0),
    "asymmetric_then_valid_stride_2": ([L.ZeroPadding2D(((0, 1), (0, 1))),
                                        L.Conv2D(4, 3, strides=2)], 1),
    "adds_to_same_padding": ([L.ZeroPadding2D(((1, 0), (1, 0))), L.Conv2D(3, 2, padding="same")], 0),
    "depthwise": ([L.ZeroPadding2D(((1, 1), (2, 2))), L.DepthwiseConv2D(3, depth_multiplier=2)], 0),
}


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_merged_padding_predicts_like_keras(name, precision, tmp_path):
    layers, left = CASES[name]
    model = randomize(sequential((9, 8, 3), *layers, L.Flatten(), name=name))
    compiled = compile_model(save(model, tmp_path))
    assert batch_loop(compiled.predict_script).count("zero_pad2d::forward") == left
    assert "(ZeroPadding2D)" not in batch_loop(compiled.predict_script)   # no step of its own
    inputs = sample_inputs(model, batch=4)
    atol = 1e-6 if precision == "double" else 1e-4
    np.testing.assert_allclose(compiled.predict(inputs[0], precision=precision),
                               predict(model, inputs)[0], atol=atol, rtol=1e-4)


def test_a_padding_read_twice_stays(tmp_path):
    inputs = keras.Input((6, 6, 2))
    padded = L.ZeroPadding2D(1)(inputs)
    model = keras.Model(inputs, L.Add()([L.Conv2D(2, 3)(padded), L.Conv2D(2, 3)(padded)]))
    compiled = compile_model(save(randomize(model), tmp_path))
    assert batch_loop(compiled.predict_script).count("zero_pad2d::forward") == 1


def test_training_scripts_keep_the_layer(tmp_path):
    model = randomize(sequential((9, 8, 3), L.ZeroPadding2D(1), L.Conv2D(4, 3, strides=2),
                                 L.Flatten(), name="train_pad"))
    compiled = compile_model(save(model, tmp_path), loss="mse", optimizer="sgd")
    assert "zero_pad2d::forward" in compiled.train_script
