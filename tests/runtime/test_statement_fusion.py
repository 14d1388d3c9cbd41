"""Fusion across statements (runtime/statement_fusion.py) gives the plain statements' bits."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from kerasdml import dml_lib
from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.statement_fusion import SWITCH_VARIABLE

SOURCES = """source("nn/layers/relu.dml") as relu
source("nn/layers/max_pool2d.dml") as max_pool2d
"""
LAYER = """r = relu::forward(c)
[p, Hp, Wp] = max_pool2d::forward(r, C, H, W, k, k, s, s, pad, pad)
"""
GRADIENT = """dr = max_pool2d::backward(dp, Hp, Wp, r, C, H, W, k, k, s, s, pad, pad)
dc = relu::backward(dr, c)
"""

# (N, C, H, W, pool, stride, padding): one row, one pixel, odd sizes, overlapping windows,
# padding, strides that drop the last rows and columns
SHAPES = [(1, 1, 1, 1, 1, 1, 0), (1, 3, 5, 7, 2, 2, 0), (7, 2, 9, 9, 3, 2, 1),
          (5, 4, 6, 10, 2, 2, 0), (3, 5, 11, 4, 3, 3, 1), (13, 3, 12, 12, 2, 1, 0),
          (9, 33, 28, 28, 2, 2, 0)]
IDS = ["1x1x1x1", "one-row", "overlap-pad", "tiles", "pad-stride3", "stride1", "lenet-sized"]


def _inputs(shape, dtype, seed=0):
    N, C, H, W, k, s, pad = shape
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((N, C * H * W)).round(1)     # rounded: ties within windows
    c[rng.random(c.shape) < 0.1] = 0.0
    c[rng.random(c.shape) < 0.02] = -0.0
    Ho, Wo = (H + 2 * pad - k) // s + 1, (W + 2 * pad - k) // s + 1
    dp = rng.standard_normal((N, C * Ho * Wo))
    return {"c": c.astype(dtype), "dp": dp.astype(dtype)}, dict(C=C, H=H, W=W, k=k, s=s, pad=pad)


def _run(text, shape, precision, outputs, monkeypatch, fused, stats=None):
    monkeypatch.setenv(SWITCH_VARIABLE, "1" if fused else "0")
    dtype = np.float32 if precision == "single" else np.float64
    inputs, args = _inputs(shape, dtype)
    geometry = "".join(f"{name} = ${name}\n" for name in args)
    return run_string(SOURCES + geometry + text, inputs=inputs, args=args, outputs=outputs,
                      precision=precision, stats=stats)


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_training_chain_gives_the_plain_bits(shape, precision, monkeypatch):
    outputs = ["p", "Hp", "Wp", "r", "dc"]
    text = LAYER + GRADIENT
    stats = Statistics()
    fused = _run(text, shape, precision, outputs, monkeypatch, True, stats)
    plain = _run(text, shape, precision, outputs, monkeypatch, False)
    for name in outputs:
        assert _same_bits(fused[name], plain[name]), name
    assert {"relu+max_pool", "max_pool_backward+relu_backward"} <= set(stats.fusions)


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_scoring_layer_gives_the_plain_bits_without_the_relu_matrix(shape, precision, monkeypatch):
    stats = Statistics()
    fused = _run(LAYER, shape, precision, ["p"], monkeypatch, True, stats)
    plain = _run(LAYER, shape, precision, ["p"], monkeypatch, False)
    assert _same_bits(fused["p"], plain["p"])
    assert stats.fusions["relu+max_pool"][0] == 1


def test_the_fused_pair_leaves_the_frame_as_the_statements_do(monkeypatch):
    later = "print(toString(sum(r) + Hp * 1000 + Wp + sum(dc)))\n"
    printed = {}
    for fused in (True, False):
        out = io.StringIO()
        monkeypatch.setenv(SWITCH_VARIABLE, "1" if fused else "0")
        inputs, args = _inputs(SHAPES[3], np.float64)
        geometry = "".join(f"{name} = ${name}\n" for name in args)
        run_string(SOURCES + geometry + LAYER + GRADIENT + later, inputs=inputs, args=args,
                   out=out, outputs=["dc"])
        printed[fused] = out.getvalue()
    assert printed[True] == printed[False] != ""


def test_a_gradient_read_again_is_not_fused(monkeypatch):
    stats = Statistics()
    _run(LAYER + GRADIENT + "s = sum(dr)\n", SHAPES[3], "double", ["dc", "s"], monkeypatch,
         True, stats)
    assert "max_pool_backward+relu_backward" not in stats.fusions
    assert "relu+max_pool" in stats.fusions


def test_arguments_the_kernel_does_not_take_run_the_plain_statements(monkeypatch):
    """A pool size given as a double (2.0): the function converts it to int, the kernel leaves
    such calls to the plain statements."""
    results = []
    for fused in (True, False):
        monkeypatch.setenv(SWITCH_VARIABLE, "1" if fused else "0")
        inputs, args = _inputs(SHAPES[3], np.float64)
        args["k"] = 2.0
        geometry = "".join(f"{name} = ${name}\n" for name in args)
        stats = Statistics()
        results.append(run_string(SOURCES + geometry + LAYER, inputs=inputs, args=args,
                                  outputs=["p"], stats=stats)["p"])
        assert "relu+max_pool" not in stats.fusions
    assert _same_bits(*results)


def test_a_wrong_geometry_reports_the_plain_error(monkeypatch):
    messages = []
    for fused in (True, False):
        monkeypatch.setenv(SWITCH_VARIABLE, "1" if fused else "0")
        inputs, args = _inputs(SHAPES[3], np.float64)
        args["C"] = 3                                   # c has 4 channels
        geometry = "".join(f"{name} = ${name}\n" for name in args)
        with pytest.raises(DMLRuntimeError) as error:
            run_string(SOURCES + geometry + LAYER, inputs=inputs, args=args, outputs=["p"])
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_an_edited_copy_of_the_library_is_not_fused(tmp_path, monkeypatch):
    layers = tmp_path / "nn" / "layers"
    layers.mkdir(parents=True)
    for name in ("relu.dml", "max_pool2d.dml", "zero_pad2d.dml"):
        text = (Path(dml_lib.ROOT) / "nn" / "layers" / name).read_text()
        (layers / name).write_text(text + ("\n# edited\n" if name == "relu.dml" else ""))
    inputs, args = _inputs(SHAPES[3], np.float64)
    geometry = "".join(f"{name} = ${name}\n" for name in args)
    stats = Statistics()
    monkeypatch.setenv(SWITCH_VARIABLE, "1")
    run_string(SOURCES + geometry + LAYER, inputs=inputs, args=args, outputs=["p"], stats=stats,
               base_dir=tmp_path)
    assert "relu+max_pool" not in stats.fusions


def test_stats_report_the_fusions_and_their_calibrated_savings(monkeypatch):
    text = "for (i in 1:5) {\n" + LAYER + GRADIENT + "}\n"
    stats = Statistics()
    _run(text, SHAPES[-1], "single", ["dc"], monkeypatch, True, stats)
    assert stats.fusions["relu+max_pool"][0] == 5
    assert len(stats.calibrations["max_pool_backward+relu_backward"]) == 3
    report = stats.report()
    assert "Fused across statements" in report and "max_pool_backward+relu_backward" in report
    assert "relu" not in stats.counts or stats.counts.get("max", 0) == 0   # plain ops not counted


def test_explain_shows_the_fused_operators(monkeypatch):
    monkeypatch.setenv(SWITCH_VARIABLE, "1")
    inputs, args = _inputs(SHAPES[3], np.float64)
    geometry = "".join(f"{name} = ${name}\n" for name in args)
    plan = io.StringIO()
    run_string(SOURCES + geometry + LAYER + GRADIENT, inputs=inputs, args=args, outputs=["dc"],
               explain=plan)
    assert "LOCAL relu+max_pool (one pass: relu::forward, max_pool2d::forward)" in plan.getvalue()
    assert "max_pool_backward+relu_backward" in plan.getvalue()


CONV_SOURCES = SOURCES + 'source("nn/layers/conv2d.dml") as conv2d\n'
CONV = "[c, Hc, Wc] = conv2d::forward(X, K, b, C, H, W, f, f, cs, cs, cp, cp)\n"
CONV_RELU = CONV + "r = relu::forward(c)\n"
CONV_LAYER = CONV_RELU + "[p, Hp, Wp] = max_pool2d::forward(r, F, Hc, Wc, k, k, s, s, pad, pad)\n"
# (N, C, H, W, F, filter, conv stride, conv padding, pool, pool stride, pool padding)
CONV_SHAPES = [(1, 1, 5, 5, 1, 1, 1, 0, 1, 1, 0), (3, 2, 9, 7, 5, 3, 1, 1, 2, 2, 0),
               (4, 3, 12, 12, 8, 5, 1, 2, 2, 2, 0), (2, 1, 10, 11, 3, 3, 2, 1, 3, 2, 1),
               (5, 4, 6, 6, 7, 1, 1, 0, 2, 1, 0), (2, 1, 7, 7, 1, 3, 1, 1, 2, 2, 0),
               (3, 1, 28, 28, 6, 5, 1, 2, 2, 2, 0), (2, 2, 13, 37, 5, 3, 1, 1, 2, 2, 0),
               (2, 8, 9, 11, 20, 3, 1, 1, 2, 2, 0)]
# lenet, long-rows: the row kernels pool 2 x 2 windows from their registers; channels: the
# channel kernels, whose chunks the pool's epilogue takes
CONV_IDS = ["1x1", "odd", "same-5x5", "strided-overlap", "pointwise", "one-plane", "lenet",
            "long-rows", "channels"]


def _run_conv(text, shape, precision, outputs, fused, monkeypatch, stats=None):
    monkeypatch.setenv(SWITCH_VARIABLE, "1" if fused else "0")
    N, C, H, W, F, f, cs, cp, k, s, pad = shape
    dtype = np.float32 if precision == "single" else np.float64
    rng = np.random.default_rng(1)
    inputs = {"X": rng.standard_normal((N, C * H * W)).astype(dtype),
              "K": rng.standard_normal((F, C * f * f)).astype(dtype),
              "b": rng.standard_normal((F, 1)).astype(dtype)}
    args = dict(C=C, H=H, W=W, F=F, f=f, cs=cs, cp=cp, k=k, s=s, pad=pad)
    geometry = "".join(f"{name} = ${name}\n" for name in args)
    return run_string(CONV_SOURCES + geometry + text, inputs=inputs, args=args, outputs=outputs,
                      precision=precision, stats=stats)


CONV_CASES = [(CONV_LAYER, ["c", "r", "p", "Hp"], "conv2d+bias_add+relu+max_pool"),
              (CONV_LAYER, ["p", "Wp"], "conv2d+bias_add+relu+max_pool"),
              (CONV_LAYER, ["r", "p"], "conv2d+bias_add+relu+max_pool"),
              (CONV_RELU, ["c", "r", "Hc"], "conv2d+bias_add+relu"),
              (CONV_RELU, ["r"], "conv2d+bias_add+relu")]
CONV_CASE_IDS = ["pool-training", "pool-scoring", "pool-relu-kept", "relu-training", "relu-scoring"]


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_CASE_IDS)
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=CONV_IDS)
def test_convolution_chains_give_the_plain_bits(shape, case, precision, monkeypatch):
    text, outputs, fusion = case
    stats = Statistics()
    fused = _run_conv(text, shape, precision, outputs, True, monkeypatch, stats)
    plain = _run_conv(text, shape, precision, outputs, False, monkeypatch)
    for name in outputs:
        assert _same_bits(fused[name], plain[name]), name
    assert stats.fusions[fusion][0] == 1


def test_a_pool_of_another_shape_is_not_fused_with_the_convolution(monkeypatch):
    text = CONV_RELU + "[p, Hp, Wp] = max_pool2d::forward(r, F, Hc - 1, Wc, k, k, s, s, 0, 0)\n"
    with pytest.raises(DMLRuntimeError):
        _run_conv(text, CONV_SHAPES[2], "double", ["p"], True, monkeypatch)


@pytest.mark.parametrize("pads", [(1, 1, 0, 0), (0, 1, 1, 0)], ids=["symmetric", "asymmetric"])
def test_padded_pools_give_the_plain_bits(pads, monkeypatch):
    top, bottom, left, right = pads
    text = (f"r = relu::forward(c)\n[p, Hp, Wp] = max_pool2d::forward_padded(r, C, H, W, k, k, s, "
            f"s, {top}, {bottom}, {left}, {right})\n"
            f"dr = max_pool2d::backward_padded(dp, Hp, Wp, r, C, H, W, k, k, s, s, {top}, {bottom}, "
            f"{left}, {right})\ndc = relu::backward(dr, c)\n")
    shape = (3, 2, 6, 6, 2, 2, 0)
    N, C, H, W, k, s, _ = shape
    Ho, Wo = (H + top + bottom - k) // s + 1, (W + left + right - k) // s + 1
    results, fusions = [], []
    for fused in (True, False):
        monkeypatch.setenv(SWITCH_VARIABLE, "1" if fused else "0")
        inputs, args = _inputs(shape, np.float32)
        inputs["dp"] = np.random.default_rng(2).standard_normal((N, C * Ho * Wo))
        geometry = "".join(f"{name} = ${name}\n" for name in args)
        stats = Statistics()
        results.append(run_string(SOURCES + geometry + text, inputs=inputs, args=args,
                                  outputs=["p", "dc"], precision="single", stats=stats))
        fusions.append(set(stats.fusions))
    for name in ("p", "dc"):
        assert _same_bits(results[0][name], results[1][name])
    assert fusions[1] == set()
    assert fusions[0] == (set() if top != bottom or left != right
                          else {"relu+max_pool", "max_pool_backward+relu_backward"})


REUSED_NAMES = [
    CONV + "c = relu::forward(c)\n[p, Hp, Wp] = max_pool2d::forward(c, F, Hc, Wc, k, k, s, s, pad, pad)\n"
    "t = sum(c) + sum(p)\n",
    CONV + "c = relu::forward(c)\n[p, Hp, Wp] = max_pool2d::forward(c, F, Hc, Wc, k, k, s, s, pad, pad)\n"
    "t = sum(p)\n",
    CONV + "r = relu::forward(c)\n[c, Hp, Wp] = max_pool2d::forward(r, F, Hc, Wc, k, k, s, s, pad, pad)\n"
    "t = sum(c) + sum(r)\n"]


@pytest.mark.parametrize("text", REUSED_NAMES, ids=["relu-overwrites-read-later", "relu-overwrites",
                                                   "pool-overwrites"])
def test_names_reused_across_the_fused_statements(text, monkeypatch):
    stats = Statistics()
    fused = _run_conv(text, CONV_SHAPES[2], "double", ["t"], True, monkeypatch, stats)
    plain = _run_conv(text, CONV_SHAPES[2], "double", ["t"], False, monkeypatch)
    assert fused["t"] == plain["t"]
    assert "conv2d+bias_add+relu+max_pool" in stats.fusions
