"""Depthwise convolution cases shared by the local kernel tests and the Spark tests: awkward
shapes, their operands, and dml_lib's conv2d_depthwise layer (forward, then backward) run as a
DML script."""
from __future__ import annotations

import os

import numpy as np

from kerasdml import dml_lib
from kerasdml.runtime.api import run_string
from kerasdml.runtime.local.geometry import Geom

SHAPES = [
    #  N  C   H   W  M kh kw sh sw ph pw
    (2, 3, 7, 6, 1, 3, 3, 1, 1, 1, 1),        # Xception's usual layer, small
    (3, 4, 9, 8, 2, 3, 3, 2, 2, 0, 0),        # stride 2 that does not divide, multiplier 2
    (2, 5, 8, 11, 3, 3, 2, 1, 2, 2, 1),       # unequal kernel, stride and padding
    (1, 2, 5, 5, 1, 5, 5, 1, 1, 0, 0),        # one output pixel
    (2, 3, 4, 4, 2, 2, 2, 3, 3, 1, 1),        # stride larger than the kernel: skipped cells
    (1, 2, 6, 37, 1, 3, 3, 1, 1, 1, 1),       # rows of 37 pixels: several vectors and a part
    (17, 2, 3, 3, 1, 1, 1, 1, 1, 0, 0),       # 1x1 kernel, many images (several chunks)
    (2, 3, 9, 10, 2, 3, 3, 1, 2, 1, 0),       # 3x3 with column stride 2 only
    (1, 2, 10, 10, 1, 3, 3, 3, 3, 1, 1),      # 3x3 with stride 3: the general loop
]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]

LAYER_SCRIPT = """
source("{path}") as depthwise
[out, Hout, Wout] = depthwise::forward(X, W, b, C, Hin, Win, M, Hf, Wf, sh, sw, ph, pw)
[dX, dW, db] = depthwise::backward(dout, Hout, Wout, X, W, b, C, Hin, Win, M, Hf, Wf, sh, sw, ph, pw)
"""
LIBRARY_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "conv2d_depthwise.dml")
LAYER_OUTPUTS = ["out", "Hout", "Wout", "dX", "dW", "db"]


def geometry(shape) -> Geom:
    N, C, H, W, M, kh, kw, sh, sw, ph, pw = shape
    return Geom("test", [N, C, H, W], (kh, kw), "filter", [sh, sw], [ph, pw], filters=C * M)


def operands(g: Geom, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((g.N, g.in_cols)).astype(dtype)
    W = rng.standard_normal((g.F, g.kh * g.kw)).astype(dtype)
    b = rng.standard_normal((g.F, 1)).astype(dtype)
    dout = rng.standard_normal((g.N, g.out_cols)).astype(dtype)
    return X, W, b, dout


def run_layer(path: str, shape, values, precision="double", **options) -> dict:
    """LAYER_SCRIPT on the values (X, W, b, dout); options go to run_string (spark, explain)."""
    N, C, H, W, M, kh, kw, sh, sw, ph, pw = shape
    X, Wt, b, dout = values
    inputs = dict(X=X, W=Wt, b=b, dout=dout, C=C, Hin=H, Win=W, M=M, Hf=kh, Wf=kw, sh=sh, sw=sw,
                  ph=ph, pw=pw)
    return run_string(LAYER_SCRIPT.format(path=path), inputs=inputs, precision=precision,
                      outputs=LAYER_OUTPUTS, **options)
