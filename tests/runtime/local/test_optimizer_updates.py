"""dml_lib's sgd::update, adam::update and rmsprop::update as one pass over memory (runtime/local/optimizers.py,
through runtime/intrinsics.py): the bits of the DML body in both precisions, for every branch
(momentum, Nesterov, weight decay; Adam at several steps, amsgrad and a centered RMSprop through
the body), on shapes
whose row blocks are uneven, with infinities, NaN and signed zeros; written into the
parameter's and the state's buffers only when nothing else holds them. Every case runs with the
native kernels (native/optimizer_kernels.h, where they are built) and with the numpy passes."""
from __future__ import annotations

import os

import numpy as np
import pytest

from kerasdml import dml_lib
from kerasdml.runtime import intrinsics
from kerasdml.runtime.api import run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.local import native

OPTIM = os.path.join(dml_lib.ROOT, "nn", "optim")
SHAPES = [(37, 129), (1, 300), (301, 1), (2, 70_001)]
SGD = """
source("{path}") as opt
[X_out, v_out] = opt::update(X, dX, lr, momentum, nesterov, weight_decay, v)
"""
ADAM = """
source("{path}") as opt
[X_out, m_out, v_out, vhat_out] = opt::update(X, dX, lr, 0.9, 0.999, 1e-7, amsgrad, weight_decay,
                                              m, v, vhat, t)
"""


pytestmark = pytest.mark.usefixtures("kernels")   # numpy and native kernels (conftest.py)


def matrices(shape, dtype, names) -> dict:
    rng = np.random.default_rng(sum(shape))
    found = {}
    for i, name in enumerate(names):
        values = rng.standard_normal(shape) * (3.0 ** i)
        values.flat[:4] = [np.inf, np.nan, -0.0, 1e-30][:values.size]
        found[name] = values.astype(dtype)
    return found


def body_copy(tmp_path, name: str) -> str:
    """The library file with one more comment line: not dml_lib's text, so its DML body runs."""
    copy = tmp_path / name
    copy.write_text(open(os.path.join(OPTIM, name)).read() + "# a copy\n")
    return str(copy)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def run_both(tmp_path, name: str, script: str, inputs: dict, outputs: list, precision: str):
    stats = Statistics()
    kernel = run_string(script.format(path=os.path.join(OPTIM, name)), inputs=inputs,
                        outputs=outputs, precision=precision, stats=stats)
    body = run_string(script.format(path=body_copy(tmp_path, name)), inputs=inputs,
                      outputs=outputs, precision=precision)
    return kernel, body, stats


@pytest.mark.parametrize("momentum,nesterov,weight_decay", [(0.0, False, 0.0), (0.9, False, 0.0),
                                                           (0.95, True, 0.0), (0.9, True, 0.01),
                                                           (0.0, False, 0.003)])
@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", SHAPES)
def test_sgd_update_gives_the_dml_bodys_bits(shape, precision, momentum, nesterov, weight_decay,
                                            tmp_path):
    dtype = np.float64 if precision == "double" else np.float32
    inputs = dict(matrices(shape, dtype, ("X", "dX", "v")), lr=0.0137, momentum=momentum,
                  nesterov=nesterov, weight_decay=weight_decay)
    kernel, body, stats = run_both(tmp_path, "sgd.dml", SGD, inputs, ["X_out", "v_out"], precision)
    for name in ("X_out", "v_out"):
        assert same_bits(kernel[name], body[name]), name
    assert stats.counts["sgd::update"] == 1
    assert not same_bits(kernel["X_out"], inputs["X"])


@pytest.mark.parametrize("t,weight_decay", [(1, 0.0), (7, 0.0), (250, 0.004)])
@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", SHAPES)
def test_adam_update_gives_the_dml_bodys_bits(shape, precision, t, weight_decay, tmp_path):
    dtype = np.float64 if precision == "double" else np.float32
    state = matrices(shape, dtype, ("X", "dX", "m", "v", "vhat"))
    state["v"] = np.abs(state["v"])
    inputs = dict(state, lr=0.001, amsgrad=False, weight_decay=weight_decay, t=t)
    outputs = ["X_out", "m_out", "v_out", "vhat_out"]
    kernel, body, stats = run_both(tmp_path, "adam.dml", ADAM, inputs, outputs, precision)
    for name in outputs:
        assert same_bits(kernel[name], body[name]), name
    assert stats.counts["adam::update"] == 1


RMSPROP = """
source("{path}") as opt
[X_out, s_out, mom_out, g_out] = opt::update(X, dX, 0.01, 0.9, momentum, 1e-7, centered,
                                             weight_decay, s, mom, g)
"""


@pytest.mark.parametrize("momentum,weight_decay,centered", [(0.0, 0.0, False), (0.9, 0.0, False),
                                                            (0.5, 0.02, False), (0.9, 0.0, True)])
@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", SHAPES)
def test_rmsprop_update_gives_the_dml_bodys_bits(shape, precision, momentum, weight_decay,
                                                centered, tmp_path):
    dtype = np.float64 if precision == "double" else np.float32
    state = matrices(shape, dtype, ("X", "dX", "s", "mom", "g"))
    state["s"] = np.abs(state["s"])
    inputs = dict(state, momentum=momentum, weight_decay=weight_decay, centered=centered)
    outputs = ["X_out", "s_out", "mom_out", "g_out"]
    kernel, body, stats = run_both(tmp_path, "rmsprop.dml", RMSPROP, inputs, outputs, precision)
    for name in outputs:
        assert same_bits(kernel[name], body[name]), name
    assert stats.counts["rmsprop::update"] == 1


def test_adam_with_amsgrad_runs_the_dml_body(tmp_path):
    state = matrices((5, 6), np.float64, ("X", "dX", "m", "v", "vhat"))
    state["v"] = np.abs(state["v"])
    inputs = dict(state, lr=0.001, amsgrad=True, weight_decay=0.0, t=3)
    outputs = ["X_out", "m_out", "v_out", "vhat_out"]
    kernel, body, _ = run_both(tmp_path, "adam.dml", ADAM, inputs, outputs, "double")
    for name in outputs:
        assert same_bits(kernel[name], body[name]), name
    assert not same_bits(kernel["vhat_out"], inputs["vhat"])


@pytest.mark.parametrize("library_file, call, arguments", [
    ("sgd.dml", "sgd_update", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)),
    ("adam.dml", "adam_update", dict(lr=0.1, beta1=0.9, beta2=0.999, epsilon=1e-7,
                                     amsgrad=False, weight_decay=0.0, t=2, vhat=None)),
    ("rmsprop.dml", "rmsprop_update", dict(lr=0.1, rho=0.9, epsilon=1e-7, centered=False,
                                           momentum=0.5, weight_decay=0.0, g=None))])
def test_the_native_kernel_does_the_work_where_it_is_on(kernels, library_file, call, arguments,
                                                      monkeypatch):
    calls = []
    original = getattr(native, call)
    monkeypatch.setattr(native, call, lambda *a, **k: calls.append(1) or original(*a, **k))
    state = {"sgd.dml": ("X", "dX", "v"), "adam.dml": ("X", "dX", "m", "v"),
             "rmsprop.dml": ("X", "dX", "s", "mom")}[library_file]
    update = intrinsics.KERNELS[f"nn/optim/{library_file}"]["update"]
    assert update(dict(matrices((300, 4000), np.float32, state), **arguments)) is not None
    assert bool(calls) == (kernels == "native")


def sgd_arguments(held: dict | None = None) -> dict:
    arrays = matrices((40, 50), np.float32, ("X", "dX", "v"))
    if held is not None:
        held.update(arrays)
    return dict(arrays, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)


def test_the_update_writes_into_a_parameter_and_state_nothing_else_holds():
    arguments = sgd_arguments()
    addresses = id(arguments["X"]), id(arguments["v"])
    X, v = intrinsics.KERNELS["nn/optim/sgd.dml"]["update"](arguments)
    assert (id(X), id(v)) == addresses


def test_the_update_leaves_a_parameter_and_state_held_elsewhere_unchanged():
    held = {}
    arguments = sgd_arguments(held)
    before = {name: array.copy() for name, array in held.items()}
    X, v = intrinsics.KERNELS["nn/optim/sgd.dml"]["update"](arguments)
    assert X is not held["X"] and v is not held["v"]
    for name, array in held.items():
        assert same_bits(array, before[name]), name


def test_a_training_loop_updates_in_place_with_the_same_bits(tmp_path):
    """As the generated scripts call it: the parameter and the state reassigned by the call."""
    loop = """
source("{path}") as opt
for (i in 1:5) {{
  dX = X * 0.5 + i
  [X, v] = opt::update(X, dX, 0.05, 0.9, TRUE, 0.001, v)
}}
"""
    inputs = matrices((33, 65), np.float32, ("X", "v"))
    kernel, body, stats = run_both(tmp_path, "sgd.dml", loop, inputs, ["X", "v"], "single")
    assert same_bits(kernel["X"], body["X"]) and same_bits(kernel["v"], body["v"])
    assert stats.counts["sgd::update"] == 5


def test_modules_rebuilt_on_an_executor_keep_dml_libs_kernels(tmp_path):
    """A parfor task or a paramserv worker (and the server's agg) compiles the functions it is
    shipped with a local interpreter: dml_lib's files keep their kernels there, an edited copy
    (not dml_lib's text) keeps its DML body."""
    from pathlib import Path

    from kerasdml.runtime.context import Context
    from kerasdml.runtime.interpreter import Interpreter
    from kerasdml.runtime.spark.parfor import module_snapshot, rebuild_modules

    script = (f'source("{OPTIM}/sgd.dml") as sgd\nsource("{body_copy(tmp_path, "adam.dml")}") as adam\n'
              'f = function(matrix[double] X) return (matrix[double] Y) { Y = X }\n')
    module, _ = Interpreter(Context(args={})).load_program(script, "<test>", Path.cwd())
    rebuilt = rebuild_modules(module_snapshot(module), Interpreter(Context(args={})))
    assert rebuilt.namespaces["sgd"].library == "nn/optim/sgd.dml"
    assert rebuilt.namespaces["sgd"].functions["update"].kernel is not None
    assert rebuilt.namespaces["adam"].library is None
    assert rebuilt.namespaces["adam"].functions["update"].kernel is None
