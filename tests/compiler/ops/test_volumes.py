"""Volumes (Conv3D, Conv3DTranspose, 3-D pooling, ZeroPadding3D, UpSampling3D,
BatchNormalization and Flatten of (D, H, W, C)) through the generated predict.dml, against Keras
on the same weights; Conv3DTranspose's training against model.fit; what stays refused, refused
by attribute. (TensorFlow has no double MaxPool3D, so Keras runs in float32 here.)"""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import (assert_trains_like_keras, ct_scan_classifier, keras, randomize, save,
                                  sequential)
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError

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


def transpose_decoder():
    """A 3-D decoder: transposed convolutions with strides 2 and "same" padding (odd and even
    kernels, the even one cut unevenly) between ordinary ones."""
    x = keras.Input((3, 4, 3, 2))
    y = L.Conv3D(4, 3, padding="same", activation="relu")(x)
    y = L.Conv3DTranspose(3, 3, strides=2, padding="same", activation="relu")(y)
    y = L.Conv3DTranspose(2, (2, 3, 2), strides=(1, 2, 2), padding="same")(y)
    return keras.Model(x, L.Conv3D(1, 1, activation="sigmoid")(y), name="transpose_decoder")


def transpose_output_padding():
    """output_padding with "same" (a kernel of 1 under a stride of 3: zero rows appended) and
    with "valid", one layer without a bias."""
    return sequential(
        (3, 2, 3, 2),
        L.Conv3DTranspose(3, (3, 1, 3), strides=(2, 3, 2), padding="same",
                          output_padding=(1, 2, 0), activation="tanh"),
        L.Conv3DTranspose(2, 2, strides=2, output_padding=(1, 0, 1), use_bias=False),
        name="transpose_output_padding")


def transpose_valid_uneven():
    """"valid" with uneven kernels and strides, one kernel smaller than its stride (zero
    positions appended), then a Flatten read in Keras' order."""
    return sequential(
        (4, 3, 5, 2), L.Conv3DTranspose(3, (3, 2, 4), strides=(1, 2, 3)),
        L.Conv3DTranspose(2, (1, 2, 3), strides=(3, 3, 2), activation="relu"),
        L.Flatten(), L.Dense(3), name="transpose_valid_uneven")


def transpose_channels_first():
    return sequential((2, 3, 4, 3), L.Conv3DTranspose(
        2, (3, 2, 3), strides=2, padding="same", data_format="channels_first"),
        name="transpose_channels_first")


@pytest.mark.parametrize("build, shape", [
    (ct_scan_classifier, (4, 8, 16, 16, 1)),
    (pooled_features, (4, 8, 16, 16, 1)),
    (strided_volume_net, (3, 7, 9, 8, 2)),
    (volume_decoder, (3, 3, 4, 3, 2)),
    (transpose_decoder, (3, 3, 4, 3, 2)),
    (transpose_output_padding, (3, 3, 2, 3, 2)),
    (transpose_valid_uneven, (3, 4, 3, 5, 2)),
    (transpose_channels_first, (3, 2, 3, 4, 3))],
    ids=["ct_scan", "pooled_features", "strided", "decoder", "transpose_decoder",
         "transpose_output_padding", "transpose_valid_uneven", "transpose_channels_first"])
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


def test_conv3d_transpose_refuses_dilation(tmp_path):
    layer = L.Conv3DTranspose(2, 2, dilation_rate=(1, 2, 1), name="dilated")
    with pytest.raises(UnsupportedAttributeError, match="dilated.*dilation_rate") as caught:
        compile_model(save(sequential((4, 5, 6, 2), layer), tmp_path))
    assert [(p.layer, p.attribute) for p in caught.value.problems] == [("dilated", "dilation_rate")]


def transpose_regressor():
    """A transposed convolution reading the model's input (its parameters' gradients alone),
    one after a convolution (its input's gradient too, "valid" with output_padding)."""
    x = keras.Input((2, 3, 2, 2))
    y = L.Conv3DTranspose(3, 3, strides=2, padding="same", activation="tanh")(x)
    y = L.Conv3D(3, 2, strides=2, activation="relu")(y)
    y = L.Conv3DTranspose(2, (2, 3, 1), strides=(2, 1, 2), output_padding=(1, 0, 1))(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling3D()(y)),
                       name="transpose_regressor")


def test_conv3d_transpose_trains_like_keras(tmp_path):
    model = randomize(transpose_regressor(), seed=3, scale=0.5)
    x = RNG.normal(size=(16, 2, 3, 2, 2)).astype("float32")
    y = RNG.integers(0, 3, 16)
    assert_trains_like_keras(model, x, y, tmp_path)
