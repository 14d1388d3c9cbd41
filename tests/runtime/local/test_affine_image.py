"""dml_lib's random_affine layer run as one kernel call (runtime/local/affine_image.py, through
runtime/intrinsics.py) against its own DML body, for every fill mode and interpolation, in
double and single precision. The transforms are rotations with random perturbations: they
read across every edge, between pixels and far outside the image."""
from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kerasdml import dml_lib
from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.errors import DMLRuntimeError

LIBRARY_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "random_affine.dml")
SCRIPT = """
source("{path}") as random_affine
A = random_affine::rotation(N, H, W, -0.3, 0.3, 5)
A = A + rand(rows=N, cols=6, min=-2, max=2, seed=6) * rand(rows=N, cols=6, seed=7) ^ 4
out = random_affine::forward(X, A, C, H, W, fill_mode, 0.3, interpolation)
dX = random_affine::backward(dout, A, C, H, W, fill_mode, interpolation)
"""
N, C, H, W = 4, 3, 5, 7


def run_layer(path: str, fill_mode: str, interpolation: str, precision="double",
              stats=None) -> dict:
    r = np.random.default_rng(0)
    X = r.uniform(0, 1, (N, C * H * W))
    inputs = dict(X=X, dout=r.uniform(-1, 1, X.shape), N=N, C=C, H=H, W=W, fill_mode=fill_mode,
                  interpolation=interpolation)
    return run_string(SCRIPT.format(path=path), inputs=inputs, outputs=["out", "dX"],
                      precision=precision, stats=stats)


def dml_body_copy(tmp_path) -> str:
    """The library file with one more comment line: not dml_lib's text, so its DML body runs."""
    copy = tmp_path / "random_affine.dml"
    copy.write_text(open(LIBRARY_FILE).read() + "# a copy\n")
    return str(copy)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "nearest", "constant"])
def test_library_layer_as_one_kernel_gives_its_dml_bodys_results(fill_mode, interpolation,
                                                                  precision, tmp_path):
    kernel = run_layer(LIBRARY_FILE, fill_mode, interpolation, precision)
    body = run_layer(dml_body_copy(tmp_path), fill_mode, interpolation, precision)
    tolerance = 1e-12 if precision == "double" else 1e-6
    for name in ("out", "dX"):
        assert kernel[name].dtype == body[name].dtype, name
        assert_allclose(kernel[name], body[name], rtol=0, atol=tolerance, err_msg=name)


def test_library_layer_runs_one_kernel_call_per_function():
    stats = Statistics()
    run_layer(LIBRARY_FILE, "reflect", "bilinear", stats=stats)
    assert stats.counts["random_affine::forward"] == 1
    assert stats.counts["random_affine::backward"] == 1
    assert "outer" not in stats.counts  # the DML body's interpolation weights


def test_mistakes_are_reported_by_the_dml_body():
    # transforms of five values instead of six: the kernel declines, the DML body reports it
    with pytest.raises(DMLRuntimeError, match="column index 6 out of bounds for `A`"):
        run_string(f'source("{LIBRARY_FILE}") as random_affine\n'
                   'out = random_affine::forward(X, A, 1, 2, 2, "reflect", 0.0, "bilinear")\n',
                   inputs=dict(X=np.zeros((2, 4)), A=np.zeros((2, 5))), outputs=["out"])
