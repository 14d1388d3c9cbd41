"""SpectralNormalization(layer): at inference Keras runs the wrapped layer on its stored kernel.
Predictions equal Keras' for every wrapped class kerasdml takes, from .keras and legacy .h5
files and from the model object, also after the model was trained (the kernel then holds the
normalized one and vector_u has moved); the prediction script holds no trace of the wrapper;
training scripts and other wrapped classes are refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize, save, sequential
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import UnsupportedAttributeError

L = keras.layers
SN = L.SpectralNormalization

WRAPPED = {
    "dense": lambda: sequential((6,), SN(L.Dense(4, activation="tanh")), L.Dense(2),
                                name="sn_dense"),
    "dense_on_sequence": lambda: sequential((3, 5), SN(L.Dense(4), power_iterations=3),
                                            name="sn_dense_seq"),
    "einsum_dense": lambda: sequential((3, 5), SN(L.EinsumDense("abc,cd->abd", (3, 4),
                                                                bias_axes="d")),
                                       name="sn_einsum"),
    "conv1d": lambda: sequential((7, 3), SN(L.Conv1D(4, 3, padding="same")), L.Flatten(),
                                 name="sn_conv1d"),
    "conv2d": lambda: sequential((6, 6, 3), SN(L.Conv2D(4, 3, strides=2, use_bias=False)),
                                 L.Flatten(), L.Dense(2), name="sn_conv2d"),
    "conv3d": lambda: sequential((4, 4, 4, 2), SN(L.Conv3D(3, 2)), L.Flatten(),
                                 name="sn_conv3d"),
    "conv1d_transpose": lambda: sequential((5, 3), SN(L.Conv1DTranspose(2, 3, strides=2)),
                                           name="sn_conv1d_t"),
    "conv2d_transpose": lambda: sequential((4, 4, 3), SN(L.Conv2DTranspose(2, 3, strides=2)),
                                           name="sn_conv2d_t"),
    "conv3d_transpose": lambda: sequential((3, 3, 3, 2), SN(L.Conv3DTranspose(2, 2)),
                                           name="sn_conv3d_t"),
}


@pytest.mark.parametrize("name", list(WRAPPED))
def test_wrapped_layer_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(WRAPPED[name](), seed=7, scale=0.7)
    assert_predicts_like_keras(model)


@pytest.mark.parametrize("name", ["dense", "conv2d"])
def test_legacy_h5_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(WRAPPED[name](), seed=8, scale=0.7)
    assert_predicts_like_keras(model, fmt="h5")


def discriminator():
    """A GAN discriminator's shape: spectrally normalized convolutions, a normalized head."""
    x = keras.Input((8, 8, 1))
    y = SN(L.Conv2D(4, 3, strides=2, padding="same", name="c1"), name="sn1")(x)
    y = L.LeakyReLU(0.2)(y)
    y = SN(L.Conv2D(8, 3, strides=2, padding="same", name="c2"), name="sn2")(y)
    y = L.Flatten()(L.LeakyReLU(0.2)(y))
    return keras.Model(x, SN(L.Dense(1, name="head"), name="sn_head")(y), name="discriminator")


def test_after_keras_training_predicts_with_the_normalized_kernel(tmp_path):
    """Keras' fit replaces each kernel by kernel / sigma and moves vector_u: the stored kernel
    is what the prediction uses (vector_u, differing from its start, is not read)."""
    model = discriminator()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    start = model.get_layer("sn1").vector_u.numpy().copy()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, rng.normal(size=(16, 1)).astype("float32"), epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(model.get_layer("sn1").vector_u.numpy(), start)
    expected = model.predict(x, verbose=0)
    for source in (save(model, tmp_path), save(model, tmp_path, "h5"), model):
        got = compile_model(source).predict_arrays(x)[0]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_the_prediction_script_is_the_wrapped_layers(tmp_path):
    compiled = compile_model(save(discriminator(), tmp_path))
    assert "spectral" not in compiled.predict_script
    assert compiled.predict_script.count("conv2d::forward(") + \
        compiled.predict_script.count("conv2d_builtin::forward(") == 2


def test_training_is_refused_by_name(tmp_path):
    model = discriminator()
    compiled = compile_model(save(model, tmp_path), loss="mse", optimizer="sgd")
    with pytest.raises(UnsupportedAttributeError) as refused:
        compiled.train_script
    message = str(refused.value)
    for name in ("sn1", "sn2", "sn_head"):
        assert f"'{name}' (SpectralNormalization): training=True is not supported" in message
    assert "spectral norm at every training step" in message


def test_a_wrapped_class_without_a_kernel_is_refused_by_name(tmp_path):
    model = sequential((4,), SN(L.Embedding(5, 3), name="sn_embedding"), name="sn_embed")
    with pytest.raises(UnsupportedAttributeError,
                       match="'sn_embedding' \\(SpectralNormalization\\): layer='Embedding'"):
        compile_model(save(model, tmp_path))
