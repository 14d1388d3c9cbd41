"""Training with the Random* augmentation layers in front of a model.

Keras draws its transforms from its own seeds and kerasdml from the batch's DML seed, so
training matches Keras exactly only where a layer's factors leave one value to draw (a rotation
by exactly 90 degrees, a shift by whole pixels, a zoom of 2x, one contrast factor, one
brightness shift): those models must reach Keras' weights, also with a trainable layer before
the augmentation (its gradient goes through the transforms). A keras.io-style CNN with random
flips, rotations and zooms must learn and still save as Keras; RandomCrop trains where it crops
the whole image; the layers kerasdml does not augment with are refused for training, by name.
"""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(21)


def fixed_front():
    """Every trained augmentation with one value to draw, before a small CNN."""
    x = keras.Input((8, 8, 2))
    y = L.RandomRotation((0.25, 0.25), fill_mode="constant", fill_value=0.2)(x)
    y = L.RandomTranslation((0.25, 0.25), (-0.125, -0.125), fill_mode="wrap")(y)
    y = L.RandomZoom((-0.5, -0.5), interpolation="nearest", fill_mode="nearest")(y)
    y = L.RandomContrast((-0.3, 0.3), value_range=(0, 1))(y)
    y = L.RandomBrightness((0.1, 0.1), value_range=(0, 1))(y)
    y = L.Flatten()(L.Conv2D(3, 3, activation="relu")(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="fixed_front")


def trainable_before():
    """A convolution before the augmentations: its gradient passes back through them. The
    transforms move whole pixels here: for those TensorFlow's gradient of the affine transform
    (the inverse transform of the output's gradient) is the exact one, which dml_lib computes
    for every transform (its gradient check covers rotations by other angles)."""
    x = keras.Input((6, 6, 2))
    y = L.Conv2D(2, 1)(x)
    y = L.RandomRotation((0.25, 0.25))(y)
    y = L.RandomTranslation((0.5, 0.5), (-0.5, -0.5), fill_mode="wrap")(y)
    y = L.RandomContrast((-0.3, 0.3), value_range=(-0.4, 0.4))(y)  # clips some values
    y = L.RandomBrightness((0.1, 0.1), value_range=(-0.3, 0.5))(y)
    y = L.Flatten()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="trainable_before")


@pytest.mark.parametrize("build", [fixed_front, trainable_before], ids=lambda b: b.__name__)
def test_fixed_augmentations_train_to_keras_weights(build, tmp_path):
    model = randomize(build(), seed=3, scale=0.5)
    shape = model.input_shape[1:]
    x = RNG.uniform(0, 1, (16, *shape)).astype("float32")
    y = RNG.integers(0, 3, 16)
    assert_trains_like_keras(model, x, y, tmp_path)


def keras_io_cnn(*more):
    """As keras.io's image classifiers start: a Sequential of flips, rotations and zooms (and
    `more` augmentations), pixel values rescaled, then a CNN."""
    augmentation = keras.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1),
                                     L.RandomZoom(0.1), *more], name="data_augmentation")
    x = keras.Input((12, 12, 1))
    y = L.Rescaling(1.0 / 255)(augmentation(x))
    y = L.MaxPooling2D()(L.Conv2D(4, 3, activation="relu")(y))
    return keras.Model(x, L.Dense(2, activation="softmax")(L.Flatten()(y)), name="keras_io")


def every_trained_augmentation():
    return keras_io_cnn(L.RandomTranslation(0.1, 0.1, fill_mode="nearest"),
                        # Keras 3.15 cannot load back RandomShear(0.1): it stores (-0.1, 0.1)
                        L.RandomShear((0.0, 0.1), (0.0, 0.1), fill_mode="constant"),
                        L.RandomContrast(0.2), L.RandomBrightness(0.1))


def _bright_square_data(count=64):
    """Class 1 has a bright square in the middle (a label flips, rotations and zooms keep);
    pixel values in [0, 255]."""
    x = RNG.uniform(0, 150, (count, 12, 12, 1)).astype("float32")
    y = RNG.integers(0, 2, count)
    x[y == 1, 4:8, 4:8, 0] += 100
    return x, y


@pytest.mark.parametrize("build", [keras_io_cnn, every_trained_augmentation],
                         ids=lambda b: b.__name__)
def test_cnn_learns_with_augmentation_and_saves_as_keras(build, tmp_path):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    x, y = _bright_square_data()
    estimator = Keras2DML(model, epochs=10, batch_size=16, seed=3, verbose=0).fit(x, y)
    losses = estimator.history_["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    exported = keras.models.load_model(estimator.export(tmp_path / "augmented.keras"))
    augmentation = exported.get_layer("data_augmentation").layers
    assert [type(layer).__name__ for layer in augmentation[:3]] == \
        ["RandomFlip", "RandomRotation", "RandomZoom"]
    np.testing.assert_allclose(exported.predict(x, verbose=0), estimator.predict_proba(x),
                               atol=1e-5)


def test_inference_scripts_leave_the_augmentations_out():
    compiled = compile_model(fixed_front(), loss="categorical_crossentropy", optimizer="sgd")
    assert "random_" not in compiled.predict_script
    train = compiled.train_script
    for module in ("random_affine", "random_contrast", "random_brightness"):
        assert f'source("nn/layers/{module}.dml")' in train


def test_an_augmentation_kerasdml_does_not_apply_is_refused_for_training():
    x = keras.Input((6, 6, 3))
    y = L.RandomInvert(name="invert")(L.RandomFlip(name="flip")(x))
    model = keras.Model(x, L.Dense(2)(L.Flatten()(y)))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(UnsupportedAttributeError) as refused:
        Keras2DML(model, epochs=1, verbose=0).fit(np.zeros((4, 6, 6, 3)), np.zeros((4, 2)))
    message = str(refused.value)
    assert "'invert' (RandomInvert)" in message and "'flip'" not in message
    assert ("trains RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomShear, "
            "RandomTranslation, RandomZoom") in message


def crop_front(size: int):
    """keras.io's CIFAR-10 front (ConvMixer, CCT): RandomCrop at the image size, RandomFlip."""
    x = keras.Input((12, 12, 1))
    y = L.RandomFlip("horizontal")(L.RandomCrop(size, size, name="crop")(x))
    y = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu")(y))
    model = keras.Model(x, L.Dense(2, activation="softmax")(y), name="crop_front")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def test_random_crop_trains_when_it_crops_the_whole_image():
    x, y = _bright_square_data(32)
    estimator = Keras2DML(crop_front(12), epochs=2, batch_size=16, seed=3, verbose=0).fit(x, y)
    assert np.all(np.isfinite(estimator.history_["loss"]))
    with pytest.raises(UnsupportedAttributeError, match=r"'crop' \(RandomCrop\)"):
        Keras2DML(crop_front(8), epochs=1, verbose=0).fit(x, y)
