"""Image preprocessing layers beyond the Random* ones.

AutoContrast: each channel of each image stretched to value_range, by Keras at inference and in
training alike. Predictions equal Keras' (also with a constant channel, which Keras keeps as it
is); two epochs of training with a convolution before it reach model.fit's weights (the gradient
passes through the stretch, its minimum and maximum included); channels_first is refused by name.

AugMix, CutMix, MixUp, RandAugment and Solarization change images in training only: prediction
scripts leave them out and predict as Keras, training scripts refuse them by name. Equalization
cannot be part of a Keras model; a file holding one anyway is refused with the reason."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from support.keras_models import (assert_trains_like_keras, keras, randomize, sample_inputs,
                                  save, sequential)
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError, UnsupportedLayerError
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(17)


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (1, -1)], ids=str)
def test_auto_contrast_predicts_like_keras(value_range, assert_predicts_like_keras):
    model = randomize(sequential((5, 4, 3), L.AutoContrast(value_range), L.Conv2D(2, 2),
                                 name="auto_contrast"), seed=2)
    inputs = sample_inputs(model, batch=4)
    inputs[0][1, :, :, 2] = 0.25  # a constant channel: kept as it is
    assert_predicts_like_keras(model, inputs)


def test_auto_contrast_as_the_output_after_a_convolution(assert_predicts_like_keras):
    model = randomize(sequential((6, 6, 2), L.Conv2D(3, 3), L.AutoContrast((0, 1)),
                                 name="contrast_out"), seed=4)
    assert_predicts_like_keras(model, fmt="h5")


def test_auto_contrast_stays_in_the_prediction_script(tmp_path):
    model = sequential((4, 4, 1), L.AutoContrast(), name="only_contrast")
    script = compile_model(save(model, tmp_path)).predict_script
    assert 'source("nn/layers/auto_contrast.dml")' in script
    assert "auto_contrast::forward(" in script


def contrast_between_convolutions():
    """The first convolution has no bias: the stretch undoes any shift of a channel, so a bias's
    true gradient is 0 and Adam would turn the rounding noise of each side into whole steps."""
    x = keras.Input((5, 5, 2))
    y = L.AutoContrast((0, 1))(L.Conv2D(3, 2, use_bias=False)(x))
    y = L.Flatten()(L.Conv2D(2, 2, activation="relu")(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="contrast_between")


def test_auto_contrast_trains_like_keras(tmp_path):
    model = randomize(contrast_between_convolutions(), seed=3, scale=0.5)
    x = RNG.uniform(0, 1, (16, 5, 5, 2)).astype("float32")
    y = RNG.integers(0, 3, 16)
    assert_trains_like_keras(model, x, y, tmp_path)


def test_auto_contrast_channels_first_is_refused_by_name(tmp_path):
    model = sequential((3, 4, 4), L.AutoContrast(data_format="channels_first", name="ac"),
                       L.Flatten(), name="contrast_first")
    with pytest.raises(UnsupportedAttributeError, match="'ac' \\(AutoContrast\\): data_format"):
        compile_model(save(model, tmp_path))


def training_only_front():
    x = keras.Input((6, 6, 3))
    y = L.MixUp(name="mix_up")(x)
    y = L.CutMix(name="cut_mix")(y)
    y = L.AugMix(name="aug_mix")(y)
    y = L.RandAugment(name="rand_augment")(y)
    y = L.Solarization(0.5, 0.5, name="solarization")(y)
    y = L.GlobalAveragePooling2D()(L.Conv2D(3, 3)(y))
    return keras.Model(x, L.Dense(2, activation="softmax")(y), name="training_only_front")


def test_training_only_augmentations_predict_like_keras(assert_predicts_like_keras):
    model = randomize(training_only_front(), seed=5)
    x = RNG.uniform(0, 255, (4, 6, 6, 3)).astype("float32")
    assert_predicts_like_keras(model, [x])


def test_training_only_augmentations_are_left_out_of_prediction(tmp_path):
    script = compile_model(save(training_only_front(), tmp_path)).predict_script
    assert "rand_augment" not in script and "solarization" not in script


def test_training_only_augmentations_are_refused_for_training():
    model = training_only_front()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(UnsupportedAttributeError) as refused:
        Keras2DML(model, epochs=1, verbose=0).fit(np.zeros((4, 6, 6, 3)), np.zeros(4))
    message = str(refused.value)
    for name, class_name in (("mix_up", "MixUp"), ("cut_mix", "CutMix"), ("aug_mix", "AugMix"),
                             ("rand_augment", "RandAugment"), ("solarization", "Solarization")):
        assert f"'{name}' ({class_name}): training=True is not supported" in message


def _with_equalization(tmp_path) -> str:
    """A .keras file whose Identity layer is rewritten as an Equalization (Keras 3 cannot save
    a model holding one: the layer returns its input tensor, a cycle in the graph)."""
    path = save(sequential((4, 4, 3), L.Identity(name="eq"), L.Flatten(), name="equalized"),
                tmp_path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    entry = next(e for e in config["config"]["layers"] if e["config"].get("name") == "eq")
    entry["class_name"] = "Equalization"
    entry["config"].update(value_range=[0, 255], bins=256)
    files["config.json"] = json.dumps(config).encode()
    rewritten = str(tmp_path / "equalization.keras")
    with zipfile.ZipFile(rewritten, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return rewritten


def test_equalization_is_refused_with_the_reason(tmp_path):
    with pytest.raises(UnsupportedLayerError) as refused:
        compile_model(_with_equalization(tmp_path))
    message = str(refused.value)
    assert "'eq' (Equalization): histogram equalization is not supported" in message
    assert "a Keras model cannot hold it" in message
