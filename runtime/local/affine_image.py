"""The affine image transform with fill behind dml_lib's random_affine layer (Keras'
RandomRotation, RandomZoom, RandomTranslation and RandomShear): runtime/intrinsics.py calls
these in place of its DML forward and backward, which loop over images and channels and build
dense (H*W x H) and (H*W x W) weight matrices per image, work that grows with the image's size
cubed. Here every output pixel reads its (at most four) input pixels directly.

The formulas are random_affine.dml's (see its header for the fill modes and interpolations),
evaluated in the dtype of the operands, so the results are its results up to the order of the
sums. Layout as there: X is N x (C*H*W) channels first, A is N x 6, one transform
(a0, a1, a2, b0, b1, b2) per image.
"""
from __future__ import annotations

import numpy as np

FILL_MODES = ("reflect", "wrap", "nearest", "constant")
INTERPOLATIONS = ("bilinear", "nearest")


def map_coordinates(coords: np.ndarray, length: int, fill_mode: str) -> np.ndarray:
    """Coordinates outside [0, length - 1] mapped inside by fill_mode, then clamped to it
    ("constant" leaves them: what they read counts as the fill value)."""
    if fill_mode == "constant":
        return coords
    if length <= 1:
        return coords * 0
    mapped = coords
    if fill_mode == "reflect":
        period = 2 * length
        below = period * np.floor(-coords / period) + coords
        below = np.where(below < -length, below + period, -below - 1)
        above = coords - period * np.floor(coords / period)
        above = np.where(above >= length, period - above - 1, above)
        mapped = np.where(coords < 0, below, np.where(coords > length - 1, above, coords))
    elif fill_mode == "wrap":
        below = coords + length * (np.floor(-coords / (length - 1)) + 1)
        above = coords - length * np.floor(coords / (length - 1))
        mapped = np.where(coords < 0, below, np.where(coords > length - 1, above, coords))
    return np.clip(mapped, 0, length - 1)


def _axis_taps(coords: np.ndarray, length: int, interpolation: str) -> list:
    """[(position, weight)] along one axis: the input positions each coordinate reads, with
    weight 0 (and position 0) where a position lies outside the image."""
    if interpolation == "nearest":
        starts, offsets = np.sign(coords) * np.floor(np.abs(coords) + 0.5), (0,)
    else:
        starts, offsets = np.floor(coords), (0, 1)
    taps = []
    for offset in offsets:
        position = starts + offset
        inside = (position >= 0) & (position <= length - 1)
        weight = inside if interpolation == "nearest" else \
            np.maximum(1 - np.abs(coords - position), 0) * inside
        taps.append((np.where(inside, position, 0).astype(np.intp), weight.astype(coords.dtype)))
    return taps


def sampling(A: np.ndarray, H: int, W: int, fill_mode: str, interpolation: str) -> tuple:
    """([(pixel index, weight)] each N x (H*W), the share of each output pixel that reads
    outside the image (N x (H*W)))."""
    pixel = np.arange(H * W, dtype=A.dtype)
    x, y = pixel % W, np.floor(pixel / W)
    xs = map_coordinates(A[:, :1] * x + A[:, 1:2] * y + A[:, 2:3], W, fill_mode)
    ys = map_coordinates(A[:, 3:4] * x + A[:, 4:5] * y + A[:, 5:6], H, fill_mode)
    columns, rows = _axis_taps(xs, W, interpolation), _axis_taps(ys, H, interpolation)
    taps = [(row * W + column, row_weight * column_weight)
            for row, row_weight in rows for column, column_weight in columns]
    inside = sum(w for _, w in rows) * sum(w for _, w in columns)
    return taps, 1 - inside


def forward(X, A, C: int, H: int, W: int, fill_mode: str, fill_value: float,
            interpolation: str) -> np.ndarray:
    taps, outside = sampling(A, H, W, fill_mode, interpolation)
    planes = X.reshape(len(X), C, H * W)
    out = np.zeros_like(planes)
    for index, weight in taps:
        out += weight[:, None, :] * np.take_along_axis(planes, index[:, None, :], axis=2)
    if fill_mode == "constant":
        out += (fill_value * outside)[:, None, :].astype(X.dtype)
    return out.reshape(X.shape)


def backward(dout, A, C: int, H: int, W: int, fill_mode: str, interpolation: str) -> np.ndarray:
    """The transpose of forward's linear part: each output pixel's gradient goes back to the
    input pixels it read, by their weights."""
    taps, _ = sampling(A, H, W, fill_mode, interpolation)
    N, size = len(dout), H * W
    planes = dout.reshape(N, C, size)
    base = (np.arange(N * C) * size).reshape(N, C, 1)
    dX = np.zeros(N * C * size, dtype=np.float64)
    for index, weight in taps:
        cells = (base + index[:, None, :]).ravel()
        dX += np.bincount(cells, weights=(planes * weight[:, None, :]).ravel(),
                          minlength=N * C * size)
    return dX.astype(dout.dtype).reshape(dout.shape)
