"""SpatialDropout1D/2D/3D in training: whole channels dropped, one draw per sample and channel for
all of the channel's steps, pixels or voxels, seeded per batch as Dropout is. Keras' random bits
cannot be matched: the generated script's own line is run on ones and its mask read back in
Keras' layout; rate 0 trains exactly like Keras; prediction scripts leave the layer out."""
from __future__ import annotations

import re

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize
from kerasdml.compiler.estimator import Keras2DML
from kerasdml.runtime.api import run_string

L = keras.layers
RNG = np.random.default_rng(23)
_CALL = re.compile(r"^\s*\[\w+, (?P<mask>\w+)\] = spatial_dropout::forward\((?P<x>\w+), .*$",
                   re.MULTILINE)


def sequences(rate):
    x = keras.Input((6, 4))
    y = L.SpatialDropout1D(rate)(L.Conv1D(4, 2, padding="same")(x))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="sequences")


def images(rate):
    x = keras.Input((4, 5, 2))
    y = L.SpatialDropout2D(rate)(L.Conv2D(4, 3, padding="same")(x))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="images")


def volumes(rate):
    x = keras.Input((2, 3, 4, 2))
    y = L.SpatialDropout3D(rate)(L.Conv3D(4, 2, padding="same")(x))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling3D()(y)),
                       name="volumes")


# model -> (input shape, how DML holds one sample of the dropout's output: the axis of channels)
CASES = {"sequences": (sequences, (6, 4), (6, 4), 1),
         "images": (images, (4, 5, 2), (4, 4, 5), 0),     # channels first
         "volumes": (volumes, (2, 3, 4, 2), (2, 3, 4, 4), 3)}


def _script(build, rate=0.3):
    model = build(rate)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return Keras2DML(model, verbose=0).get_training_script()


def _mask(script, rows, columns, batch_seed):
    """The mask the script's spatial dropout line draws for a batch of ones."""
    call = _CALL.search(script)
    program = (f'source("nn/layers/spatial_dropout.dml") as spatial_dropout\n'
               f"batch_seed = {batch_seed}\n{call.group(0).strip()}\n")
    result = run_string(program, inputs={call.group("x"): np.ones((rows, columns))},
                        outputs=[call.group("mask")])
    return np.asarray(result[call.group("mask")])


@pytest.mark.parametrize("name", list(CASES))
def test_the_mask_drops_whole_channels(name):
    build, _, held, channel_axis = CASES[name]
    rows, channels = 500, 4
    mask = _mask(_script(build), rows, int(np.prod(held)), batch_seed=5)
    per_sample = np.moveaxis(mask.reshape(rows, *held), channel_axis + 1, 1)
    per_channel = per_sample.reshape(rows, channels, -1)
    assert np.all(per_channel == per_channel[:, :, :1]), "a channel's values differ"
    dropped = 1.0 - per_channel[:, :, 0].mean()
    assert abs(dropped - 0.3) < 0.05, dropped
    assert not np.array_equal(mask, _mask(_script(build), rows, mask.shape[1], batch_seed=6))
    np.testing.assert_array_equal(mask, _mask(_script(build), rows, mask.shape[1], batch_seed=5))


@pytest.mark.parametrize("name", list(CASES))
def test_rate_zero_trains_like_keras(name, tmp_path):
    build, shape, _, _ = CASES[name]
    model = randomize(build(0.0), seed=3, scale=0.5)
    x = RNG.normal(size=(16, *shape)).astype("float32")
    assert_trains_like_keras(model, x, RNG.integers(0, 3, 16), tmp_path,
                             optimizer=keras.optimizers.SGD(0.1))


def test_training_learns_and_prediction_leaves_it_out():
    """The sweep's text classifier: Embedding, SpatialDropout1D, pooling, a sigmoid."""
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((10,)), L.Embedding(30, 4), L.SpatialDropout1D(0.2),
                              L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    x = rng.integers(0, 30, (64, 10))
    y = (x < 15).mean(axis=1, keepdims=True).round().astype("float32")
    estimator = Keras2DML(model, epochs=8, batch_size=16, seed=3, verbose=0).fit(x, y)
    losses = estimator.history_["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    assert "spatial_dropout::forward" in estimator.get_training_script()
    assert "spatial_dropout" not in estimator.get_prediction_script()
