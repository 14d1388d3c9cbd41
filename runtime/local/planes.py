"""Copies of image planes into larger zeroed planes and out of larger ones: zero padding and
cropping (dml_lib's zero_pad2d.dml, run as one call by runtime/intrinsics.py).

Images are rows of channel planes (DML's N x C*H*W). A copy moves values as they are (NaN,
infinities and the sign of zeros included), where the convolution with a one-hot kernel that
SystemDS would need to shift planes computes 0 * inf = NaN beside an infinity. Padding runs the
native pad_planes kernel when it is built (one pass, each cell written once), numpy otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import native
from .parallel import run_chunks, split, workers


@dataclass(frozen=True)
class PlaneCopy:
    """Every channel plane of N images: `inner` (h, w) planes at row `top`, column `left` of
    `outer` (H, W) ones. pad: from inner planes to zero-bordered outer ones, else the inner
    part cut out of the outer planes."""
    N: int
    C: int
    inner: tuple[int, int]
    outer: tuple[int, int]
    top: int
    left: int
    pad: bool

    @property
    def source(self) -> tuple[int, int]:
        return self.inner if self.pad else self.outer

    @property
    def result(self) -> tuple[int, int]:
        return self.outer if self.pad else self.inner

    @property
    def in_cols(self) -> int:
        return self.C * self.source[0] * self.source[1]

    @property
    def out_cols(self) -> int:
        return self.C * self.result[0] * self.result[1]


def copy_planes(c: PlaneCopy, X: np.ndarray) -> np.ndarray:
    """X (N x C*source cells) as N x C*result cells."""
    (h, w), (H, W) = c.inner, c.outer
    planes = c.N * c.C
    if not c.pad:
        cut = X.reshape(planes, H, W)[:, c.top:c.top + h, c.left:c.left + w]
        return np.ascontiguousarray(cut).reshape(c.N, c.out_cols)
    if native.enabled():
        source = np.ascontiguousarray(X).reshape(planes, h * w)
        out = np.empty((planes, H * W), dtype=X.dtype)

        def pad(first: int, last: int) -> None:     # ranges of planes on the kernel workers
            native.pad_planes(source[first:last], out[first:last], planes=last - first, H=h,
                              W=w, ph=c.top, pw=c.left, Hp=H, Wp=W)
        run_chunks(pad, split(planes, workers()))
        return out.reshape(c.N, c.out_cols)
    out = np.zeros((planes, H, W), dtype=X.dtype)
    out[:, c.top:c.top + h, c.left:c.left + w] = X.reshape(planes, h, w)
    return out.reshape(c.N, c.out_cols)
