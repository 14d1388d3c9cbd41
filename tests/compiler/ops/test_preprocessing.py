"""Numeric preprocessing layers inside a model (Discretization, CategoryEncoding): predictions
like Keras' on values at and between the boundaries and on every output mode, training like
model.fit with an Embedding of the buckets and a Dense over the encodings (no gradient flows
into the integers), and refusals by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize, save
from kerasdml.compiler.errors import UnsupportedAttributeError
from kerasdml.compiler.frontend import read_graph

L = keras.layers
BOUNDARIES = [-0.5, 0.0, 0.1, 1.0]


def encoded_features():
    numbers = keras.Input((3,))
    categories = keras.Input((2,), dtype="int32")
    single = keras.Input((1,), dtype="int32")
    buckets = L.Discretization(bin_boundaries=BOUNDARIES)(numbers)
    parts = [numbers, L.Flatten()(L.Embedding(len(BOUNDARIES) + 1, 2)(buckets)),
             L.Discretization(bin_boundaries=[-0.5, 0.5], output_mode="multi_hot")(numbers),
             L.Flatten()(L.Discretization(bin_boundaries=[0.0, 0.7],
                                          output_mode="one_hot")(numbers)),
             L.Discretization(bin_boundaries=[0.0], output_mode="count")(numbers),
             # infinite boundaries, written as a DML matrix string reads them (Infinity)
             L.Discretization(bin_boundaries=[-np.inf, 0.3, np.inf],
                              output_mode="count")(numbers),
             L.CategoryEncoding(6, output_mode="multi_hot")(categories),
             L.CategoryEncoding(6, output_mode="count")(categories),
             L.CategoryEncoding(6, output_mode="one_hot")(single),
             L.Flatten()(L.CategoryEncoding(6, output_mode="one_hot")(categories))]
    y = L.Dense(4, activation="relu")(L.Concatenate()(parts))
    return keras.Model([numbers, categories, single], L.Dense(3, activation="softmax")(y),
                       name="encoded")


def _inputs(rows, seed):
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 3)).astype("float32")
    numbers[0] = [0.0, 0.1, -0.5]              # on the boundaries: the upper bucket
    numbers[1] = [1.0, np.nextafter(np.float32(0.1), np.float32(0)), 7.0]
    categories = rng.integers(0, 6, (rows, 2)).astype("int32")
    categories[2] = [4, 4]                      # twice the same category: count 2
    return [numbers, categories, rng.integers(0, 6, (rows, 1)).astype("int32")]


def test_predicts_like_keras(assert_predicts_like_keras):
    model = randomize(encoded_features(), seed=5, scale=0.7)
    assert_predicts_like_keras(model, _inputs(8, 1), atol=1e-5)


def test_trains_like_keras(tmp_path):
    model = randomize(encoded_features(), seed=3, scale=0.5)
    labels = np.random.default_rng(4).integers(0, 3, 24)
    assert_trains_like_keras(model, _inputs(24, 2), labels, tmp_path,
                             keras.optimizers.SGD(0.1, momentum=0.9))


@pytest.mark.parametrize("layer, attribute", [
    (L.Discretization(num_bins=4, name="bad"), "bin_boundaries"),
    (L.Discretization(bin_boundaries=[0.0], output_mode="one_hot", sparse=True, name="bad"),
     "sparse"),
])
def test_what_is_not_built_is_refused_by_name(layer, attribute, tmp_path):
    x = keras.Input((3,))
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(keras.Model(x, layer(x)), tmp_path))
    assert [(p.layer, p.attribute) for p in caught.value.problems] == [("bad", attribute)]
