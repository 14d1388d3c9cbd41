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
from ..local.geometry import CONV_SHAPES, LENGTHS, POOL_SHAPES, SPELLED, Geom, conv_geom, pool_geom
from ..values import is_matrix, require_matrix, type_name
from .registry import builtin


def _shape_parameters(*names: str):
    """Declares the builtin's named shape arguments, each as a list (`stride`) or spelled out
    (`stride1`, `stride2`), as keyword-only parameters of its signature, so that calls are
    checked before the program runs; the function receives them as **shapes."""
    def decorate(function):
        signature = inspect.signature(function)
        leading = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        named = []
        for name in names:
            spellings = [name] + [f"{name}{k}" for k in range(1, LENGTHS[name] + 1)]
            named += [inspect.Parameter(s, inspect.Parameter.KEYWORD_ONLY, default=None)
                      for s in spellings]
        function.__signature__ = signature.replace(parameters=leading + named)
        return function
    return decorate


def _listed(function: str, name: str, shapes: dict) -> list:
    """One shape argument as a list, from the list or from its spelled-out elements."""
    count = LENGTHS[name]
    listed = shapes.get(name)
    parts = [shapes.get(f"{name}{k}") for k in range(1, count + 1)]
    if listed is not None:
        if any(p is not None for p in parts):
            raise DMLRuntimeError(f"{function}: give {name}={SPELLED[name]} or {name}1..{name}{count}, "
                                  "not both")
        if not isinstance(listed, list):
            raise DMLRuntimeError(f"{function}: {name} must be a list {SPELLED[name]}, "
                                  f"got {type_name(listed)}")
        return listed
    missing = [f"{name}{k}" for k, p in enumerate(parts, 1) if p is None]
    if len(missing) == count:
        raise DMLRuntimeError(f"{function}: missing argument {name}={SPELLED[name]}")
    if missing:
        raise DMLRuntimeError(f"{function}: {name} is given element by element, but "
                              f"{', '.join(missing)} is missing")
    return parts


def call_geometry(function: str, shapes: dict, names: tuple[str, ...]) -> Geom:
    """The checked geometry of a call from its DML shape arguments; names is CONV_SHAPES or
    POOL_SHAPES."""
    given = [_listed(function, name, shapes) for name in names]
    return (conv_geom if names == CONV_SHAPES else pool_geom)(function, *given)


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
    if not conv2d_bias_fits(input, filter, bias):
        return bias_add(_convolution(input, filter, shapes), bias)
    return _convolution(input, filter, shapes, bias)


def _convolution(input, filter, shapes: dict, bias=None, epilogue=None, relu=False, pool=None,
                 keep=True) -> np.ndarray | None:
    function = "conv2d"
    X, K = require_matrix(input, f"{function}: input"), require_matrix(filter, f"{function}: filter")
    geometry = call_geometry(function, shapes, CONV_SHAPES)
    geometry.input(X)
    geometry.filter(K)
    result = kernels.conv2d(X, K, **geometry.arguments(), bias=bias, epilogue=epilogue,
                            relu=relu, pool=pool, keep=keep)
    return None if result is None else _fresh(result, X, K)


def conv2d_bias_epilogue(input, filter, bias, epilogue, relu=False, pool=None, keep=True, **shapes):
    """conv2d_bias_add of arguments conv2d_bias_fits takes, through relu when `relu`, with
    epilogue(first, last, chunk) run on each chunk of images' results while it is in cache
    (runtime/fusion_rules.py: a relu) and the chunk's max pool `pool` (local/conv.PoolInto);
    None where the result is not kept (`keep`) and the kernels did not write it."""
    return _convolution(input, filter, shapes, bias, epilogue, relu, pool, keep)


def conv2d_bias_fits(X, K, bias) -> bool:
    """Whether conv2d_bias_add (and conv2d_bias_epilogue) take these arguments: a bias of one
    value per filter, all of one float type (else the plain statements run)."""
    return (is_matrix(X) and is_matrix(K) and is_matrix(bias) and bias.ndim == 2
            and bias.shape == (K.shape[0], 1) and X.dtype == K.dtype == bias.dtype
            and X.dtype.kind == "f")


@builtin("conv2d_backward_filter")
@_shape_parameters(*CONV_SHAPES)
def conv2d_backward_filter(input, dout, **shapes):
    function = "conv2d_backward_filter"
    X, dY = require_matrix(input, f"{function}: input"), require_matrix(dout, f"{function}: dout")
    geometry = call_geometry(function, shapes, CONV_SHAPES)
    geometry.input(X)
    geometry.dout(dY)
    return _fresh(kernels.conv2d_backward_filter(X, dY, **geometry.arguments()), X, dY)


@builtin("conv2d_backward_data")
@_shape_parameters(*CONV_SHAPES)
def conv2d_backward_data(filter, dout, **shapes):
    function = "conv2d_backward_data"
    K, dY = require_matrix(filter, f"{function}: filter"), require_matrix(dout, f"{function}: dout")
    geometry = call_geometry(function, shapes, CONV_SHAPES)
    geometry.filter(K)
    geometry.dout(dY)
    return _fresh(kernels.conv2d_backward_data(K, dY, **geometry.arguments()), K, dY)


# ---- pooling --------------------------------------------------------------------------------

def _pool(function: str, kernel, input, shapes: dict) -> np.ndarray:
    X = require_matrix(input, f"{function}: input")
    geometry = call_geometry(function, shapes, POOL_SHAPES)
    geometry.input(X)
    return _fresh(kernel(X, **geometry.arguments()), X)


def _pool_backward(function: str, kernel, input, dout, shapes: dict) -> np.ndarray:
    X, dY = require_matrix(input, f"{function}: input"), require_matrix(dout, f"{function}: dout")
    geometry = call_geometry(function, shapes, POOL_SHAPES)
    geometry.input(X)
    geometry.dout(dY)
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
