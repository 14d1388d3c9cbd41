"""keras.ops indexing (x[:, 1:4], x[..., a:b], x[:, :, k], None) of features, sequences,
images and volumes, the last axis included: each model is saved as a .keras file, compiled and run by its
predict.dml in double precision and compared with Keras' prediction; models reading slices train
to the weights model.fit gives; strided and reversed slices are refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize, save

L = keras.layers
RNG = np.random.default_rng(23)


def _features():
    x = keras.Input((7,))
    h = L.Dense(7)(x)
    parts = [h[:, 1:4], h[:, -3:], h[:, :-5], h[:, 2:-1], h[:, 5:6], h[..., 0:2]]
    y = keras.ops.concatenate(parts + [L.Flatten()(h[:, None, 1:3])], axis=-1)
    return keras.Model(x, L.Dense(3)(y), name="feature_slices")


def _sequences():
    x = keras.Input((5, 6))
    h = L.Dense(6)(x)
    y = keras.ops.concatenate([h[..., 1:3], h[:, :, -2:], h[:, :, 4:5]], axis=-1)
    z = L.Flatten()(h[:, 1:4, 0:2]) + L.Flatten()(h[:, -3:, :-4])
    w = L.Flatten()(h[..., None][:, :, 2]) + h[:, 3, 1:]
    return keras.Model(x, [L.Dense(3)(y), L.Dense(2)(z), w], name="sequence_slices")


def _images():
    x = keras.Input((4, 5, 3))
    h = L.Conv2D(4, 1)(x)
    y = L.Conv2D(2, 1)(h[..., 1:3]) + L.Conv2D(2, 1)(h[..., -1:])
    z = L.Flatten()(h[:, 1:3, :, 0:2]) + L.Flatten()(h[:, 1:, :, 2:][:, 1:])
    channel = L.Flatten()(h[..., 1]) + L.Flatten()(h[:, :, :, -2])
    return keras.Model(x, [y, z, channel], name="image_slices")


def _volumes():
    x = keras.Input((3, 4, 5, 2))
    h = L.Conv3D(4, 1)(x)
    parts = [h[..., 1:3], h[:, 1:, :, 2:4, :1], h[..., 2]]
    return keras.Model(x, [L.Dense(2)(L.Flatten()(part)) for part in parts], name="volume_slices")


MODELS = {"features": _features, "sequences": _sequences, "images": _images, "volumes": _volumes}


@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, tmp_path):
    from kerasdml.compiler import compile_model
    model = randomize(MODELS[name](), seed=4, scale=0.8)
    x = RNG.normal(size=(6, *model.input_shape[1:])).astype("float32")
    got = compile_model(save(model, tmp_path)).predict(x, precision="double")
    expected = model.predict(x, verbose=0)
    for g, e in zip(*[v if isinstance(v, list) else [v] for v in (got, expected)]):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=1e-5)


def _sliced_classifier():
    """Features split in two branches by slices of the last axis, a span of steps and a
    channel range of a reshaped image."""
    x = keras.Input((6, 4))
    h = L.Dense(6)(x)
    branches = L.Dense(3, activation="tanh")(h[..., :3]) * L.Dense(3)(h[:, :, -3:])
    image = keras.ops.reshape(h, (-1, 3, 4, 3))
    pooled = L.GlobalAveragePooling2D()(L.Conv2D(2, 1)(image[..., 1:]))
    y = keras.ops.concatenate([L.Flatten()(branches[:, 1:5, 1:]), pooled,
                               L.Flatten()(h[:, :, 2])], axis=-1)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="sliced_classifier")


def test_two_epochs_give_keras_weights(tmp_path):
    model = randomize(_sliced_classifier(), seed=3, scale=0.5)
    x = RNG.normal(size=(24, 6, 4)).astype("float32")
    y = RNG.integers(0, 3, 24)
    assert_trains_like_keras(model, x, y, tmp_path)


REFUSED = {"strided": lambda h: h[:, ::2], "reversed": lambda h: h[:, ::-1],
           "empty": lambda h: h[:, 4:2], "no_sample_axis_left": lambda h: h[:, 2][:, None]}


@pytest.mark.parametrize("name", list(REFUSED))
def test_unsupported_indexes_are_refused_by_name(name, tmp_path):
    from kerasdml.compiler import compile_model
    from kerasdml.compiler.errors import UnsupportedAttributeError
    x = keras.Input((6,))
    model = keras.Model(x, L.Dense(2)(REFUSED[name](L.Dense(6)(x))))
    with pytest.raises(UnsupportedAttributeError, match=r"\(ops.GetItem\): index=.*unit-step"):
        compile_model(save(model, tmp_path))
