"""Rows and Keras' reference predictions for the Spark scoring tests."""
from __future__ import annotations

import numpy as np
import pytest


def rows(count: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, width)).astype(np.float32)


def keras_predict(path, x):
    keras = pytest.importorskip("keras")
    return keras.models.load_model(path).predict(x, verbose=0)
