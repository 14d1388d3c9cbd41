"""dml_lib's batch_norm2d::forward with fixed statistics (mode "test") as one pass over the
images (runtime/local/normalization.py, through runtime/intrinsics.py), and fused with the
relu after it (runtime/fusion_rules.py): the bits of the DML body and of the plain statements,
in both precisions, with and without center and scale, on values that round differently in
each operation, zeros of both signs, infinities and NaN."""
from __future__ import annotations

import os

import numpy as np
import pytest

from kerasdml import dml_lib
from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.statement_fusion import SWITCH_VARIABLE

LIBRARY_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "batch_norm2d.dml")
RELU_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "relu.dml")
SCRIPT = """
source("{path}") as batch_norm2d
source("{relu}") as relu
[y, mean_out, var_out] = batch_norm2d::forward(X, gamma, beta, C, H, W, "{mode}", mean, var,
                                               0.99, 0.001, {center}, {scale})
r = relu::forward(y)
"""
N, C, H, W = 5, 3, 4, 7
FLAGS = [("TRUE", "TRUE"), ("FALSE", "TRUE"), ("TRUE", "FALSE"), ("FALSE", "FALSE")]


def inputs(dtype) -> dict:
    rng = np.random.default_rng(4)
    X = (rng.standard_normal((N, C * H * W)) * 3).astype(dtype)
    X[0, :6] = [np.inf, -np.inf, np.nan, -0.0, 0.0, 1e-30]
    vectors = {name: rng.uniform(0.2, 2, (C, 1)).astype(dtype)
               for name in ("gamma", "beta", "mean", "var")}
    vectors["beta"] -= 1
    return dict(X=X, **vectors)


def run(path: str, precision: str, center: str, scale: str, mode: str = "test", stats=None,
        outputs=("y", "r", "mean_out", "var_out")) -> dict:
    dtype = np.float64 if precision == "double" else np.float32
    text = SCRIPT.format(path=path, relu=RELU_FILE, mode=mode, center=center, scale=scale)
    return run_string(text, inputs=dict(inputs(dtype), C=C, H=H, W=W), outputs=list(outputs),
                      precision=precision, stats=stats)


def dml_body_copy(tmp_path) -> str:
    """The library file with one more comment line: not dml_lib's text, so its DML body runs."""
    copy = tmp_path / "batch_norm2d.dml"
    copy.write_text(open(LIBRARY_FILE).read() + "# a copy\n")
    return str(copy)


def body_ran(stats: Statistics) -> bool:
    """Whether the DML body's operations ran (bias_multiply, in place or not)."""
    return any(name.startswith("bias_multiply") for name in stats.counts)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("center,scale", FLAGS)
@pytest.mark.parametrize("precision", ["double", "single"])
def test_one_pass_gives_the_dml_bodys_bits(precision, center, scale, tmp_path, monkeypatch):
    monkeypatch.setenv(SWITCH_VARIABLE, "0")                 # the layer alone, relu plain
    stats = Statistics()
    kernel = run(LIBRARY_FILE, precision, center, scale, stats=stats)
    body = run(dml_body_copy(tmp_path), precision, center, scale)
    for name in ("y", "r", "mean_out", "var_out"):
        assert same_bits(kernel[name], body[name]), name
    assert stats.counts["batch_norm2d::forward"] == 1 and not body_ran(stats)
    assert np.isnan(kernel["y"]).any() and np.isinf(kernel["y"]).any()


@pytest.mark.parametrize("center,scale", FLAGS)
@pytest.mark.parametrize("precision", ["double", "single"])
def test_with_the_relu_after_it_gives_the_plain_statements_bits(precision, center, scale,
                                                                 monkeypatch):
    stats = Statistics()
    monkeypatch.setenv(SWITCH_VARIABLE, "1")
    fused = run(LIBRARY_FILE, precision, center, scale, stats=stats,
                outputs=("r", "mean_out", "var_out"))
    monkeypatch.setenv(SWITCH_VARIABLE, "0")
    plain = run(LIBRARY_FILE, precision, center, scale, outputs=("r", "mean_out", "var_out"))
    for name in ("r", "mean_out", "var_out"):
        assert same_bits(fused[name], plain[name]), name
    assert stats.fusions["batch_norm+relu"][0] == 1


def test_the_normalized_images_read_later_are_not_fused(monkeypatch):
    monkeypatch.setenv(SWITCH_VARIABLE, "1")
    stats = Statistics()
    found = run(LIBRARY_FILE, "double", "TRUE", "TRUE", stats=stats)   # y is an output too
    assert "batch_norm+relu" not in stats.fusions
    assert same_bits(found["r"], np.maximum(found["y"], 0))


def test_training_mode_runs_the_dml_body(tmp_path):
    stats = Statistics()
    kernel = run(LIBRARY_FILE, "double", "TRUE", "TRUE", mode="train", stats=stats)
    body = run(dml_body_copy(tmp_path), "double", "TRUE", "TRUE", mode="train")
    assert body_ran(stats)
    for name in ("y", "mean_out", "var_out"):
        assert same_bits(kernel[name], body[name]), name
