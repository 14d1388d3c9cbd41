"""dml_lib functions that the local runtime runs as one kernel call instead of their DML body.

Generated scripts stay plain DML: they source dml_lib's layers and call them, and SystemDS runs
the DML definitions. Some of those definitions are loops over builtins that SystemDS has no
single builtin for (conv2d_depthwise.dml makes one conv2d call per channel: thousands of calls
for an Xception; random_affine.dml builds dense interpolation weights per image, which a sparse
gather replaces; zero_pad2d.dml copies one plane row per loop iteration; batch_norm2d.dml's
inference makes four passes over the images where one does; the optimizers' update() makes one
pass per operation over every parameter; erf.dml (and with it gelu.dml's exact form) sums
erf's power series, four passes per term; layout.dml's image conversions copy one channel per
loop iteration, around every LayerNormalization of images; multi_head_attention.dml's heads run
a dozen statements per sample and head). When a sourced file holds exactly dml_lib's text,
the functions listed here get a kernel (runtime/local/depthwise.py, runtime/local/affine_image.py,
runtime/local/planes.py, runtime/local/normalization.py, runtime/local/optimizers.py,
runtime/local/elementwise.py, runtime/local/layout.py, runtime/local/attention.py) that
computes the same outputs in one call (erf's and GELU's within erf's rounding: the C library's
erf replaces the series; the heads' within the rounding of products summed in another order).

A kernel takes the function's bound arguments and returns its outputs, or None when the
arguments are not what it handles (another dtype, shapes that do not fit, a distributed
matrix); the DML body then runs and reports any mistake in DML's terms. With a planner
(Spark, hybrid) the call is one operation of the plan, named by its label
("conv2d_depthwise::forward"): local, it runs the kernel; on Spark, the distributed operation
registered under that label (runtime/spark/dnn.py) runs the kernel on each row panel of the
batch. Arguments that are distributed but that no operation takes run the DML body, each of
its operations planned. KERASDML_LIBRARY_KERNELS=0 runs the DML bodies always (to measure or
debug them).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .builtins import BUILTINS
from .errors import DMLRuntimeError
from .inplace import free
from .local import affine_image, attention, depthwise, elementwise, layout, optimizers
from .local.geometry import Geom
from .local.normalization import batch_norm_inference, inference_vectors
from .local.planes import PlaneCopy, copy_planes
from .operators import binary_operator
from .values import MatrixHandle

Kernel = Callable[[dict], "list | None"]
SWITCH_VARIABLE = "KERASDML_LIBRARY_KERNELS"


def _same_dtype(*values) -> bool:
    """Floating-point matrices of one dtype, local (numpy) or distributed."""
    matrices = all(isinstance(v, np.ndarray) and v.ndim == 2 or isinstance(v, MatrixHandle)
                   for v in values)
    return (matrices and len({np.dtype(v.dtype) for v in values}) == 1
            and np.dtype(values[0].dtype).kind == "f")


def _local_floats(arrays, same_shape: bool = True) -> bool:
    """Local (numpy) 2-D float matrices of one dtype, and of one shape unless same_shape is
    False."""
    return (all(type(a) is np.ndarray and a.ndim == 2 for a in arrays)
            and len({(a.shape if same_shape else None, a.dtype) for a in arrays}) == 1
            and arrays[0].dtype.kind == "f")


def depthwise_geometry(v: dict) -> Geom | None:
    """The geometry of a conv2d_depthwise::forward call, or None when its arguments do not fit
    it (N is X's rows: a row panel's own)."""
    X, W, b = v["X"], v["W"], v["b"]
    if not _same_dtype(X, W, b):
        return None
    try:
        g = Geom("conv2d_depthwise", [X.shape[0], v["C"], v["Hin"], v["Win"]],
                 (v["Hf"], v["Wf"]), "filter", [v["strideh"], v["stridew"]],
                 [v["padh"], v["padw"]], filters=v["C"] * v["M"])
    except DMLRuntimeError:
        return None
    fits = (v["M"] >= 1 and X.shape == (g.N, g.in_cols) and W.shape == (g.F, g.kh * g.kw)
            and b.shape == (g.F, 1))
    return g if fits else None


def depthwise_backward_geometry(v: dict) -> Geom | None:
    """The geometry of a conv2d_depthwise::backward call, or None."""
    g = depthwise_geometry(v)
    dout = v["dout"]
    if g is None or not _same_dtype(dout, v["X"]) or tuple(dout.shape) != (g.N, g.out_cols) \
            or (v["Hout"], v["Wout"]) != (g.Ho, g.Wo):
        return None
    return g


def _depthwise_forward(v: dict) -> list | None:
    g = depthwise_geometry(v)
    if g is None:
        return None
    return [depthwise.forward(g, v["X"], v["W"], v["b"]), g.Ho, g.Wo]


def _depthwise_backward(v: dict) -> list | None:
    g = depthwise_backward_geometry(v)
    if g is None:
        return None
    dout = v["dout"]
    db = dout.sum(axis=0).reshape(g.F, g.Ho * g.Wo).sum(axis=1, keepdims=True)
    return [depthwise.backward_data(g, v["W"], dout),
            depthwise.backward_filter(g, v["X"], dout), db]


def _affine_image_fits(v: dict, images: str) -> bool:
    """An affine image transform's arguments are what its kernel handles."""
    X, A = v[images], v["A"]
    if not _same_dtype(X, A) or not all(isinstance(v[k], int) and v[k] >= 1 for k in "CHW"):
        return False
    return (X.shape == (A.shape[0], v["C"] * v["H"] * v["W"]) and A.shape[1] == 6
            and v["fill_mode"] in affine_image.FILL_MODES
            and v["interpolation"] in affine_image.INTERPOLATIONS)


def _affine_image_forward(v: dict) -> list | None:
    if not _affine_image_fits(v, "X"):
        return None
    return [affine_image.forward(v["X"], v["A"], v["C"], v["H"], v["W"], v["fill_mode"],
                                 float(v["fill_value"]), v["interpolation"])]


def _affine_image_backward(v: dict) -> list | None:
    if not _affine_image_fits(v, "dout"):
        return None
    return [affine_image.backward(v["dout"], v["A"], v["C"], v["H"], v["W"], v["fill_mode"],
                                  v["interpolation"])]


# zero_pad2d.dml's functions as plane copies: function -> (its matrix argument, whether it pads
# (else it cuts), the prefix of its amounts: "pad" amounts grow Hin x Win, "crop" ones shrink it)
ZERO_PAD_CALLS = {"forward": ("X", True, "pad"), "backward": ("dout", False, "pad"),
                  "crop": ("X", False, "crop"), "crop_backward": ("dout", True, "crop")}


def plane_copy(function: str, v: dict) -> PlaneCopy | None:
    """A zero_pad2d call as the copy it is, or None when its arguments do not describe one
    (the DML body then runs, and its checks speak)."""
    images, pads, amount = ZERO_PAD_CALLS[function]
    X = v[images]
    top, bottom, left, right = (v[amount + side] for side in ("top", "bottom", "left", "right"))
    C, H, W = v["C"], v["Hin"], v["Win"]
    if not _same_dtype(X) or not all(type(n) is int and n >= 0
                                     for n in (top, bottom, left, right, C, H, W)):
        return None
    if amount == "pad":
        inner, outer = (H, W), (H + top + bottom, W + left + right)
    else:
        inner, outer = (H - top - bottom, W - left - right), (H, W)
    copy = PlaneCopy(X.shape[0], C, inner, outer, top, left, pads)
    fits = min(inner) >= 1 and C >= 1 and X.shape[1] == copy.in_cols
    return copy if fits else None


def _zero_pad_kernel(function: str) -> Kernel:
    images = ZERO_PAD_CALLS[function][0]

    def run(v: dict) -> list | None:
        copy = plane_copy(function, v)
        if copy is None or not isinstance(v[images], np.ndarray):   # distributed: Spark's op
            return None
        out = copy_planes(copy, v[images])
        return [out, *copy.result] if function in ("forward", "crop") else [out]
    return run


def batch_norm_test_mode(v: dict) -> dict | None:
    """A batch_norm2d::forward call in mode "test" as batch_norm_inference's arguments, or None
    (training mode, other types or shapes: the DML body runs)."""
    X, gamma, beta, mean, var = (v[k] for k in ("X", "gamma", "beta", "ema_mean", "ema_var"))
    C, H, W = v["C"], v["Hin"], v["Win"]
    if v["mode"] != "test" or not _local_floats((X, gamma, beta, mean, var), same_shape=False) \
            or not all(type(n) is int and n >= 1 for n in (C, H, W)) \
            or X.shape[1] != C * H * W or any(x.shape != (C, 1) for x in (gamma, beta, mean, var)) \
            or type(v["center"]) is not bool or type(v["scale"]) is not bool:
        return None
    shift, inv = inference_vectors(mean, var, v["epsilon"])
    return dict(X=X, C=C, shift=shift, inv=inv, gamma=gamma if v["scale"] else None,
                beta=beta if v["center"] else None)


def _batch_norm_forward(v: dict) -> list | None:
    arguments = batch_norm_test_mode(v)
    if arguments is None:
        return None
    return [batch_norm_inference(**arguments), v["ema_mean"], v["ema_var"]]


def _state_fits(v: dict, matrices: tuple, numbers: tuple, flags: tuple) -> bool:
    """An optimizer update's arguments: local float matrices of one shape and dtype, numbers
    (not booleans) and booleans."""
    return (_local_floats([v[k] for k in matrices])
            and all(type(v[k]) in (int, float) for k in numbers)
            and all(type(v[k]) is bool for k in flags))


def _taken(v: dict, name: str) -> tuple[np.ndarray, bool]:
    """An argument taken out of the bound arguments, and whether nothing else holds it (the
    caller's variable died with this call): then the update may overwrite it."""
    array = v.pop(name)
    own = free(array)           # before the return tuple takes a reference of its own
    return array, own


def _sgd_update(v: dict) -> list | None:
    if not _state_fits(v, ("X", "dX", "v"), ("lr", "momentum", "weight_decay"), ("nesterov",)):
        return None
    (X, own_X), (velocity, own_v) = _taken(v, "X"), _taken(v, "v")
    return optimizers.sgd(X, v["dX"], v["lr"], v["momentum"], v["nesterov"], v["weight_decay"],
                          velocity, own_X, own_v)


_MINUS, _TIMES, _OVER, _POWER = (binary_operator(op) for op in "-*/^")


def _adam_update(v: dict) -> list | None:
    """adam::update without amsgrad; its numbers computed with the interpreter's own scalar
    rules, so they are the DML body's."""
    if v["amsgrad"] is not False or type(v["t"]) is not int or not _state_fits(
            v, ("X", "dX", "m", "v"), ("lr", "beta1", "beta2", "epsilon", "weight_decay"), ()):
        return None
    lr, beta1, beta2, t = v["lr"], v["beta1"], v["beta2"], v["t"]
    root = BUILTINS["sqrt"].function(_MINUS(1, _POWER(beta2, t)))
    alpha = _OVER(_TIMES(lr, root), _MINUS(1, _POWER(beta1, t)))
    (X, own_X), (first, own_m), (second, own_v) = (_taken(v, k) for k in ("X", "m", "v"))
    return optimizers.adam(X, v["dX"], lr, alpha, _MINUS(1, beta1), _MINUS(1, beta2), v["epsilon"],
                           v["weight_decay"], first, second, (own_X, own_m, own_v)) + [v["vhat"]]


def _rmsprop_update(v: dict) -> list | None:
    """rmsprop::update without centering."""
    if v["centered"] is not False or not _state_fits(
            v, ("X", "dX", "s", "mom"), ("lr", "rho", "momentum", "epsilon", "weight_decay"), ()):
        return None
    (X, own_X), (mean, own_s), (velocity, own_mom) = (_taken(v, k) for k in ("X", "s", "mom"))
    return optimizers.rmsprop(X, v["dX"], v["lr"], v["rho"], _MINUS(1, v["rho"]), v["momentum"],
                              v["epsilon"], v["weight_decay"], mean, velocity,
                              (own_X, own_s, own_mom)) + [v["g"]]


def _erf_forward(v: dict) -> list | None:
    if not _local_floats([v["X"]]):
        return None
    out = elementwise.erf(v["X"])
    return None if out is None else [out]


def _exact_gelu(v: dict, *names: str) -> bool:
    """A gelu.dml call in the exact form (its erf series) on local matrices of one float dtype
    and shape."""
    return v["approximate"] is False and _local_floats([v[k] for k in names])


def _gelu_forward(v: dict) -> list | None:
    if not _exact_gelu(v, "X"):
        return None
    out = elementwise.gelu(v["X"])
    return None if out is None else [out]


def _gelu_backward(v: dict) -> list | None:
    if not _exact_gelu(v, "dout", "X"):
        return None
    dX = elementwise.gelu_gradient(v["dout"], v["X"])
    return None if dX is None else [dX]


def _layout_kernel(convert: Callable) -> Kernel:
    """layout.dml's channels_first or channels_last: a local float matrix of N >= 1 images of
    C*H*W values; anything else runs the DML body (its reshape reports wrong sizes)."""
    def run(v: dict) -> list | None:
        X, sizes = v["X"], (v["C"], v["H"], v["W"])
        if not _local_floats([X]) or not all(type(n) is int and n >= 1 for n in sizes) \
                or X.shape[0] < 1 or X.shape[1] != math.prod(sizes):
            return None
        return [convert(X, *sizes)]
    return run


def _attention_fits(v: dict, per_sample: str) -> bool:
    """A multi_head_attention heads() or heads_backward() call on local matrices of one float
    dtype whose shapes agree with H heads, Tq query and Tk key steps (N samples: per_sample's
    rows)."""
    names = ("Q", "K", "V", "F", per_sample) + (("dC",) if "dC" in v else ())
    arrays = [v[k] for k in names]
    H, Tq, Tk = v["H"], v["Tq"], v["Tk"]
    if not (_local_floats(arrays, same_shape=False)
            and all(type(n) is int and n >= 1 for n in (H, Tq, Tk))):
        return False
    Q, K, V, F = arrays[:4]
    N = v[per_sample].shape[0]
    return (N >= 1 and Q.shape[1] % H == 0 and V.shape[1] % H == 0 and Q.shape[1] >= H
            and V.shape[1] >= H and Q.shape[0] == N * Tq and K.shape == (N * Tk, Q.shape[1])
            and V.shape[0] == N * Tk and F.shape == (N, H * Tq * Tk)
            and (per_sample != "penalty" or v["penalty"].shape == (N, Tq * Tk))
            and (per_sample != "P" or v["P"].shape == F.shape)
            and ("dC" not in v or v["dC"].shape == (N * Tq, V.shape[1])))


def _attention_heads(v: dict) -> list | None:
    if not _attention_fits(v, "penalty"):
        return None
    return attention.heads(v["Q"], v["K"], v["V"], v["penalty"], v["F"], v["H"], v["Tq"], v["Tk"])


def _attention_heads_backward(v: dict) -> list | None:
    if not _attention_fits(v, "P"):
        return None
    return attention.heads_backward(v["dC"], v["P"], v["F"], v["Q"], v["K"], v["V"], v["H"],
                                    v["Tq"], v["Tk"])


# library file (relative to dml_lib) -> function -> kernel
KERNELS: dict[str, dict[str, Kernel]] = {
    "nn/layers/conv2d_depthwise.dml": {"forward": _depthwise_forward,
                                       "backward": _depthwise_backward},
    "nn/layers/random_affine.dml": {"forward": _affine_image_forward,
                                    "backward": _affine_image_backward},
    "nn/layers/zero_pad2d.dml": {function: _zero_pad_kernel(function) for function in ZERO_PAD_CALLS},
    "nn/layers/batch_norm2d.dml": {"forward": _batch_norm_forward},
    "nn/layers/erf.dml": {"forward": _erf_forward},
    "nn/layers/gelu.dml": {"forward": _gelu_forward, "backward": _gelu_backward},
    "nn/layers/multi_head_attention.dml": {"heads": _attention_heads,
                                           "heads_backward": _attention_heads_backward},
    "nn/optim/sgd.dml": {"update": _sgd_update},
    "nn/optim/adam.dml": {"update": _adam_update},
    "nn/optim/rmsprop.dml": {"update": _rmsprop_update},
    "nn/util/layout.dml": {"channels_first": _layout_kernel(layout.channels_first),
                           "channels_last": _layout_kernel(layout.channels_last)},
}

_library_texts: dict[str, str] = {}


def label(relative: str, function: str) -> str:
    """How plans, --stats and the Spark operations name a kernel: "conv2d_depthwise::forward"."""
    return f"{Path(relative).stem}::{function}"


def kernel(name: str) -> Kernel:
    """The kernel of a label (what a Spark task runs on its row panel)."""
    for relative, kernels in KERNELS.items():
        for function, found in kernels.items():
            if label(relative, function) == name:
                return found
    raise KeyError(f"no library kernel is named {name!r}")


def _library_text(relative: str) -> str:
    from kerasdml import dml_lib

    if relative not in _library_texts:
        _library_texts[relative] = (Path(dml_lib.ROOT) / relative).read_text()
    return _library_texts[relative]


def library_file(text: str, path: Path) -> str | None:
    """dml_lib's name for a sourced file ("nn/layers/relu.dml") when its text is exactly that
    file's, else None: what the runtime knows of a library function holds only for its own
    text (an edited copy is the user's function)."""
    from kerasdml import dml_lib

    parts = path.parts
    for depth in (3, 2):                  # nn/layers/relu.dml, nn/util.dml (a copy may live
        relative = "/".join(parts[-depth:])  # beside a compiled model's scripts)
        if len(parts) >= depth and (Path(dml_lib.ROOT) / relative).is_file():
            return relative if text == _library_text(relative) else None
    return None


def attach(module, context) -> None:
    """Gives the functions of a module whose text is dml_lib's (module.library) their kernels,
    placed by the planner when the run has one and counted in --stats."""
    if os.environ.get(SWITCH_VARIABLE, "1") == "0" or module.library is None:
        return
    for name, found in KERNELS.get(module.library, {}).items():
        function = module.functions.get(name)
        if function is None:
            continue
        named = label(module.library, name)
        if context.planner is not None:
            found = context.planner.route_kernel(named, found, function.definition.pos)
        function.kernel = found if context.stats is None else context.stats.timed(named, found)
