"""AdaptiveMax/AveragePooling1D/2D/3D: predictions of small real models through the generated
predict.dml against Keras on the same weights (output sizes that divide the input and that do
not, so that windows overlap, and outputs longer than the input), two epochs of training against
model.fit, and what stays refused, refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import (assert_trains_like_keras, keras, randomize, save,
                                  sequential)
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError

L = keras.layers
RNG = np.random.default_rng(17)


def image_classifier():
    """The task's shape: a conv net ending in AdaptiveAveragePooling2D((2, 3)), 6 rows to 2
    (windows of 3) and 8 columns to 3 (windows 1-3, 3-6, 6-8, overlapping)."""
    return sequential((7, 9, 2), L.Conv2D(4, 2, activation="relu"),
                      L.AdaptiveAveragePooling2D((2, 3)), L.Flatten(), L.Dense(3),
                      name="image_classifier")


def image_maxima():
    """Max pooling 7x5 to 3x2 (uneven on both axes) after a tanh, then 3x2 to 3x4: the rows
    are left alone, and 2 columns become 4."""
    return sequential((7, 5, 3), L.Conv2D(4, 1, activation="tanh"),
                      L.AdaptiveMaxPooling2D((3, 2)), L.AdaptiveMaxPooling2D((3, 4)),
                      L.Flatten(), L.Dense(3), name="image_maxima")


def relu_maxima():
    """A max window of relu zeros only, a tie: its gradient and value are zero either way."""
    return sequential((6, 6, 1), L.Conv2D(3, 3, padding="same", activation="relu"),
                      L.AdaptiveMaxPooling2D(4), L.Flatten(), L.Dense(2), name="relu_maxima")


def sequences():
    """1-D: 10 steps to 4 (uneven), to 5 (even), and 3 steps to 5 (longer than the input)."""
    x = keras.Input((10, 3))
    y = L.Conv1D(4, 3, padding="same")(x)
    pooled = L.Concatenate()([L.AdaptiveMaxPooling1D(4)(y),
                              L.AdaptiveAveragePooling1D(4)(y)])
    even = L.AdaptiveAveragePooling1D(5)(L.Conv1D(2, 1)(x))
    longer = L.AdaptiveMaxPooling1D(5)(L.Conv1D(2, 8)(x))
    y = L.Concatenate()([L.Flatten()(pooled), L.Flatten()(even), L.Flatten()(longer)])
    return keras.Model(x, L.Dense(3)(y), name="sequences")


def volumes():
    """3-D: (5, 6, 4) to (2, 3, 2) by averages and (4, 4, 5) to (3, 2, 3) by maxima."""
    x = keras.Input((5, 6, 4, 2))
    y = L.Conv3D(3, 1, activation="tanh")(x)
    mean = L.Flatten()(L.AdaptiveAveragePooling3D((2, 3, 2))(y))
    z = L.Conv3D(2, (2, 3, 1), padding="valid")(x)          # (4, 4, 4, 2)
    z = L.ZeroPadding3D(((0, 0), (0, 0), (0, 1)))(z)       # (4, 4, 5, 2)
    maximum = L.Flatten()(L.AdaptiveMaxPooling3D((3, 2, 3))(z))
    return keras.Model(x, L.Dense(3)(L.Concatenate()([mean, maximum])), name="volumes")


def channels_first_layers():
    """data_format="channels_first" for 1-D and 2-D: the channels are the first axis."""
    x = keras.Input((3, 7, 5))
    y = L.AdaptiveAveragePooling2D((3, 2), data_format="channels_first")(x)
    z = L.AdaptiveMaxPooling1D(3, data_format="channels_first")(L.Reshape((3, 35))(x))
    y = L.Concatenate()([L.Flatten()(y), L.Flatten()(z)])
    return keras.Model(x, L.Dense(3)(y), name="channels_first_layers")


CASES = {"image_classifier": (image_classifier, (4, 7, 9, 2)),
         "image_maxima": (image_maxima, (4, 7, 5, 3)),
         "relu_maxima": (relu_maxima, (4, 6, 6, 1)),
         "sequences": (sequences, (4, 10, 3)),
         "volumes": (volumes, (3, 5, 6, 4, 2)),
         "channels_first": (channels_first_layers, (4, 3, 7, 5))}


@pytest.mark.parametrize("name", list(CASES))
def test_predicts_like_keras(name, assert_predicts_like_keras):
    build, shape = CASES[name]
    model = randomize(build(), seed=3, scale=0.5)
    assert_predicts_like_keras(model, [RNG.normal(size=shape).astype("float32")])


def classifier(build):
    """The case's model with a softmax on its Dense, for training with cross-entropy."""
    model = build()
    head = model.layers[-1]
    return keras.Model(model.inputs, L.Softmax()(head.output), name=model.name)


@pytest.mark.parametrize("name", ["image_classifier", "image_maxima", "sequences", "volumes",
                                  "channels_first"])
def test_two_epochs_give_keras_weights(name, tmp_path):
    build, shape = CASES[name]
    model = randomize(classifier(build), seed=3, scale=0.5)
    x = RNG.normal(size=(16, *shape[1:])).astype("float32")
    y = RNG.integers(0, 3, 16)
    assert_trains_like_keras(model, x, y, tmp_path)


def test_script_pools_one_axis_at_a_time_and_skips_unchanged_axes(tmp_path):
    compiled = compile_model(save(randomize(image_maxima()), tmp_path))
    script = compiled.predict_script
    # 7x5 -> 3x2 pools both axes; 3x2 -> 3x4 only the columns
    assert script.count("adaptive_pool_axis::forward(") == 3
    assert "# height: 7 -> 3" in script and "# width: 5 -> 2" in script
    assert "# width: 2 -> 4" in script and "# height: 3 -> 3" not in script


def test_an_open_length_is_refused_by_name(tmp_path):
    model = sequential((None, 3), L.AdaptiveAveragePooling1D(2), L.Flatten(), L.Dense(2),
                       name="open_length")
    with pytest.raises(UnsupportedAttributeError, match="AdaptiveAveragePooling1D"):
        compile_model(save(model, tmp_path))


def test_a_max_windows_tie_sends_its_gradient_where_keras_does():
    """Equal maxima in a 2-D window: TensorFlow pools the rows, then the columns, and sends
    each gradient to the first maximum of each; pooling one axis at a time does the same."""
    import tensorflow as tf
    from support.dml_call import call_dml

    image = np.array([[0, 5, 1, 0], [5, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], "float64")
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = tf.Variable(image.reshape(1, 4, 4, 1))
    with tf.GradientTape() as tape:
        pooled = keras.ops.adaptive_max_pool(x, (2, 2), data_format="channels_last")
        loss = tf.reduce_sum(pooled * dout.reshape(1, 2, 2, 1))
    expected = tape.gradient(loss, x).numpy().reshape(4, 4)

    source = "nn/layers/adaptive_pool_axis.dml"
    rows = call_dml(source, "forward", {"X": image.reshape(1, 16)}, ["out"], inner=4, size=4,
                    outs=2, maximum=True)["out"]
    drows = call_dml(source, "backward", {"dout": dout.reshape(1, 4), "X": rows}, ["dX"],
                     inner=1, size=4, outs=2, maximum=True)["dX"]
    got = call_dml(source, "backward", {"dout": drows, "X": image.reshape(1, 16)}, ["dX"],
                   inner=4, size=4, outs=2, maximum=True)["dX"]
    assert expected[1, 0] == 1.0 and expected[0, 1] == 0.0      # the tie of the first window
    np.testing.assert_array_equal(got.reshape(4, 4), expected)
