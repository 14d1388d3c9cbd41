"""TimeDistributed over layers other than Dense: the steps folded into the batch around the inner
layer. Predictions are compared with Keras' on real .keras files, training with model.fit (two
epochs, weights within 1e-4, through the exported .keras file)."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import (assert_trains_like_keras, keras, predict, randomize,
                                  sample_inputs, save, sequential)
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
T = L.TimeDistributed
ATOL = 1e-5


def video_classifier(batch_norm=False):
    """A small video classifier: a CNN on every frame, then an LSTM over the frames."""
    x = keras.Input((3, 6, 6, 2))
    y = T(L.Conv2D(3, 3, activation="relu"), name="frames_conv")(x)
    if batch_norm:
        y = T(L.BatchNormalization())(y)
    y = T(L.Flatten())(T(L.MaxPooling2D(2))(y))
    y = L.LSTM(4)(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="video")


def frame_classifier(rate=0.3):
    """Per-frame padding, depthwise convolution, pooling to a vector, dropout, LayerNorm."""
    x = keras.Input((4, 5, 5, 3))
    y = T(L.ZeroPadding2D(1))(x)
    y = T(L.DepthwiseConv2D(3, activation="tanh"))(y)
    y = T(L.Dropout(rate))(T(L.GlobalAveragePooling2D())(y))
    y = T(L.LayerNormalization())(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GRU(3)(y)), name="frames")


def frame_model():
    """A model applied to every frame: its layers are inlined on the folded batch."""
    frame = keras.Sequential([keras.Input((5, 5, 2)), L.Conv2D(3, 3, activation="relu"),
                              L.BatchNormalization(), L.MaxPooling2D(2), L.Flatten(),
                              L.Dense(4, activation="tanh")], name="frame")
    x = keras.Input((3, 5, 5, 2))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GRU(4)(T(frame)(x))),
                       name="frames_of_a_model")


MODELS = {
    "video_classifier": video_classifier,
    "video_classifier_batch_norm": lambda: video_classifier(batch_norm=True),
    "frame_classifier": frame_classifier,
    "batch_norm_sequence": lambda: sequential((5, 4), T(L.BatchNormalization()), name="bn_seq"),
    "batch_norm_image": lambda: sequential((2, 3, 3, 4), T(L.BatchNormalization(
        center=False)), T(L.Conv2D(2, 1)), name="bn_image"),
    "dense": lambda: sequential((5, 4), T(L.Dense(3, activation="relu")), name="td_dense"),
    "dense_on_images": lambda: sequential((2, 3, 3, 4), T(L.Dense(3)), T(L.Flatten()),
                                          name="td_dense_images"),
    "conv1d_per_step": lambda: sequential((3, 6, 2), T(L.Conv1D(3, 2)), T(L.Flatten()),
                                          name="conv1d_steps"),
    "frame_model": frame_model,
    "lstm_per_step": lambda: sequential((3, 4, 2), T(L.LSTM(3)), name="lstm_steps"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, assert_predicts_like_keras):
    assert_predicts_like_keras(randomize(MODELS[name](), seed=5, scale=0.7), atol=ATOL)


def test_the_inner_layer_runs_on_the_folded_batch_with_its_own_weights(tmp_path):
    compiled = compile_model(save(randomize(video_classifier(), seed=1), tmp_path))
    ops = [node.op for node in compiled.graph.nodes]
    # the unfold and fold between two TimeDistributed layers undo each other: both are dropped
    assert ops[:8] == ["input", "fold_steps", "conv2d", "activation", "max_pool2d", "flatten",
                       "unfold_steps", "lstm"]
    params = {(p.layer, p.weight) for _, p in compiled.graph.params()}
    assert ("frames_conv", "kernel") in params
    assert "conv2d::forward" in compiled.predict_script


def frame_vectors():
    """BatchNormalization of each step's vector: per-step statistics in training."""
    x = keras.Input((3, 4))
    y = T(L.BatchNormalization(momentum=0.8))(T(L.Dense(5, activation="tanh"))(x))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="vectors")


# the dropout with a rate that keeps every value: Keras' masks and the DML's cannot differ;
# BatchNormalization in training: each step normalised by its own batch statistics, the moving
# statistics updated once per step (Keras 3 calls the inner layer step by step)
def test_a_batch_norm_after_a_convolution_folds_into_it_at_inference(tmp_path,
                                                                     assert_predicts_like_keras):
    model = randomize(sequential((3, 5, 5, 2), T(L.Conv2D(3, 3)), T(L.BatchNormalization()),
                                 T(L.GlobalMaxPooling2D()), name="conv_bn"), seed=4)
    assert_predicts_like_keras(model, atol=ATOL)
    script = compile_model(save(model, tmp_path)).predict_script
    assert "folded into the kernel" in script and "batch_norm2d::" not in script


CASES = {"video_classifier": (video_classifier, (16, 3, 6, 6, 2)),
         "video_classifier_batch_norm": (lambda: video_classifier(batch_norm=True),
                                         (16, 3, 6, 6, 2)),
         "frame_vectors_batch_norm": (frame_vectors, (16, 3, 4)),
         "frame_classifier": (lambda: frame_classifier(rate=1e-9), (16, 4, 5, 5, 3)),
         "frame_model": (frame_model, (16, 3, 5, 5, 2))}


@pytest.mark.parametrize("name", list(CASES))
def test_two_epochs_give_keras_weights(name, tmp_path):
    build, shape = CASES[name]
    rng = np.random.default_rng(11)
    x = rng.normal(size=shape).astype("float32")
    y = rng.integers(0, 3, shape[0])
    assert_trains_like_keras(randomize(build(), seed=3, scale=0.5), x, y, tmp_path)


def test_batch_norm_of_a_sequence_per_step_trains_only_frozen(tmp_path):
    model = sequential((3, 4, 2), T(L.BatchNormalization()), L.Flatten(), L.Dense(3),
                       name="sequence_steps")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.zeros((4, 3, 4, 2), "float32")
    with pytest.raises(UnsupportedAttributeError, match="images or vectors per step"):
        Keras2DML(model, epochs=1, batch_size=4, verbose=0).fit(x, np.zeros(4))
    model.layers[0].trainable = False
    Keras2DML(model, epochs=1, batch_size=4, verbose=0).fit(x, np.zeros(4))


def test_legacy_h5_and_model_objects_predict_like_keras(assert_predicts_like_keras):
    model = randomize(video_classifier(batch_norm=True), seed=6, scale=0.7)
    assert_predicts_like_keras(model, atol=ATOL, fmt="h5")
    nested = randomize(frame_model(), seed=6, scale=0.7)
    inputs = sample_inputs(nested, batch=4)
    np.testing.assert_allclose(compile_model(nested).predict(inputs[0]),
                               predict(nested, inputs)[0], atol=ATOL, rtol=ATOL)


def test_an_open_number_of_steps_is_refused_but_for_dense(tmp_path, assert_predicts_like_keras):
    model = sequential((None, 4, 4, 2), T(L.Conv2D(2, 3), name="frames"), name="open_steps")
    with pytest.raises(UnsupportedAttributeError, match="'frames'.*fixed number of steps"):
        compile_model(save(model, tmp_path))
    dense = randomize(sequential((None, 3), T(L.Dense(2)), L.GlobalAveragePooling1D(),
                                 name="open_dense"), seed=1)
    assert_predicts_like_keras(dense, [np.ones((2, 5, 3), "float32")], atol=ATOL)
