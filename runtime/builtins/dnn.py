"""DML's deep-learning builtins: conv2d and its two gradients, max/avg pooling and their
gradients, bias_add and bias_multiply, over the numpy kernels in runtime/local/dnn.py.

As in SystemDS, the matrices are the leading positional arguments and the geometry is given by
name, each as a list: input_shape=[N, C, H, W], filter_shape=[F, C, Hf, Wf] (convolutions),
pool_size=[Hp, Wp] (pooling), stride=[sh, sw], padding=[ph, pw]; all of them are required.
SystemDS also takes each list spelled out element by element (input_shape1=N, input_shape2=C,
..., stride1=sh, stride2=sw), and so do we.

A batch of images is an N x (C*H*W) matrix, one image per row; the output of a convolution is
N x (F*Hout*Wout) and of a pooling N x (C*Hout*Wout), with Hout = (H + 2*ph - Hf) %/% sh + 1
(likewise Wout). The shapes are checked against the matrices before anything is computed.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..errors import DMLRuntimeError
from ..local import dnn as kernels
from ..values import is_matrix, require_matrix, type_name
from .registry import builtin

_LENGTHS = {"input_shape": 4, "filter_shape": 4, "pool_size": 2, "stride": 2, "padding": 2}
_SPELLED = {"input_shape": "[N, C, H, W]", "filter_shape": "[F, C, Hf, Wf]",
            "pool_size": "[Hp, Wp]", "stride": "[sh, sw]", "padding": "[ph, pw]"}
CONV_SHAPES = ("input_shape", "filter_shape", "stride", "padding")
POOL_SHAPES = ("input_shape", "pool_size", "stride", "padding")


def _shape_parameters(*names: str):
    """Declares the builtin's named shape arguments, each as a list (`stride`) or spelled out
    (`stride1`, `stride2`), as keyword-only parameters of its signature, so that calls are
    checked before the program runs; the function receives them as **shapes."""
    def decorate(function):
        signature = inspect.signature(function)
        leading = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        named = []
        for name in names:
            spellings = [name] + [f"{name}{k}" for k in range(1, _LENGTHS[name] + 1)]
            named += [inspect.Parameter(s, inspect.Parameter.KEYWORD_ONLY, default=None)
                      for s in spellings]
        function.__signature__ = signature.replace(parameters=leading + named)
        return function
    return decorate


def _show(values) -> str:
    return "[" + ", ".join(map(_describe, values)) + "]"


def _shape(function: str, name: str, shapes: dict) -> tuple[int, ...]:
    """One shape argument as a tuple of ints, from the list or from its spelled-out elements."""
    count = _LENGTHS[name]
    listed = shapes.get(name)
    parts = [shapes.get(f"{name}{k}") for k in range(1, count + 1)]
    if listed is not None:
        if any(p is not None for p in parts):
            raise DMLRuntimeError(f"{function}: give {name}={_SPELLED[name]} or {name}1..{name}{count}, "
                                  "not both")
        if not isinstance(listed, list):
            raise DMLRuntimeError(f"{function}: {name} must be a list {_SPELLED[name]}, "
                                  f"got {type_name(listed)}")
        items = listed
        if len(items) != count:
            raise DMLRuntimeError(f"{function}: {name} must have {count} values "
                                  f"{_SPELLED[name]}, got {len(items)}: {_show(items)}")
    else:
        missing = [f"{name}{k}" for k, p in enumerate(parts, 1) if p is None]
        if len(missing) == count:
            raise DMLRuntimeError(f"{function}: missing argument {name}={_SPELLED[name]}")
        if missing:
            raise DMLRuntimeError(f"{function}: {name} is given element by element, but "
                                  f"{', '.join(missing)} is missing")
        items = parts
    values = []
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.number)):
            raise DMLRuntimeError(f"{function}: {name} must hold integers {_SPELLED[name]}, "
                                  f"got {type_name(item)} in {_show(items)}")
        if isinstance(item, (float, np.floating)) and not (np.isfinite(item) and float(item).is_integer()):
            raise DMLRuntimeError(f"{function}: {name} must hold integers {_SPELLED[name]}, "
                                  f"got {_show(items)}")
        values.append(int(item))
    lowest = 0 if name == "padding" else 1
    if min(values) < lowest:
        rule = "must not be negative" if lowest == 0 else "must be positive"
        raise DMLRuntimeError(f"{function}: {name} values {rule}, got {_show(values)}")
    return tuple(values)


def _describe(item) -> str:
    """A list element as messages show it: numbers as written, other values by their type."""
    if isinstance(item, (int, float, np.number)) and not isinstance(item, (bool, np.bool_)):
        return str(item)
    return type_name(item)


def _require_dims(function: str, name: str, matrix: np.ndarray, rows: int, cols: int,
                  source: str, layout: str) -> None:
    if matrix.shape != (rows, cols):
        raise DMLRuntimeError(f"{function}: {name} is {matrix.shape[0]}x{matrix.shape[1]}, but "
                              f"{source} needs {rows}x{cols} ({layout})")


def _output_size(function: str, extent: int, pad: int, window: int, stride: int,
                 axis: str, window_name: str) -> int:
    if extent + 2 * pad < window:
        raise DMLRuntimeError(f"{function}: the padded image {axis} {extent + 2 * pad} "
                              f"({'H' if axis == 'height' else 'W'}={extent}, padding {pad}) is "
                              f"smaller than the {window_name} {axis} {window}")
    return (extent + 2 * pad - window) // stride + 1


class Geometry:
    """The checked shape arguments of one call, and the sizes they imply."""

    def __init__(self, function: str, shapes: dict, names: tuple[str, ...]):
        self.function = function
        self.given = {name: _shape(function, name, shapes) for name in names}
        self.N, self.C, self.H, self.W = self.given["input_shape"]
        if "filter_shape" in self.given:
            self.F, filter_channels, kh, kw = self.given["filter_shape"]
            if filter_channels != self.C:
                raise DMLRuntimeError(
                    f"{function}: filter_shape={_show(self.given['filter_shape'])} has C="
                    f"{filter_channels} channels, but input_shape={_show(self.given['input_shape'])} "
                    f"has C={self.C}")
            window_name = "filter"
        else:
            self.F = self.C
            kh, kw = self.given["pool_size"]
            window_name = "pool"
        sh, sw = self.given["stride"]
        ph, pw = self.given["padding"]
        self.Hout = _output_size(function, self.H, ph, kh, sh, "height", window_name)
        self.Wout = _output_size(function, self.W, pw, kw, sw, "width", window_name)
        self.kernel_cells = kh * kw

    def shown(self, name: str) -> str:
        return f"{name}={_show(self.given[name])}"

    def check_input(self, name: str, X: np.ndarray) -> None:
        _require_dims(self.function, name, X, self.N, self.C * self.H * self.W,
                      self.shown("input_shape"), "N rows, C*H*W columns")

    def check_filter(self, name: str, K: np.ndarray) -> None:
        _require_dims(self.function, name, K, self.F, self.C * self.kernel_cells,
                      self.shown("filter_shape"), "F rows, C*Hf*Wf columns")

    def check_dout(self, dout: np.ndarray) -> None:
        convolution = "filter_shape" in self.given
        forward = "conv2d" if convolution else self.function.replace("_backward", "")
        channels = "F" if convolution else "C"
        _require_dims(self.function, "dout", dout, self.N, self.F * self.Hout * self.Wout,
                      f"the output of {forward} for these shapes",
                      f"N rows, {channels}*Hout*Wout columns; Hout={self.Hout}, Wout={self.Wout}")

    def arguments(self) -> dict:
        return {name: list(values) for name, values in self.given.items()}


def _fresh(result: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    """The result as a writable array of its own (left indexing may write into it later)."""
    if not result.flags.writeable or any(np.may_share_memory(result, x) for x in inputs):
        return result.copy()
    return result


# ---- convolution ----------------------------------------------------------------------------

@builtin("conv2d")
@_shape_parameters(*CONV_SHAPES)
def conv2d(input, filter, **shapes):
    return _convolution(input, filter, shapes)


@_shape_parameters(*CONV_SHAPES)
def conv2d_bias_add(input, filter, bias, **shapes):
    """bias_add(conv2d(input, filter, ...), bias) in one pass (runtime/fusion.py): the bias is
    added as the convolution's chunks are written. Any bias the kernel does not take as it is
    (not F x 1, another dtype) goes the plain way, with bias_add's checks and messages."""
    if not _bias_fits(input, filter, bias):
        return bias_add(_convolution(input, filter, shapes), bias)
    return _convolution(input, filter, shapes, bias)


def _convolution(input, filter, shapes: dict, bias=None) -> np.ndarray:
    function = "conv2d"
    X, K = require_matrix(input, f"{function}: input"), require_matrix(filter, f"{function}: filter")
    geometry = Geometry(function, shapes, CONV_SHAPES)
    geometry.check_input("input", X)
    geometry.check_filter("filter", K)
    return _fresh(kernels.conv2d(X, K, **geometry.arguments(), bias=bias), X, K)


def _bias_fits(X, K, bias) -> bool:
    return (is_matrix(X) and is_matrix(K) and is_matrix(bias) and bias.ndim == 2
            and bias.shape == (K.shape[0], 1) and X.dtype == K.dtype == bias.dtype
            and X.dtype.kind == "f")


@builtin("conv2d_backward_filter")
@_shape_parameters(*CONV_SHAPES)
def conv2d_backward_filter(input, dout, **shapes):
    function = "conv2d_backward_filter"
    X, dY = require_matrix(input, f"{function}: input"), require_matrix(dout, f"{function}: dout")
    geometry = Geometry(function, shapes, CONV_SHAPES)
    geometry.check_input("input", X)
    geometry.check_dout(dY)
    return _fresh(kernels.conv2d_backward_filter(X, dY, **geometry.arguments()), X, dY)


@builtin("conv2d_backward_data")
@_shape_parameters(*CONV_SHAPES)
def conv2d_backward_data(filter, dout, **shapes):
    function = "conv2d_backward_data"
    K, dY = require_matrix(filter, f"{function}: filter"), require_matrix(dout, f"{function}: dout")
    geometry = Geometry(function, shapes, CONV_SHAPES)
    geometry.check_filter("filter", K)
    geometry.check_dout(dY)
    return _fresh(kernels.conv2d_backward_data(K, dY, **geometry.arguments()), K, dY)


# ---- pooling --------------------------------------------------------------------------------

def _pool(function: str, kernel, input, shapes: dict) -> np.ndarray:
    X = require_matrix(input, f"{function}: input")
    geometry = Geometry(function, shapes, POOL_SHAPES)
    geometry.check_input("input", X)
    return _fresh(kernel(X, **geometry.arguments()), X)


def _pool_backward(function: str, kernel, input, dout, shapes: dict) -> np.ndarray:
    X, dY = require_matrix(input, f"{function}: input"), require_matrix(dout, f"{function}: dout")
    geometry = Geometry(function, shapes, POOL_SHAPES)
    geometry.check_input("input", X)
    geometry.check_dout(dY)
    return _fresh(kernel(X, dY, **geometry.arguments()), X, dY)


@builtin("max_pool")
@_shape_parameters(*POOL_SHAPES)
def max_pool(input, **shapes):
    return _pool("max_pool", kernels.max_pool, input, shapes)


@builtin("avg_pool")
@_shape_parameters(*POOL_SHAPES)
def avg_pool(input, **shapes):
    return _pool("avg_pool", kernels.avg_pool, input, shapes)


@builtin("max_pool_backward")
@_shape_parameters(*POOL_SHAPES)
def max_pool_backward(input, dout, **shapes):
    return _pool_backward("max_pool_backward", kernels.max_pool_backward, input, dout, shapes)


@builtin("avg_pool_backward")
@_shape_parameters(*POOL_SHAPES)
def avg_pool_backward(input, dout, **shapes):
    return _pool_backward("avg_pool_backward", kernels.avg_pool_backward, input, dout, shapes)


# ---- bias -----------------------------------------------------------------------------------

def _bias(function: str, kernel, input, bias) -> np.ndarray:
    X, b = require_matrix(input, f"{function}: input"), require_matrix(bias, f"{function}: bias")
    if b.shape[1] != 1 or b.shape[0] == 0:
        raise DMLRuntimeError(f"{function}: bias must be a column vector (C x 1, one value per "
                              f"channel), got {b.shape[0]}x{b.shape[1]}")
    if X.shape[1] % b.shape[0] != 0:
        raise DMLRuntimeError(f"{function}: input has {X.shape[1]} columns, which is not C*H*W "
                              f"for the C={b.shape[0]} channels of bias ({b.shape[0]}x1)")
    return _fresh(kernel(X, b), X, b)


@builtin("bias_add")
def bias_add(input, bias):
    """input (N x C*H*W) plus bias[c] (bias is C x 1) on every cell of channel c."""
    return _bias("bias_add", kernels.bias_add, input, bias)


@builtin("bias_multiply")
def bias_multiply(input, bias):
    """input (N x C*H*W) times bias[c] (bias is C x 1) on every cell of channel c."""
    return _bias("bias_multiply", kernels.bias_multiply, input, bias)
