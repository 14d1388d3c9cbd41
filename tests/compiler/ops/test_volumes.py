"""Volumes (Conv3D, 3-D pooling, ZeroPadding3D, UpSampling3D, BatchNormalization and Flatten of
(D, H, W, C)) through the
generated predict.dml, against Keras on the same weights; what stays refused, refused by name.
(TensorFlow has no double MaxPool3D, so Keras runs in float32 here.)"""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import ct_scan_classifier, keras, randomize, save, sequential
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError, UnsupportedLayerError

L = keras.layers
RNG = np.random.default_rng(5)


def strided_volume_net():
    """Strides and uneven "same" padding, average pooling, a BatchNormalization folded into the
    convolution before it, and a Flatten read in Keras' order."""
    return sequential(
        (7, 9, 8, 2), L.Conv3D(3, (2, 3, 2), strides=(2, 1, 2), padding="same"),
        L.AveragePooling3D((2, 3, 2), strides=(1, 2, 1), padding="same"),
        L.BatchNormalization(), L.Conv3D(2, 2, use_bias=False), L.BatchNormalization(),
        L.Activation("tanh"),
        L.MaxPooling3D((1, 2, 2), padding="same"), L.Flatten(), L.Dense(3),
        name="strided_volumes")


def volume_decoder():
    """A segmentation-style decoder: upsampling and zero padding between convolutions."""
    x = keras.Input((3, 4, 3, 2))
    y = L.UpSampling3D((2, 2, 3))(L.Conv3D(3, 2, padding="same", activation="relu")(x))
    y = L.Conv3D(2, 3, activation="relu")(L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)))(y))
    return keras.Model(x, L.Conv3D(1, 1, activation="sigmoid")(L.UpSampling3D(2)(y)),
                       name="volume_decoder")


def pooled_features():
    """The CT-scan model up to its pooled features: every channel's value is compared."""
    x = keras.Input((8, 16, 16, 1))
    y = L.BatchNormalization()(L.MaxPool3D(2)(L.Conv3D(4, 3, activation="relu")(x)))
    y = L.GlobalMaxPooling3D(keepdims=True)(L.Conv3D(5, 3, padding="same")(y))
    return keras.Model(x, L.Flatten()(y), name="pooled_features")


@pytest.mark.parametrize("build, shape", [
    (ct_scan_classifier, (4, 8, 16, 16, 1)),
    (pooled_features, (4, 8, 16, 16, 1)),
    (strided_volume_net, (3, 7, 9, 8, 2)),
    (volume_decoder, (3, 3, 4, 3, 2))], ids=["ct_scan", "pooled_features", "strided", "decoder"])
def test_predicts_like_keras(build, shape, assert_predicts_like_keras):
    model = randomize(build(), seed=3, scale=0.5)
    assert_predicts_like_keras(model, [RNG.normal(size=shape).astype("float32")])


@pytest.mark.parametrize("layer, attribute", [
    (L.Conv3D(2, 2, dilation_rate=2), "dilation_rate"),
    (L.Conv3D(4, 3, groups=2), "groups"),
    (L.Conv3D(2, 2, data_format="channels_first"), "data_format")],
    ids=["dilation", "groups", "channels_first"])
def test_conv3d_refuses_by_attribute(layer, attribute, tmp_path):
    with pytest.raises(UnsupportedAttributeError, match=attribute):
        compile_model(save(sequential((4, 5, 6, 4), layer), tmp_path))


def test_conv3d_transpose_is_refused_by_name(tmp_path):
    with pytest.raises(UnsupportedLayerError, match="Conv3DTranspose"):
        compile_model(save(sequential((4, 5, 6, 2), L.Conv3DTranspose(2, 3)), tmp_path))
