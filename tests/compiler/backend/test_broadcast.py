"""The DML that compiler.backend.broadcast writes, run on the DML runtime against numpy's
broadcasting (forward) and its sum over the broadcast axes (backward), in DML's layouts."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.compiler.backend import broadcast
from kerasdml.runtime.api import run_string

CASES = {  # (small, full) per-sample shapes
    "squeeze_excite": ((1, 1, 4), (3, 2, 4)),
    "channel_vector_on_image": ((4,), (3, 2, 4)),
    "per_pixel_on_image": ((3, 2, 1), (3, 2, 4)),
    "row_on_image": ((1, 2, 4), (3, 2, 4)),
    "scalar_on_image": ((1,), (3, 2, 4)),
    "feature_vector_on_sequence": ((5,), (3, 5)),
    "step_column_on_sequence": ((3, 1), (3, 5)),
    "repeat_vector": ((1, 5), (4, 5)),
    "middle_axis_rank4": ((2, 1, 3, 1), (2, 4, 3, 2)),
    "same_shape": ((3, 5), (3, 5)),
}


def dml_layout(x: np.ndarray) -> np.ndarray:
    """One sample per row, images channels first."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    return x.reshape(x.shape[0], -1)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_expand_and_reduce_match_numpy(case):
    small, full = CASES[case]
    assert broadcast.can_broadcast(small, full)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2,) + small)
    dy = rng.normal(size=(2,) + full)
    lines = broadcast.expand("S", "F", small, full) + broadcast.reduce("dF", "dS", small, full)
    out = run_string("\n".join(lines), inputs={"S": dml_layout(x), "dF": dml_layout(dy)},
                     outputs=["F", "dS"])
    expected = np.broadcast_to(x.reshape((2,) + (1,) * (len(full) - len(small)) + small),
                               (2,) + full)
    np.testing.assert_allclose(out["F"], dml_layout(np.ascontiguousarray(expected)), atol=1e-12)
    axes = tuple(i + 1 for i, (s, f) in enumerate(zip((1,) * (len(full) - len(small)) + small,
                                                       full)) if s != f)
    summed = dy.sum(axis=axes, keepdims=True).reshape((2,) + small)
    np.testing.assert_allclose(out["dS"], dml_layout(summed), atol=1e-12)


@pytest.mark.parametrize("small, full", [((2,), (3, 5)), ((2, 5), (3, 2, 5)), ((4, 1), (3, 2, 4))])
def test_refuses_what_it_cannot_write(small, full):
    assert not broadcast.can_broadcast(small, full)


@pytest.mark.parametrize("small, full, steps", [
    ((1, 1, 4), (3, 2, 4), [broadcast.Repeat(4, 6, 1)]),        # H and W at once: no tiling
    ((1, 2, 4), (3, 2, 4), [broadcast.Repeat(4, 3, 2)]),
    ((2, 1, 3, 1), (2, 4, 3, 2), [broadcast.Repeat(6, 2, 1), broadcast.Repeat(2, 4, 6)]),
])
def test_adjacent_broadcast_axes_repeat_once(small, full, steps):
    assert list(broadcast.repeats(small, full)) == steps
    if all(step.inner == 1 for step in steps):
        assert "table(" not in "\n".join(broadcast.expand("S", "F", small, full))
