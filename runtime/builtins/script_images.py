"""Image builtins that SystemDS writes in DML (scripts/builtin), done natively: img_mirror,
img_invert, img_brightness and their _linearized variants."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..values import dims, to_bool, to_double, to_int
from .aggregates import (max_, min_)
from .registry import script_builtin
from .script_args import minus, plus, matrix_arg


# ---- images -----------------------------------------------------------------------------------

@script_builtin("img_mirror")
def img_mirror(img_in, horizontal_axis):
    """The image upside down (horizontal_axis=TRUE: its rows reversed) or left to right."""
    image = matrix_arg(img_in, "img_mirror", "img_in")
    if to_bool(horizontal_axis, "img_mirror: horizontal_axis"):
        return np.ascontiguousarray(image[::-1])
    return np.ascontiguousarray(image[:, ::-1])


@script_builtin("img_mirror_linearized")
def img_mirror_linearized(img_matrix, horizontal_axis, original_rows, original_cols):
    """img_mirror of each row, a original_rows x original_cols image stored row by row."""
    images = matrix_arg(img_matrix, "img_mirror_linearized", "img_matrix")
    rows = to_int(original_rows, "img_mirror_linearized: original_rows")
    cols = to_int(original_cols, "img_mirror_linearized: original_cols")
    if rows < 1 or cols < 1 or rows * cols != images.shape[1]:
        raise DMLRuntimeError(f"img_mirror_linearized: each row of img_matrix must hold a "
                              f"{rows}x{cols} image ({rows * cols} columns), got {dims(images)}")
    stacked = images.reshape(images.shape[0], rows, cols)
    flipped = stacked[:, ::-1] if to_bool(horizontal_axis, "img_mirror_linearized: horizontal_axis") \
        else stacked[:, :, ::-1]
    return np.ascontiguousarray(flipped).reshape(images.shape)


@script_builtin("img_invert", "img_invert_linearized")
def img_invert(img_in, max_value):
    """max_value - img_in, for images whose pixel values lie in 0..max_value."""
    return minus(to_double(max_value, "img_invert: max_value"), matrix_arg(img_in, "img_invert", "img_in"))


@script_builtin("img_brightness", "img_brightness_linearized")
def img_brightness(img_in, value, channel_max):
    """img_in + value, clipped to 0..channel_max."""
    image = matrix_arg(img_in, "img_brightness", "img_in")
    brighter = plus(image, to_double(value, "img_brightness: value"))
    return max_(0, min_(brighter, to_int(channel_max, "img_brightness: channel_max")))
