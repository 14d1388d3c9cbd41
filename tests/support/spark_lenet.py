"""Weights and inputs for the LeNet-shaped forward pass in lenet_forward.dml."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).with_name("lenet_forward.dml")


def lenet_inputs(rows: int, filters=(32, 64), hidden: int = 512, seed: int = 0) -> dict:
    """MNIST-shaped random images and He-scaled weights (the seed's LeNet has 32, 64, 512)."""
    rng = np.random.default_rng(seed)
    f1, f2 = filters

    def weights(fan_in, shape):
        return rng.normal(scale=np.sqrt(2.0 / fan_in), size=shape)
    return {
        "X": rng.random((rows, 784)),
        "W1": weights(25, (f1, 25)), "b1": rng.normal(scale=0.1, size=(f1, 1)),
        "W2": weights(25 * f1, (f2, 25 * f1)), "b2": rng.normal(scale=0.1, size=(f2, 1)),
        "W3": weights(49 * f2, (49 * f2, hidden)), "b3": rng.normal(scale=0.1, size=(1, hidden)),
        "W4": weights(hidden, (hidden, 10)), "b4": rng.normal(scale=0.1, size=(1, 10)),
    }
