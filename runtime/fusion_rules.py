"""The rules of fusion across statements (statement_fusion.py): which pairs of dml_lib calls
fuse, what the fused statement reads, and the kernel computing what both statements would set.

A rule is a function (the calls..., dying) -> Plan or None, registered in RULES under the
functions it joins; dying[k] holds the names the k-th statement reads for the last time
(liveness.py), so a rule keeps an intermediate exactly when a later statement reads it. Its
kernel takes the values of the plan's reads and returns the variables to set, or None when the
values are not what it handles (the plain statements then run and report any mistake).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import nodes as n
from .builtins.dnn import conv2d_bias_epilogue, conv2d_bias_fits
from .intrinsics import batch_norm_test_mode
from .errors import DMLRuntimeError
from .liveness import names_read
from .local.fused_pooling import max_pool_backward_relu, relu_max_pool
from .local.normalization import batch_norm_inference
from .local.conv import PoolInto
from .local.scratch import scratch
from .local.geometry import pool_geom

POOL_GEOMETRY = ("C", "Hin", "Win", "Hf", "Wf", "strideh", "stridew", "padh", "padw")
# forward_padded / backward_padded name their padding per side; symmetric padding is forward's
PADDED_NAMES = {"padh": "padtop", "padw": "padleft"}
PADDED_EXTRA = ("padbottom", "padright")
Dying = list[frozenset[str]]


@dataclass(frozen=True)
class LibraryCall:
    """A statement `outputs = ns::function(args)` calling a function of dml_lib's own text."""
    function: tuple[str, str]           # ("nn/layers/relu.dml", "forward")
    outputs: dict[str, str]             # the function's output name -> the variable it sets
    args: dict[str, n.Node]             # parameter name -> argument expression
    statement: n.Node


def _ints(values) -> bool:
    return all(type(v) is int for v in values)


def _floats(*arrays) -> bool:
    return (all(type(a) is np.ndarray and a.ndim == 2 for a in arrays)
            and len({a.dtype for a in arrays}) == 1 and arrays[0].dtype.kind == "f")


def _pool_geometry(shape, values: dict):
    """The pool geometry of the arguments, or None when the plain call should run."""
    geometry = [values[p] for p in POOL_GEOMETRY]
    if not _ints(geometry):
        return None
    C, Hin, Win, Hf, Wf, sh, sw, ph, pw = geometry
    if values.get("padbottom", ph) != ph or values.get("padright", pw) != pw \
            or not _ints([values.get("padbottom", 0), values.get("padright", 0)]):
        return None                     # asymmetric padding: the plain padded path
    try:
        g = pool_geom("max_pool", [shape[0], C, Hin, Win], [Hf, Wf], [sh, sw], [ph, pw])
    except DMLRuntimeError:
        return None
    return g if shape[1] == g.in_cols and shape[0] > 0 else None


def _geometry_args(pool: LibraryCall) -> dict[str, n.Node] | None:
    """The pool call's geometry arguments under forward's parameter names (a padded call's
    padbottom and padright too), or None when one is missing."""
    padded = pool.function[1].endswith("_padded")
    names = {p: PADDED_NAMES.get(p, p) if padded else p for p in POOL_GEOMETRY}
    if padded:
        names.update({p: p for p in PADDED_EXTRA})
    if any(name not in pool.args for name in names.values()):
        return None
    return {role: pool.args[name] for role, name in names.items()}


def _reads_name(expressions, *names: str) -> bool:
    return any(not names_read(e).isdisjoint(names) for e in expressions)


@dataclass(frozen=True)
class Plan:
    """What a matched pair reads (role -> expression) and computes from those values: a dict of
    the variables to set, or None for the plain statements."""
    name: str
    reads: dict[str, n.Node]
    kernel: Callable[[dict], dict | None]
    replaces: str


def _relu_max_pool(relu: LibraryCall, pool: LibraryCall, dying: Dying) -> Plan | None:
    middle = relu.outputs.get("out")
    X, geometry = pool.args.get("X"), _geometry_args(pool)
    if middle is None or geometry is None or not (isinstance(X, n.Var) and X.name == middle) \
            or _reads_name(geometry.values(), middle):
        return None
    keep = middle not in dying[1]
    outputs = pool.outputs

    def kernel(values: dict) -> dict | None:
        X = values["X"]
        if not _floats(X):
            return None
        g = _pool_geometry(X.shape, values)
        if g is None:
            return None
        pooled, relu_matrix = relu_max_pool(X, g, keep)
        result = {outputs[k]: v for k, v in (("out", pooled), ("Hout", g.Ho), ("Wout", g.Wo))
                  if k in outputs}
        if keep:
            result[middle] = relu_matrix
        return result
    reads = {"X": relu.args["X"], **geometry}
    return Plan("relu+max_pool", reads, kernel, f"relu::forward, max_pool2d::{pool.function[1]}")


def _max_pool_backward_relu(pool: LibraryCall, relu: LibraryCall,
                            dying: Dying) -> Plan | None:
    middle = pool.outputs.get("dX")
    dout, geometry = relu.args.get("dout"), _geometry_args(pool)
    if middle is None or middle not in dying[1] or not (isinstance(dout, n.Var) and dout.name == middle) \
            or geometry is None or "X" not in relu.args or _reads_name([relu.args["X"]], middle) \
            or "X" not in pool.args or "dout" not in pool.args:
        return None
    output = relu.outputs.get("dX")

    def kernel(values: dict) -> dict | None:
        X, gradient, signs = values["X"], values["dout"], values["signs"]
        if not _floats(X, gradient, signs) or signs.shape != X.shape:
            return None
        g = _pool_geometry(X.shape, values)
        if g is None or gradient.shape != (g.N, g.out_cols):
            return None
        result = max_pool_backward_relu(X, gradient, signs, g)
        return {output: result} if output is not None else {}
    reads = {"X": pool.args["X"], "dout": pool.args["dout"], "signs": relu.args["X"], **geometry}
    return Plan("max_pool_backward+relu_backward", reads, kernel,
                f"max_pool2d::{pool.function[1]}, relu::backward")


CONV_GEOMETRY = ("C", "Hin", "Win", "Hf", "Wf", "strideh", "stridew", "padh", "padw")


def _conv_relu(conv: LibraryCall, relu: LibraryCall, dying: Dying) -> Plan | None:
    """conv2d::forward then relu::forward of its output: the relu runs on each chunk of the
    convolution's result as it is written (in place when nothing reads the convolution later)."""
    return _convolution_plan(conv, relu, None, dying)


def _conv_relu_max_pool(conv: LibraryCall, relu: LibraryCall, pool: LibraryCall,
                        dying: Dying) -> Plan | None:
    """conv2d::forward, relu::forward, max_pool2d::forward: relu and pool on each chunk."""
    return _convolution_plan(conv, relu, pool, dying)


def _convolution_plan(conv, relu, pool, dying) -> Plan | None:
    convolved, activated = conv.outputs.get("out"), relu.outputs.get("out")
    if convolved is None or not _reads_only(relu.args.get("X"), convolved) \
            or any(p not in conv.args for p in CONV_GEOMETRY + ("X", "W", "b")):
        return None
    geometry, derived = None, {}
    if pool is not None:
        geometry = _geometry_args(pool)
        if activated is None or geometry is None or not _reads_only(pool.args.get("X"), activated):
            return None
        # the pool's sizes may be the convolution's Hout and Wout: known once it is planned
        sizes = {name: output for output, name in conv.outputs.items() if output != "out"}
        derived = {role: sizes[e.name] for role, e in geometry.items()
                   if isinstance(e, n.Var) and e.name in sizes}
        geometry = {role: e for role, e in geometry.items() if role not in derived}
        if _reads_name(geometry.values(), activated) \
                or _reads_name(geometry.values(), *conv.outputs.values()):
            return None
    keep_convolution = convolved not in dying[1]
    keep_relu = pool is None or activated not in dying[2]

    def kernel(values: dict) -> dict | None:
        shapes = _conv_shapes(values)
        if shapes is None:
            return None
        values.update({"pool " + role: shapes[size] for role, size in derived.items()})
        pooling = None if pool is None else _pool_after_conv(shapes, values)
        if pool is not None and pooling is None:
            return None
        try:
            found = conv2d_relu_pool(values["X"], values["W"], values["b"], keep_convolution,
                                     keep_relu, pooling, shapes)
        except DMLRuntimeError:
            return None
        if found is None:
            return None
        convolution, relu_matrix, pooled = found
        result = _named(conv.outputs, out=convolution, Hout=shapes["Hout"], Wout=shapes["Wout"])
        result.update(_named(relu.outputs, out=relu_matrix))
        if pool is not None:
            result.update(_named(pool.outputs, out=pooled, Hout=pooling.Ho, Wout=pooling.Wo))
        return {name: value for name, value in result.items() if value is not None}
    reads = {p: conv.args[p] for p in CONV_GEOMETRY + ("X", "W", "b")}
    if pool is None:
        return Plan("conv2d+bias_add+relu", reads, kernel, "conv2d::forward, relu::forward")
    reads.update({"pool " + role: e for role, e in geometry.items()})
    return Plan("conv2d+bias_add+relu+max_pool", reads, kernel,
                f"conv2d::forward, relu::forward, max_pool2d::{pool.function[1]}")


def _reads_only(expression, name: str) -> bool:
    return isinstance(expression, n.Var) and expression.name == name


def _named(outputs: dict[str, str], **values) -> dict:
    """The statement's variables for the function's output values."""
    return {outputs[k]: v for k, v in values.items() if k in outputs}


def _conv_shapes(values: dict) -> dict | None:
    """conv2d's shape arguments (and Hout, Wout) from conv2d::forward's, or None."""
    geometry = [values[p] for p in CONV_GEOMETRY]
    X, W, b = values["X"], values["W"], values["b"]
    if not _ints(geometry) or not _floats(X, W, b):
        return None
    C, Hin, Win, Hf, Wf, sh, sw, ph, pw = geometry
    if min(sh, sw) < 1:
        return None
    return dict(input_shape=[X.shape[0], C, Hin, Win], filter_shape=[W.shape[0], C, Hf, Wf],
                stride=[sh, sw], padding=[ph, pw], Hout=(Hin + 2 * ph - Hf) // sh + 1,
                Wout=(Win + 2 * pw - Wf) // sw + 1)


def _pool_after_conv(shapes: dict, values: dict):
    """The pool's geometry when it pools the convolution's output as it is, else None."""
    pool_values = {role[5:]: v for role, v in values.items() if role.startswith("pool ")}
    N, F = shapes["input_shape"][0], shapes["filter_shape"][0]
    if [pool_values.get(k) for k in ("C", "Hin", "Win")] != [F, shapes["Hout"], shapes["Wout"]] \
            or min(shapes["Hout"], shapes["Wout"]) < 1:
        return None
    return _pool_geometry((N, F * shapes["Hout"] * shapes["Wout"]), pool_values)


BATCH_NORM_ARGS = ("X", "gamma", "beta", "C", "Hin", "Win", "mode", "ema_mean", "ema_var",
                   "epsilon", "center", "scale")


def _batch_norm_relu(norm: LibraryCall, relu: LibraryCall, dying: Dying) -> Plan | None:
    """batch_norm2d::forward with fixed statistics (mode "test"), then relu::forward of its
    output, which nothing reads later: one pass over the images (runtime/local/normalization)."""
    normalized = norm.outputs.get("out")
    if normalized is None or normalized not in dying[1] \
            or not _reads_only(relu.args.get("X"), normalized) \
            or any(p not in norm.args for p in BATCH_NORM_ARGS):
        return None

    def kernel(values: dict) -> dict | None:
        arguments = batch_norm_test_mode(values)
        if arguments is None:
            return None
        result = _named(norm.outputs, ema_mean_upd=values["ema_mean"], ema_var_upd=values["ema_var"])
        result.pop(normalized, None)
        result.update(_named(relu.outputs, out=batch_norm_inference(**arguments, relu=True)))
        return result
    reads = {p: norm.args[p] for p in BATCH_NORM_ARGS}
    return Plan("batch_norm+relu", reads, kernel, "batch_norm2d::forward, relu::forward")


RELU, POOL = "nn/layers/relu.dml", "nn/layers/max_pool2d.dml"
CONV, BATCH_NORM = "nn/layers/conv2d.dml", "nn/layers/batch_norm2d.dml"
RULES = {
    ((CONV, "forward"), (RELU, "forward"), (POOL, "forward")): _conv_relu_max_pool,
    ((CONV, "forward"), (RELU, "forward"), (POOL, "forward_padded")): _conv_relu_max_pool,
    ((CONV, "forward"), (RELU, "forward")): _conv_relu,
    ((RELU, "forward"), (POOL, "forward")): _relu_max_pool,
    ((RELU, "forward"), (POOL, "forward_padded")): _relu_max_pool,
    ((POOL, "backward"), (RELU, "backward")): _max_pool_backward_relu,
    ((POOL, "backward_padded"), (RELU, "backward")): _max_pool_backward_relu,
    ((BATCH_NORM, "forward"), (RELU, "forward")): _batch_norm_relu,
}


def conv2d_relu_pool(X, W, bias, keep_convolution: bool, keep_relu: bool, pooling, shapes):
    """(convolution, relu, pooled) of bias_add(conv2d(X, W), bias), each None when not asked
    for (a matrix nothing reads later): relu (and max_pool with the geometry `pooling`) run on
    each chunk of images as the convolution writes it; when the convolution is not kept, the
    relu is stored by the convolution's kernels in its own buffer (and pooled from their
    registers where they can: LeNet's first layer). None when the arguments are not what the
    fused convolution takes."""
    if not conv2d_bias_fits(X, W, bias):
        return None
    N, F = shapes["input_shape"][0], shapes["filter_shape"][0]
    cols = F * max(shapes["Hout"], 0) * max(shapes["Wout"], 0)
    pool = None if pooling is None else \
        PoolInto(pooling, np.empty((N, pooling.out_cols), dtype=X.dtype))
    arguments = {k: shapes[k] for k in ("input_shape", "filter_shape", "stride", "padding")}
    if not keep_convolution:
        # its buffer takes the relu, which the kernels store
        relu = conv2d_bias_epilogue(X, W, bias, None, relu=True, pool=pool,
                                    keep=pool is None or keep_relu, **arguments)
        return None, relu if keep_relu else None, None if pool is None else pool.out
    relu = np.empty((N, cols), dtype=X.dtype) if keep_relu else None

    def epilogue(first: int, last: int, chunk: np.ndarray) -> None:
        target = relu[first:last] if relu is not None else \
            scratch("conv_relu", (last - first, cols), X.dtype)
        np.maximum(chunk.reshape(last - first, cols), X.dtype.type(0), out=target)
        if pool is not None:
            pool.after(None)(first, last, target)
    convolution = conv2d_bias_epilogue(X, W, bias, epilogue, **arguments)
    return convolution, relu, None if pool is None else pool.out
