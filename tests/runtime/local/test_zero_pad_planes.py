"""dml_lib's zero_pad2d layer (padding, cropping and their gradients) run as one plane copy
(runtime/local/planes.py, through runtime/intrinsics.py) against its own DML body, bit for bit:
both copy, so infinities, NaN and the sign of zeros pass unchanged (a convolution with a
one-hot kernel, which shifted the planes before, turned an infinity's neighbours into NaN)."""
from __future__ import annotations

import numpy as np
import pytest
from support.zero_pad_cases import AMOUNTS, LIBRARY_FILE, OUTPUTS, SCRIPT, C, H, N, W, images

from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.local import native


def run_layer(path: str, amounts, precision: str, stats=None) -> dict:
    top, bottom, left, right = amounts
    dtype = np.float64 if precision == "double" else np.float32
    return run_string(SCRIPT.format(path=path, t=top, b=bottom, l=left, r=right),
                      inputs=dict(X=images(dtype), C=C, H=H, W=W), outputs=OUTPUTS,
                      precision=precision, stats=stats)


def dml_body_copy(tmp_path) -> str:
    """The library file with one more comment line: not dml_lib's text, so its DML body runs."""
    copy = tmp_path / "zero_pad2d.dml"
    copy.write_text(open(LIBRARY_FILE).read() + "# a copy\n")
    return str(copy)


def expected_padding(X, amounts) -> np.ndarray:
    top, bottom, left, right = amounts
    planes = np.zeros((N * C, H + top + bottom, W + left + right), dtype=X.dtype)
    planes[:, top:top + H, left:left + W] = X.reshape(N * C, H, W)
    return planes.reshape(N, -1)


@pytest.mark.parametrize("native_on", [True, False], ids=["native", "numpy"])
@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("amounts", AMOUNTS, ids=lambda a: "-".join(map(str, a)))
def test_the_copy_is_the_dml_bodys_results_bit_for_bit(amounts, precision, native_on, tmp_path):
    with native.use(native_on):
        copied = run_layer(LIBRARY_FILE, amounts, precision)
    body = run_layer(dml_body_copy(tmp_path), amounts, precision)
    for name in OUTPUTS:
        assert np.asarray(copied[name]).tobytes() == np.asarray(body[name]).tobytes(), name
    X = images(np.float64 if precision == "double" else np.float32)
    assert copied["padded"].tobytes() == expected_padding(X, amounts).tobytes()
    assert copied["dX"].tobytes() == (X * 2).tobytes()           # the padding cut away again
    assert np.isinf(copied["padded"]).sum() == np.isinf(X).sum()  # no infinity became NaN


def test_each_function_is_one_kernel_call():
    stats = Statistics()
    run_layer(LIBRARY_FILE, (1, 0, 0, 1), "double", stats=stats)
    for function in ("forward", "backward", "crop", "crop_backward"):
        assert stats.counts[f"zero_pad2d::{function}"] == 1
    assert "leftIndex" not in stats.counts               # the DML body's row copies


def test_cropping_everything_is_reported_by_the_dml_body():
    with pytest.raises(DMLRuntimeError, match="leaves nothing of a 5x6 image"):
        run_string(f'source("{LIBRARY_FILE}") as zero_pad2d\n'
                   '[out, Ho, Wo] = zero_pad2d::crop(X, 2, 5, 6, 3, 2, 0, 0)\n',
                   inputs=dict(X=np.zeros((1, 60))), outputs=["out"])
