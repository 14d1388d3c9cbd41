"""The headline: the seed's MNIST LeNet, trained by generated DML on the full MNIST for the
seed's 5 epochs at batch 100, reaches the seed's accuracy, and goes back to Keras."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from keras_models import keras
from kerasdml.compiler.datasets import load_mnist
from kerasdml.compiler.demo import train_lenet

MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist.npz"
PRECISION = os.environ.get("KERASDML_MNIST_PRECISION", "single")


@pytest.mark.slow
@pytest.mark.skipif(not MNIST.is_file(), reason=f"needs the full MNIST at {MNIST}")
def test_lenet_reaches_the_seeds_accuracy_on_full_mnist(tmp_path):
    data = load_mnist(MNIST)
    result = train_lenet(data, epochs=5, batch_size=100, precision=PRECISION,
                         output=tmp_path / "lenet.keras", verbose=1)
    print(f"LeNet, {PRECISION} precision: test accuracy {result['accuracy']:.4f}, "
          f"{result['seconds_per_epoch']:.1f} s per epoch")
    assert result["accuracy"] >= 0.987
    (_, _), (x_test, y_test) = data
    model = keras.models.load_model(tmp_path / "lenet.keras")
    keras_accuracy = np.mean(model.predict(x_test / 255.0, verbose=0).argmax(axis=1) == y_test)
    assert keras_accuracy == pytest.approx(result["accuracy"], abs=2e-4)
