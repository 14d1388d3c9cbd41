"""dml_lib's gelu::forward and gelu::backward in their exact form (approximate=FALSE), and
erf::forward, as one native pass (runtime/local/elementwise.py, through runtime/intrinsics.py):
the C library's erf in place of erf.dml's power series. The kernel is held to the exact formulas (Python's
math.erf, the same C function) and to the DML body within the series' rounding, on both
precisions, a matrix large enough to be shared by the workers, and special values; the forms
and arguments it does not take run the body."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from kerasdml import dml_lib
from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.intrinsics import SWITCH_VARIABLE
from kerasdml.runtime.local import native

LIBRARY_FILE = os.path.join(dml_lib.ROOT, "nn", "layers", "gelu.dml")
SCRIPT = """
source("{path}") as gelu
y = gelu::forward(X, {approximate})
dX = gelu::backward(D, X, {approximate})
"""
DTYPES = {"double": np.float64, "single": np.float32}
# the DML body's series is summed in the run's precision: its error, measured on |x| <= 8
BODY_TOLERANCE = {"double": 1e-14, "single": 1e-5}

pytestmark = pytest.mark.skipif(not native.available(), reason="native kernels not built")


def inputs(rows: int = 61, cols: int = 70) -> dict:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((rows, cols)) * 3
    X[0, :cols] = np.linspace(-8, 8, cols)
    D = rng.standard_normal((rows, cols))
    return dict(X=X, D=D)


def run(path: str, precision: str, values: dict, approximate: str = "FALSE", stats=None) -> dict:
    dtype = DTYPES[precision]
    return run_string(SCRIPT.format(path=path, approximate=approximate),
                      inputs={k: v.astype(dtype) for k, v in values.items()},
                      outputs=["y", "dX"], precision=precision, stats=stats)


def body_copy(tmp_path) -> str:
    """The library file with one more comment line: not dml_lib's text, so its body runs."""
    copy = tmp_path / "gelu.dml"
    copy.write_text(open(LIBRARY_FILE).read() + "# a copy\n")
    return str(copy)


def exact(X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The formulas in float64 with math.erf."""
    erf = np.vectorize(math.erf)(X / math.sqrt(2))
    pdf = np.exp(-0.5 * (X * X)) / math.sqrt(2 * math.pi)
    return 0.5 * X * (1 + erf), D * (0.5 * (1 + erf) + X * pdf)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", [(61, 70), (1, 5), (700, 300)])   # the last one is shared
def test_kernel_is_the_exact_formula_and_the_body_within_its_rounding(precision, shape, tmp_path,
                                                                      monkeypatch):
    values = inputs(*shape)
    stats = Statistics()
    kernel = run(LIBRARY_FILE, precision, values, stats=stats)
    body_stats = Statistics()
    monkeypatch.setenv(SWITCH_VARIABLE, "0")   # erf.dml's series too, not its kernel
    body = run(body_copy(tmp_path), precision, values, stats=body_stats)
    assert stats.counts["gelu::forward"] == 1 and stats.counts["gelu::backward"] == 1
    assert "sum" not in stats.counts and body_stats.counts["sum"] > 10   # the series' loop
    dtype = DTYPES[precision]
    X, D = (values[k].astype(dtype).astype(np.float64) for k in ("X", "D"))
    y, dX = exact(X, D)
    if precision == "double":
        assert same_bits(kernel["y"], y)          # the same erf and the same operations
        np.testing.assert_allclose(kernel["dX"], dX, rtol=1e-15, atol=1e-15)
    else:
        np.testing.assert_allclose(kernel["y"], y, rtol=2e-7, atol=1e-6)
        np.testing.assert_allclose(kernel["dX"], dX, rtol=2e-7, atol=1e-6)
    for name in ("y", "dX"):
        assert kernel[name].dtype == dtype
        np.testing.assert_allclose(kernel[name], body[name], rtol=0,
                                   atol=BODY_TOLERANCE[precision] * np.abs(values["X"]).max())


@pytest.mark.parametrize("precision", ["double", "single"])
def test_special_values_follow_the_formula(precision, tmp_path):
    """Infinities, NaN, zeros of both signs and far tails as the formula gives them (and
    Keras: 0.5 * x * (1 + erf(x / sqrt(2))) is NaN at -inf). The body's series stops at
    |x| = 6 * sqrt(2), a little short of -1 in float32: it gives -inf at -inf and -1.2e-6 at
    -40 where the formula gives NaN and -0."""
    X = np.array([[np.inf, -np.inf, np.nan, 0.0, -0.0, 40.0, -40.0, 1e-30]])
    values = dict(X=X, D=np.ones_like(X))
    kernel = run(LIBRARY_FILE, precision, values)
    dtype = DTYPES[precision]
    with np.errstate(invalid="ignore"):
        y, dX = exact(X, values["D"])
    np.testing.assert_array_equal(kernel["y"], y.astype(dtype))
    np.testing.assert_array_equal(kernel["dX"][:, 2:], dX[:, 2:].astype(dtype))
    assert np.isnan(kernel["y"][0, 1]) and kernel["y"][0, 6] == 0 and np.signbit(kernel["y"][0, 6])


@pytest.mark.parametrize("precision", ["double", "single"])
def test_approximate_form_and_native_off_run_the_body(precision, tmp_path):
    values = inputs()
    for approximate, on in (("TRUE", True), ("FALSE", False)):
        stats = Statistics()
        with native.use(on):
            kernel = run(LIBRARY_FILE, precision, values, approximate, stats=stats)
            body = run(body_copy(tmp_path), precision, values, approximate)
        for name in ("y", "dX"):
            assert same_bits(kernel[name], body[name]), (approximate, name)


def test_arguments_it_does_not_take_run_the_body(tmp_path):
    """A dout of another shape is the body's mistake to report, in DML's terms."""
    text = SCRIPT.format(path=LIBRARY_FILE, approximate="FALSE")
    with pytest.raises(Exception, match="[Dd]imension|shape|cells|match"):
        run_string(text, inputs=dict(X=np.ones((3, 4)), D=np.ones((3, 5))), outputs=["dX"])


ERF_SCRIPT = """
source("{path}") as erf
y = erf::forward(X)
"""


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", [(61, 70), (700, 300)])   # the last one is shared
def test_erf_kernel_is_the_c_library_erf_and_the_body_within_its_rounding(precision, shape,
                                                                          monkeypatch):
    X = inputs(*shape)["X"]
    X[1, :4] = [np.inf, -np.inf, 0.0, -0.0]
    dtype = DTYPES[precision]
    path = os.path.join(dml_lib.ROOT, "nn", "layers", "erf.dml")

    def erf(stats=None):
        return run_string(ERF_SCRIPT.format(path=path), inputs=dict(X=X.astype(dtype)),
                          outputs=["y"], precision=precision, stats=stats)["y"]
    stats = Statistics()
    kernel = erf(stats)
    monkeypatch.setenv(SWITCH_VARIABLE, "0")
    body_stats = Statistics()
    body = erf(body_stats)
    assert stats.counts["erf::forward"] == 1 and "sum" not in stats.counts
    assert body_stats.counts["sum"] > 10 and kernel.dtype == dtype
    expected = np.vectorize(math.erf)(X.astype(dtype).astype(np.float64))
    if precision == "double":
        assert same_bits(kernel, expected)
    else:
        np.testing.assert_allclose(kernel, expected, rtol=2e-7, atol=1e-7)
    np.testing.assert_allclose(kernel, body, rtol=0, atol=BODY_TOLERANCE[precision])
