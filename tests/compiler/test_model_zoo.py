"""The model zoo end to end: real Keras models with random non-trivial weights, saved as .keras
(and some as legacy .h5), compiled, run by the generated predict.dml on the local runtime, and
compared with Keras' model.predict."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, perturb_statistics, predict, randomize, sample_inputs, save
from kerasdml.compiler.compile import compile_model
from support.zoo_models import H5, ZOO

ATOL = 1e-5
# smaller weights where the default ones saturate the softmax (outputs of exactly 0 and 1
# would compare equal whatever the script computed)
SCALES = {"lenet": 0.1, "inception": 0.5}


def _vocabulary(model) -> int | None:
    sizes = [layer.input_dim for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    return min(sizes) if sizes else None


def assert_predicts_like_keras(model, path, batch_size=256, atol=ATOL):
    inputs = sample_inputs(model, batch=5, vocabulary=_vocabulary(model))
    expected = predict(model, inputs)
    got = compile_model(path).predict(inputs if len(inputs) > 1 else inputs[0],
                                      batch_size=batch_size)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("name", list(ZOO))
def test_keras_file(name, tmp_path):
    model = randomize(ZOO[name](), scale=SCALES.get(name, 1.0))
    assert_predicts_like_keras(model, save(model, tmp_path))


@pytest.mark.parametrize("name", H5)
def test_legacy_h5_file(name, tmp_path):
    model = randomize(ZOO[name](), seed=3, scale=SCALES.get(name, 1.0))
    assert_predicts_like_keras(model, save(model, tmp_path, "h5"))


def test_batches_smaller_than_the_data(tmp_path):
    model = randomize(ZOO["residual"]())
    assert_predicts_like_keras(model, save(model, tmp_path), batch_size=2)


def _applications_model(factory, **kwargs):
    keras.utils.set_random_seed(0)
    model = factory(weights=None, input_shape=(32, 32, 3), classifier_activation=None, **kwargs)
    return perturb_statistics(model)


@pytest.mark.slow
@pytest.mark.parametrize("factory", ["ResNet50", "MobileNetV2"])
def test_applications(factory, tmp_path):
    model = _applications_model(getattr(keras.applications, factory))
    assert_predicts_like_keras(model, save(model, tmp_path), atol=1e-4)
