"""The DNN builtins on a distributed batch: images are rows, so conv2d, pooling and bias_add are
row-local. Each row panel goes through the local builtin (runtime/builtins/dnn.py, over the
numpy kernels) with input_shape's N set to the panel's row count; the weights are broadcast.

conv2d_backward_filter sums the per-panel filter gradients (a small F x C*Hf*Wf result, local);
the other gradients are row-local too, pairing the panels of input and dout by row block.

dml_lib's conv2d_depthwise forward and backward, which the local runtime runs as one kernel call
(runtime/intrinsics.py), run the same way under their labels: the kernel on each row panel (the
backward's X and dout paired), the filters broadcast, the filter and bias gradients summed.
"""
from __future__ import annotations

from functools import partial

from .. import intrinsics
from ..builtins import BUILTINS
from ..builtins.dnn import call_geometry
from ..errors import DMLRuntimeError
from ..local.geometry import CONV_SHAPES, POOL_SHAPES
from .lease import Lease
from .matrix import DistributedMatrix, from_panels, is_matrix_operand, pair_by_key
from .registry import operation

# builtin -> (shape arguments, which positional argument is the batch, what the output is)
_BATCH_OPS = {
    "conv2d": (CONV_SHAPES, "input"),
    "max_pool": (POOL_SHAPES, "input"),
    "avg_pool": (POOL_SHAPES, "input"),
    "conv2d_backward_data": (CONV_SHAPES, "dout"),
    "max_pool_backward": (POOL_SHAPES, "both"),
    "avg_pool_backward": (POOL_SHAPES, "both"),
    "conv2d_backward_filter": (CONV_SHAPES, "both"),
}


def _geometry(name: str, matrices, shapes: dict):
    geometry = call_geometry(name, shapes, _BATCH_OPS[name][0])
    batch = _BATCH_OPS[name][1]
    if name == "conv2d":
        geometry.input(matrices[0])
        geometry.filter(matrices[1])
    elif name == "conv2d_backward_data":
        geometry.filter(matrices[0])
        geometry.dout(matrices[1])
    else:
        geometry.input(matrices[0])
        if batch == "both":
            geometry.dout(matrices[1])
    return geometry


def _output(name, geometry) -> tuple[int, int]:
    if name == "conv2d_backward_filter":
        return geometry.F, geometry.C * geometry.kernel_cells
    if name in ("max_pool_backward", "avg_pool_backward", "conv2d_backward_data"):
        return geometry.N, geometry.C * geometry.H * geometry.W
    return geometry.N, geometry.F * geometry.Ho * geometry.Wo


def _accepts(name, *matrices, **shapes) -> bool:
    if not all(is_matrix_operand(m) for m in matrices):
        return False
    try:
        _geometry(name, matrices, shapes)
    except DMLRuntimeError:  # the local builtin reports bad shapes with its own message
        return False
    return True


def _estimate(name, *matrices, **shapes):
    return _output(name, _geometry(name, matrices, shapes))


# ---- executor-side ---------------------------------------------------------------------------

def _with_rows(arguments: dict, rows: int) -> dict:
    shaped = dict(arguments)
    shaped["input_shape"] = [rows] + list(arguments["input_shape"][1:])
    return shaped


def _one_panel(name, arguments, weights, item):
    i, panel = item
    kwargs = _with_rows(arguments, panel.shape[0])
    function = BUILTINS[name].function
    if name == "conv2d":
        return i, function(panel, weights.value, **kwargs)
    if name == "conv2d_backward_data":
        return i, function(weights.value, panel, **kwargs)
    return i, function(panel, **kwargs)


def _two_panels(name, arguments, item):
    i, (panel, dout) = item
    return i, BUILTINS[name].function(panel, dout, **_with_rows(arguments, panel.shape[0]))


def paired_panels(a: DistributedMatrix, b: DistributedMatrix):
    """(block row, (panel of a, panel of b)) for two matrices with the same rows."""
    partitions = max(a.rdd.getNumPartitions(), b.rdd.getNumPartitions())
    return pair_by_key(a.panels(), b.panels(), partitions)


# ---- the operations ---------------------------------------------------------------------------

def _register(name: str):
    def run(runtime, *matrices, **shapes):
        geometry = _geometry(name, matrices, shapes)
        arguments, (rows, cols) = geometry.arguments(), _output(name, geometry)
        batch = _BATCH_OPS[name][1]
        if batch == "both":
            x, dout = runtime.distribute(matrices[0]), runtime.distribute(matrices[1])
            if x.block != dout.block:
                raise DMLRuntimeError(f"{name}: input and dout are blocked differently")
            panels = paired_panels(x, dout).map(partial(_two_panels, name, arguments))
            if name == "conv2d_backward_filter":
                return panels.values().treeReduce(lambda a, b: a + b)
            return from_panels(panels, rows, cols, x.block, x.dtype, depth=max(x.depth, dout.depth) + 1)
        batch_index = 1 if name == "conv2d_backward_data" else 0
        x = runtime.distribute(matrices[batch_index])
        weights = runtime.broadcast(matrices[1 - batch_index]) if len(matrices) > 1 else None
        panels = x.panels().map(partial(_one_panel, name, arguments, weights), preservesPartitioning=True)
        return from_panels(panels, rows, cols, x.block, x.dtype, depth=x.depth + 1)

    operation(name, accepts=partial(_accepts, name), output=partial(_estimate, name),
              strategy="row-panels, weights broadcast")(run)


for _name in _BATCH_OPS:
    _register(_name)


def _accepts_bias(name, input=None, bias=None) -> bool:
    return (is_matrix_operand(input) and is_matrix_operand(bias) and bias.shape[1] == 1 and bias.shape[0] > 0
            and input.shape[1] % bias.shape[0] == 0)


def _bias_panel(name, bias, item):
    i, panel = item
    return i, BUILTINS[name].function(panel, bias.value)


def _register_bias(name: str):
    def run(runtime, input, bias):
        x = runtime.distribute(input)
        function = partial(_bias_panel, name, runtime.broadcast(bias))
        panels = x.panels().map(function, preservesPartitioning=True)
        return from_panels(panels, x.rows, x.cols, x.block, x.dtype, depth=x.depth + 1)

    operation(name, accepts=partial(_accepts_bias, name), output=lambda input, bias: tuple(input.shape),
              strategy="row-panels, bias broadcast")(run)


for _name in ("bias_add", "bias_multiply"):
    _register_bias(_name)


# ---- dml_lib functions with a library kernel ------------------------------------------------

def _kernel_panel(name, scalars, shared, batch, item):
    """Executor side: the kernel's outputs for one row panel (or pair of panels), the other
    matrices from their broadcasts."""
    i, panels = item
    values = dict(scalars)
    values.update((key, broadcast.value) for key, broadcast in shared.items())
    values.update(zip(batch, panels if len(batch) > 1 else (panels,)))
    outputs = intrinsics.kernel(name)(values)
    if outputs is None:
        raise DMLRuntimeError(f"{name}: its kernel does not take row block {i}")
    return i, outputs


def _kernel_pass(runtime, name, variables: dict, batch: tuple):
    """(block row, the kernel's outputs) for each row panel of the batch variables (two are
    paired by row block), and those variables distributed."""
    matrices = [runtime.distribute(variables[key]) for key in batch]
    if len({m.block for m in matrices}) > 1:
        raise DMLRuntimeError(f"{name}: {' and '.join(batch)} are blocked differently")
    shared = {key: runtime.broadcast(value) for key, value in variables.items()
              if is_matrix_operand(value) and key not in batch}
    scalars = {key: value for key, value in variables.items() if not is_matrix_operand(value)}
    panels = matrices[0].panels() if len(matrices) == 1 else paired_panels(*matrices)
    function = partial(_kernel_panel, name, scalars, shared, batch)
    return panels.map(function, preservesPartitioning=True), matrices


def _first(outputs):
    return outputs[0]


def _filter_parts(outputs):
    return outputs[1], outputs[2]


def _add_pairs(a, b):
    return a[0] + b[0], a[1] + b[1]


def _depthwise_output(geometry, cols: str, **variables):
    g = geometry(variables)
    return g.N, getattr(g, cols)


@operation("conv2d_depthwise::forward",
           accepts=lambda **v: intrinsics.depthwise_geometry(v) is not None,
           output=partial(_depthwise_output, intrinsics.depthwise_geometry, "out_cols"),
           strategy="row-panels, kernel per panel, filters broadcast")
def depthwise_forward(runtime, **variables):
    g = intrinsics.depthwise_geometry(variables)
    outputs, (x,) = _kernel_pass(runtime, "conv2d_depthwise::forward", variables, ("X",))
    out = from_panels(outputs.mapValues(_first), g.N, g.out_cols, x.block, x.dtype,
                      depth=x.depth + 1)
    return [out, g.Ho, g.Wo]


@operation("conv2d_depthwise::backward",
           accepts=lambda **v: intrinsics.depthwise_backward_geometry(v) is not None,
           output=partial(_depthwise_output, intrinsics.depthwise_backward_geometry, "in_cols"),
           strategy="row-panels paired, kernel per panel, filter gradients summed")
def depthwise_backward(runtime, **variables):
    """One pass: each panel's dX is kept (cached) for the lazy dX while its filter and bias
    gradients are summed at once."""
    from pyspark import StorageLevel

    g = intrinsics.depthwise_backward_geometry(variables)
    outputs, (x, dout) = _kernel_pass(runtime, "conv2d_depthwise::backward", variables,
                                      ("X", "dout"))
    outputs.persist(StorageLevel.MEMORY_AND_DISK)
    dW, db = outputs.values().map(_filter_parts).treeReduce(_add_pairs)
    dX = from_panels(outputs.mapValues(_first), g.N, g.in_cols, x.block, x.dtype,
                     depth=max(x.depth, dout.depth) + 1)
    return [dX.holding((Lease(rdds=(outputs,)),)), dW, db]


def _register_plane_copy(function: str):
    """zero_pad2d's padding and cropping: each row panel copied on its own (rows are images)."""
    name = f"zero_pad2d::{function}"
    images = intrinsics.ZERO_PAD_CALLS[function][0]

    def output(**variables):
        copy = intrinsics.plane_copy(function, variables)
        return copy.N, copy.out_cols

    def run(runtime, **variables):
        copy = intrinsics.plane_copy(function, variables)
        outputs, (x,) = _kernel_pass(runtime, name, variables, (images,))
        out = from_panels(outputs.mapValues(_first), copy.N, copy.out_cols, x.block, x.dtype,
                          depth=x.depth + 1)
        return [out, *copy.result] if function in ("forward", "crop") else [out]

    operation(name, accepts=lambda **v: intrinsics.plane_copy(function, v) is not None,
              output=output, strategy="row-panels, planes copied per panel")(run)


for _function in intrinsics.ZERO_PAD_CALLS:
    _register_plane_copy(_function)
