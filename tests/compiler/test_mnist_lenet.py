"""The headline: examples/mnist_lenet.py trains the seed's LeNet by generated DML on the full
MNIST for the seed's 5 epochs at batch 100, reaches the seed's accuracy, and the exported model
gives Keras the same accuracy."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler.datasets import load_mnist

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
PRECISION = os.environ.get("KERASDML_MNIST_PRECISION", "single")


@pytest.mark.slow
@pytest.mark.skipif(not MNIST.is_file(), reason=f"needs the full MNIST at {MNIST}")
def test_the_example_reaches_the_seeds_accuracy_on_full_mnist(tmp_path):
    output = tmp_path / "lenet.keras"
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "mnist_lenet.py"), str(MNIST),
                          "--precision", PRECISION, "--output", str(output)],
                         capture_output=True, text=True, timeout=3000)
    assert run.returncode == 0, run.stderr[-2000:]
    print(run.stderr, run.stdout)
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", run.stdout).group(1))
    assert run.stderr.count("Epoch ") == 5
    assert accuracy >= 0.987
    (_, _), (x_test, y_test) = load_mnist(MNIST)
    model = keras.models.load_model(output)
    predicted = model.predict(x_test / 255.0, verbose=0).argmax(axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(accuracy, abs=2e-4)
