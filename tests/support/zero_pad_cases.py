"""zero_pad2d's functions on images holding infinities, NaN and signed zeros: the local and the
Spark tests of its plane copies (test_zero_pad_planes.py, test_depthwise_spark.py) share them."""
from __future__ import annotations

import os

import numpy as np

from kerasdml import dml_lib

LIBRARY_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "zero_pad2d.dml")
SCRIPT = """
source("{path}") as zero_pad2d
[padded, Hp, Wp] = zero_pad2d::forward(X, C, H, W, {t}, {b}, {l}, {r})
dX = zero_pad2d::backward(padded * 2, C, H, W, {t}, {b}, {l}, {r})
[cropped, Hc, Wc] = zero_pad2d::crop(X, C, H, W, {b}, {t}, {r}, {l})
dfull = zero_pad2d::crop_backward(cropped, C, H, W, {b}, {t}, {r}, {l})
"""
OUTPUTS = ["padded", "Hp", "Wp", "dX", "cropped", "Hc", "Wc", "dfull"]
N, C, H, W = 3, 2, 5, 6
AMOUNTS = [(1, 0, 0, 1), (0, 1, 2, 0), (2, 2, 1, 1), (0, 0, 0, 0), (3, 1, 0, 4)]


def images(dtype) -> np.ndarray:
    X = np.random.default_rng(1).standard_normal((N, C * H * W)).astype(dtype)
    X[0, :5] = [np.inf, -np.inf, np.nan, -0.0, 0.0]
    X[2, -3:] = [np.inf, -0.0, np.nan]
    return X
