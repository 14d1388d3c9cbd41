"""Keras parity of dml_lib's augmentation layers (random_flip, random_affine, random_contrast,
random_brightness), and the statistics of their random draws.

The transforms are compared with Keras' own: `keras.ops.image.affine_transform` on the same
transform rows, Keras' layers called with training=True on factors that leave one value to draw
(a rotation of exactly 90 degrees, a zoom of 2x, a shift by whole pixels, one contrast factor),
and the layers' `transform_images` given the values DML drew (flips, shears, contrast factors,
brightness shifts). Images are small: a few pixels, two or three channels.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")  # noqa: E402
import numpy as np  # noqa: E402

from support.dml_call import call_dml  # noqa: E402

L = keras.layers
TOL = 1e-5
AFFINE = "nn/layers/random_affine.dml"


def images(n=3, h=5, w=7, c=2, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, h, w, c)).astype(np.float32)


def rows(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> N x (C*H*W), channels first."""
    return np.ascontiguousarray(np.asarray(x, np.float64).transpose(0, 3, 1, 2)).reshape(len(x), -1)


def sizes(x: np.ndarray) -> dict:
    return {"C": x.shape[3], "H": x.shape[1], "W": x.shape[2]}


def assert_close(dml, reference, tol=TOL):
    error = float(np.max(np.abs(np.asarray(dml) - np.asarray(reference, np.float64))))
    assert error <= tol, f"max abs difference {error:.3g} > {tol}"


# ---- the affine transform with fill ---------------------------------------------------------

TRANSFORMS = np.array([  # a rotation about a point, a zoom with a shift, a shift by periods
    [np.cos(0.7), -np.sin(0.7), 1.3, np.sin(0.7), np.cos(0.7), -0.8],
    [1.7, 0.0, -2.1, 0.0, 0.6, 1.2],
    [1.0, 0.0, -9.3, 0.0, 1.0, 13.4]], dtype=np.float32)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "nearest", "constant"])
def test_affine_transform_is_keras(fill_mode, interpolation):
    x = images()
    transforms = np.concatenate([TRANSFORMS, np.zeros((3, 2), np.float32)], axis=1)
    expected = keras.ops.image.affine_transform(x, transforms, interpolation=interpolation,
                                                fill_mode=fill_mode, fill_value=0.3)
    out = call_dml(AFFINE, "forward", {"X": rows(x), "A": TRANSFORMS.astype(np.float64)},
                   ["out"], **sizes(x), fill_mode=fill_mode, fill_value=0.3,
                   interpolation=interpolation)["out"]
    assert_close(out, rows(expected))


def _layer_in_training(layer, x) -> np.ndarray:
    return rows(layer(x, training=True))


def _drawn(function: str, x, seed=4, **factors) -> np.ndarray:
    """The DML layer's output: `function` draws the transforms, forward applies them."""
    n, h, w = x.shape[:3]
    transforms = call_dml(AFFINE, function, {}, ["A"], N=n, H=h, W=w, seed=seed, **factors)["A"]
    return call_dml(AFFINE, "forward", {"X": rows(x), "A": transforms}, ["out"], **sizes(x),
                    fill_mode="reflect", fill_value=0.0, interpolation="bilinear")["out"]


def test_rotation_by_a_quarter_turn_is_keras():
    x = images(h=6, w=6)
    expected = _layer_in_training(L.RandomRotation((0.25, 0.25)), x)
    assert_close(_drawn("rotation", x, lower=0.25, upper=0.25), expected)
    # a quarter turn of a square image moves whole pixels: numpy's rot90 (counter-clockwise)
    assert_close(expected, rows(np.rot90(x, 1, axes=(1, 2))))


def test_zoom_in_by_two_is_keras():
    x = images(h=6, w=8)
    expected = _layer_in_training(L.RandomZoom((-0.5, -0.5), (-0.5, -0.5)), x)
    out = _drawn("zoom", x, height_lower=-0.5, height_upper=-0.5, width_lower=-0.5,
                 width_upper=-0.5, same=False)
    assert_close(out, expected)


def test_zoom_out_by_two_with_one_factor_is_keras():
    x = images(h=6, w=8)
    expected = _layer_in_training(L.RandomZoom((1.0, 1.0)), x)  # width_factor=None
    out = _drawn("zoom", x, height_lower=1.0, height_upper=1.0, width_lower=0.0,
                 width_upper=0.0, same=True)
    assert_close(out, expected)


def test_translation_by_whole_pixels_is_keras():
    x = images(h=8, w=8)
    expected = _layer_in_training(L.RandomTranslation((0.25, 0.25), (-0.125, -0.125)), x)
    out = _drawn("translation", x, height_lower=0.25, height_upper=0.25, width_lower=-0.125,
                 width_upper=-0.125)
    assert_close(out, expected)
    # two rows down and one column left, the uncovered pixels reflected from the edge
    assert_close(expected[:, 2 * 8:3 * 8 - 1], rows(x)[:, 1:8])


def test_shears_are_keras_shears_on_the_drawn_factors():
    x = images(n=40, h=5, w=6)
    transforms = call_dml(AFFINE, "shear", {}, ["A"], N=40, x_lower=0.5, x_upper=0.5,
                          y_lower=0.1, y_upper=0.3, seed=8)["A"]
    sx, sy = transforms[:, 1], transforms[:, 3]
    assert set(np.round(sx, 12)) == {-0.5, 0.5}  # one sign per image, for both factors
    assert np.all((0.1 <= np.abs(sy)) & (np.abs(sy) <= 0.3)) and np.all(np.sign(sx) == np.sign(sy))
    out = call_dml(AFFINE, "forward", {"X": rows(x), "A": transforms}, ["out"], **sizes(x),
                   fill_mode="constant", fill_value=0.5, interpolation="bilinear")["out"]
    layer = L.RandomShear(0.5, 0.3, fill_mode="constant", fill_value=0.5)
    drawn = {"shear_factor": np.stack([sx, sy], axis=1).astype(np.float32)}
    assert_close(out, rows(layer.transform_images(x, drawn, training=True)))


def test_affine_draws_lie_in_their_ranges():
    angles = call_dml(AFFINE, "rotation", {}, ["A"], N=2000, H=5, W=5, lower=-0.1, upper=0.2,
                      seed=3)["A"]
    turns = np.arctan2(angles[:, 3], angles[:, 0]) / (2 * np.pi)
    assert -0.1 <= turns.min() < -0.09 and 0.19 < turns.max() <= 0.2
    zooms = call_dml(AFFINE, "zoom", {}, ["A"], N=2000, H=5, W=5, height_lower=-0.2,
                     height_upper=0.1, width_lower=0.3, width_upper=0.5, same=False, seed=3)["A"]
    assert 0.8 <= zooms[:, 4].min() < 0.81 and 1.09 < zooms[:, 4].max() <= 1.1
    assert 1.3 <= zooms[:, 0].min() < 1.31 and 1.49 < zooms[:, 0].max() <= 1.5


# ---- flips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flips_are_keras_flips(mode):
    x = images(n=16, h=4, w=5, c=3)
    res = call_dml("nn/layers/random_flip.dml", "forward", {"X": rows(x)}, ["out", "flips"],
                   **sizes(x), horizontal="horizontal" in mode, vertical="vertical" in mode,
                   seed=6)
    flips = res["flips"].ravel().astype(bool)
    assert 0 < flips.sum() < len(flips)
    layer = L.RandomFlip(mode)
    expected = layer.transform_images(x, {"flips": flips.reshape(-1, 1, 1, 1)}, training=True)
    np.testing.assert_array_equal(res["out"], rows(expected))


def test_half_of_the_images_are_flipped():
    x = np.zeros((4000, 2 * 2 * 1))
    flips = call_dml("nn/layers/random_flip.dml", "forward", {"X": x}, ["out", "flips"], C=1,
                     H=2, W=2, horizontal=True, vertical=False, seed=11)["flips"]
    assert abs(flips.mean() - 0.5) < 0.03


# ---- contrast and brightness ----------------------------------------------------------------

def test_contrast_is_keras_on_the_drawn_factors():
    x = images(n=200, h=3, w=4, c=3) * 255
    res = call_dml("nn/layers/random_contrast.dml", "forward", {"X": rows(x)},
                   ["out", "factors"], **sizes(x), lower=0.2, upper=0.4, value_min=0.0,
                   value_max=255.0, seed=9)
    factors = res["factors"].ravel()
    assert 0.8 <= factors.min() < 0.82 and 1.38 < factors.max() <= 1.4
    layer = L.RandomContrast((0.2, 0.4))
    expected = layer.transform_images(
        x, {"contrast_factor": factors.reshape(-1, 1, 1, 1).astype(np.float32)}, training=True)
    assert_close(res["out"], rows(expected), tol=1e-3)  # pixel values up to 255 in float32
    assert 0.0 < (res["out"] == 255.0).mean() < 0.5  # the stretched values are clipped


def test_contrast_with_one_factor_is_keras():
    x = images(h=4, w=4, c=3)
    layer = L.RandomContrast((-0.3, 0.3), value_range=(0, 1))  # factor 1.3 for every image
    res = call_dml("nn/layers/random_contrast.dml", "forward", {"X": rows(x)},
                   ["out", "factors"], **sizes(x), lower=-0.3, upper=0.3, value_min=0.0, value_max=1.0, seed=2)
    assert_close(res["out"], _layer_in_training(layer, x))


def test_brightness_is_keras_on_the_drawn_shifts():
    x = images(n=300, h=2, w=3, c=3)
    res = call_dml("nn/layers/random_brightness.dml", "forward", {"X": rows(x)},
                   ["out", "delta"], lower=-0.3, upper=0.1, value_min=0.0, value_max=1.0,
                   seed=12)
    delta = res["delta"].ravel()
    assert -0.3 <= delta.min() < -0.29 and 0.09 < delta.max() <= 0.1
    out = res["out"]
    assert out.min() == 0.0 and out.max() <= 1.0 and (out == 1.0).any()  # clipped both ways
    layer = L.RandomBrightness((-0.3, 0.1), value_range=(0, 1))
    expected = layer.transform_images(x, {"rgb_delta": delta.reshape(-1, 1, 1, 1)},
                                      training=True)
    assert_close(out, rows(expected))


def test_brightness_shift_scales_with_the_value_range():
    x = images(n=50, h=2, w=2, c=1) * 255
    delta = call_dml("nn/layers/random_brightness.dml", "forward", {"X": rows(x)},
                     ["out", "delta"], lower=0.1, upper=0.2, value_min=0.0, value_max=255.0, seed=1)["delta"]
    assert 25.5 <= delta.min() and delta.max() <= 51.0
