"""dml_lib's multi_head_attention heads() and heads_backward() for all samples and heads at once
(runtime/local/attention.py, through runtime/intrinsics.py) against their DML bodies, which loop
over samples and heads: the same results to the rounding of the products (summed by BLAS per
head instead of the interpreter's `%*%`), on both precisions, with masks, dropout factors and
shapes where queries and keys, key and value widths, and the heads differ; arguments the kernel
does not take run the body."""
from __future__ import annotations

import os

import numpy as np
import pytest

from kerasdml import dml_lib
from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics

LIBRARY_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "multi_head_attention.dml")
SCRIPT = """
source("{path}") as mha
[P, C] = mha::heads(Q, K, V, penalty, F, H, Tq, Tk)
[dQ, dK, dV] = mha::heads_backward(dC, P, F, Q, K, V, H, Tq, Tk)
"""
OUTPUTS = ["P", "C", "dQ", "dK", "dV"]
TOLERANCE = {"double": 1e-13, "single": 5e-6}   # measured: 1.7e-15 and 6.4e-7
# N, H, Tq, Tk, dk, dv
SHAPES = [(3, 2, 5, 7, 4, 3), (1, 1, 1, 1, 1, 1), (2, 3, 4, 4, 2, 5), (40, 2, 6, 9, 3, 3)]


def inputs(N, H, Tq, Tk, dk, dv, masked: bool, dropout: bool) -> dict:
    rng = np.random.default_rng(N * 100 + H)
    mask = np.ones((N, Tq * Tk))
    if masked:
        mask = (rng.random((N, Tq * Tk)) > 0.3).astype(float)
        mask.reshape(N, Tq, Tk)[:, :, 0] = 1            # every query keeps one key
    factors = np.ones((N, H * Tq * Tk))
    if dropout:
        factors = np.where(rng.random(factors.shape) < 0.2, 0.0, 1.25)
    return dict(Q=rng.standard_normal((N * Tq, H * dk)), K=rng.standard_normal((N * Tk, H * dk)),
                V=rng.standard_normal((N * Tk, H * dv)), penalty=(1 - mask) * -1e9, F=factors,
                dC=rng.standard_normal((N * Tq, H * dv)), H=H, Tq=Tq, Tk=Tk)


def run(path: str, precision: str, values: dict, stats=None) -> dict:
    dtype = np.float64 if precision == "double" else np.float32
    cast = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in values.items()}
    return run_string(SCRIPT.format(path=path), inputs=cast, outputs=OUTPUTS,
                      precision=precision, stats=stats)


@pytest.fixture
def body_copy(tmp_path) -> str:
    """The library file with one more comment line: not dml_lib's text, so its bodies run."""
    copy = tmp_path / "multi_head_attention.dml"
    copy.write_text(open(LIBRARY_FILE).read() + "# a copy\n")
    return str(copy)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("masked,dropout", [(False, False), (True, True)])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_give_the_bodys_results(shape, masked, dropout, precision, body_copy):
    values = inputs(*shape, masked, dropout)
    stats, body_stats = Statistics(), Statistics()
    kernel = run(LIBRARY_FILE, precision, values, stats)
    body = run(body_copy, precision, values, body_stats)
    assert stats.counts["multi_head_attention::heads"] == 1
    assert stats.counts["multi_head_attention::heads_backward"] == 1
    assert "rowSums" not in stats.counts and body_stats.counts["rowSums"] >= shape[0] * shape[1]
    for name in OUTPUTS:
        assert kernel[name].dtype == body[name].dtype and kernel[name].shape == body[name].shape
        scale = max(1.0, float(np.abs(body[name]).max()))
        np.testing.assert_allclose(kernel[name], body[name], rtol=0,
                                   atol=TOLERANCE[precision] * scale, err_msg=name)
    P = kernel["P"].reshape(shape[0], shape[1], shape[2], shape[3])
    np.testing.assert_allclose(P.sum(axis=3), 1, rtol=1e-5)        # rows of probabilities
    if masked:
        hidden = np.broadcast_to((values["penalty"] != 0).reshape(shape[0], 1, shape[2], shape[3]),
                                 P.shape)
        assert np.all(P[hidden] == 0)


def test_shapes_it_does_not_take_run_the_body():
    """F one column short: the kernel declines and the body reports the mistake in DML's terms."""
    values = inputs(2, 2, 3, 3, 2, 2, False, False)
    values["F"] = values["F"][:, :-1]
    with pytest.raises(Exception, match="index|bounds|range|column"):
        run(LIBRARY_FILE, "double", values)
