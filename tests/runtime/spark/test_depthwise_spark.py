"""Depthwise convolutions on Spark. dml_lib's conv2d_depthwise forward and backward run as one
distributed operation each (the library kernel on every row panel, the filters broadcast, the
filter gradients summed: runtime/spark/dnn.py) instead of the DML body's loop over channels, and
give the local kernel's results. A tiny MobileNet-style model (DepthwiseConv2D, SeparableConv2D,
BatchNorm, ReLU6) predicts with `kerasdml run --master local[2]` and trains with Keras2DML on
Spark as it does locally and as Keras does."""
from __future__ import annotations

import io
import re
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from support.depthwise_cases import (LAYER_OUTPUTS, LIBRARY_FILE, SHAPES, geometry, operands,
                                     run_layer)

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError

pytestmark = pytest.mark.slow

# seven images: three row blocks of the runtime fixture's 3 rows
SPARK_SHAPES = [(7,) + shape[1:] for shape in SHAPES[:3]]
KERNELS = ("conv2d_depthwise::forward", "conv2d_depthwise::backward")


def placements(plan: str) -> dict:
    """Operation name -> where explain placed it (LOCAL, SPARK(...)), over the whole plan."""
    found: dict = {}
    for line in plan.splitlines():
        where = re.search(r"  (LOCAL|SPARK)(\(|$)", line)
        if line.startswith("  ") and where:
            found.setdefault(line.split()[0], set()).add(where.group(1))
    return found


def assert_close(got, expected, precision: str, what: str) -> None:
    scale = max(1.0, float(np.abs(expected).max()))
    tolerance = 1e-12 if precision == "double" else 1e-5
    assert got.dtype == expected.dtype, what
    assert_allclose(got / scale, expected / scale, rtol=0, atol=tolerance, err_msg=what)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", SPARK_SHAPES, ids=["x".join(map(str, s)) for s in SPARK_SHAPES])
def test_layer_runs_as_one_operation_with_the_local_kernels_results(runtime, shape, precision):
    values = operands(geometry(shape), np.float64, seed=5)
    local = run_layer(LIBRARY_FILE, shape, values, precision)
    plan = io.StringIO()
    got = run_layer(LIBRARY_FILE, shape, values, precision, spark=runtime, exec_mode="spark",
                    explain=plan)
    for name in LAYER_OUTPUTS:
        if name in ("Hout", "Wout"):
            assert got[name] == local[name], name
        else:
            assert_close(got[name], local[name], precision, name)
    where = placements(plan.getvalue())
    assert all(where[kernel] == {"SPARK"} for kernel in KERNELS), plan.getvalue()
    assert "conv2d" not in where and "conv2d_backward_filter" not in where  # no DML body


def test_arguments_the_kernel_declines_run_the_dml_body(runtime):
    # filters of the wrong shape: no operation takes the distributed call, the DML body reports it
    shape = SPARK_SHAPES[0]
    X, W, b, dout = operands(geometry(shape), np.float64)
    with pytest.raises(DMLRuntimeError, match="conv2d"):
        run_layer(LIBRARY_FILE, shape, (X, W[:, :-1], b, dout), spark=runtime, exec_mode="spark")


# ---- a MobileNet-style model ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """(the saved .keras file, 30 images, Keras' predictions)."""
    from support.keras_models import randomize
    from support.zoo_models import mobilenet_style

    model = randomize(mobilenet_style(), seed=2, scale=0.5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenet.keras"
    model.save(path)
    x = np.random.default_rng(4).normal(size=(30, 8, 8, 3)).astype(np.float32)
    return path, x, model.predict(x, verbose=0)


def kerasdml(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kerasdml.compiler.launch", *args],
                          capture_output=True, text=True, timeout=400)


def test_compiled_predict_runs_on_spark_with_kerasdml_run(mobilenet, tmp_path):
    path, x, expected = mobilenet
    compiled = kerasdml("compile", str(path), "-o", str(tmp_path / "dml"))
    assert compiled.returncode == 0, compiled.stderr
    np.savetxt(tmp_path / "X.csv", x.reshape(len(x), -1), delimiter=",")
    result = kerasdml("run", str(tmp_path / "dml" / "predict.dml"), "--master", "local[2]",
                      "--exec", "spark", "--explain", "--conf", "spark.kerasdml.blockSize=8",
                      "--conf", "spark.ui.enabled=false", "-nvargs", f"X={tmp_path / 'X.csv'}",
                      f"Y={tmp_path / 'Y.csv'}", f"weights={tmp_path / 'dml' / 'weights.h5'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert placements(result.stdout)["conv2d_depthwise::forward"] == {"SPARK"}, result.stdout
    got = run_string(f'Y = read("{tmp_path / "Y.csv"}")', outputs=["Y"])["Y"]
    from kerasdml.compiler.compile import compile_model

    assert_allclose(got, compile_model(path).predict(x), rtol=1e-12, atol=1e-14)
    assert_allclose(got, expected, atol=1e-5)


def test_blocks_scoring_gives_the_local_predictions(mobilenet, spark):
    from kerasdml.compiler.compile import compile_model
    from kerasdml.runtime.spark.runtime import SparkRuntime

    path, x, expected = mobilenet
    compiled = compile_model(path)
    runtime = SparkRuntime(spark.sparkContext, block=8, memory_budget=16 * 2**10)
    plan = io.StringIO()
    got = compiled.predict(x, batch_size=len(x), spark=runtime, explain=plan)
    assert placements(plan.getvalue())["conv2d_depthwise::forward"] == {"SPARK"}
    assert_allclose(got, compiled.predict(x), rtol=1e-12, atol=1e-14)
    assert_allclose(got, expected, atol=1e-5)


def test_training_on_spark_gives_the_local_weights(mobilenet, spark, capsys):
    """Batches above the (small) driver budget: the depthwise gradients are Spark operations."""
    keras = pytest.importorskip("keras")
    from kerasdml.compiler.estimator import Keras2DML
    from kerasdml.runtime.spark.runtime import SparkRuntime

    path, x, _ = mobilenet
    y = np.random.default_rng(6).integers(0, 3, len(x))

    def train(runtime, explain=False):
        estimator = Keras2DML(keras.models.load_model(path), epochs=1, batch_size=10,
                              shuffle=False, verbose=0, spark=runtime)
        estimator.explain = explain
        return estimator.fit(x, y)

    local = train(None)
    capsys.readouterr()
    distributed = train(SparkRuntime(spark.sparkContext, block=4, memory_budget=8 * 2**10),
                        explain=True)
    where = placements(capsys.readouterr().out)
    assert all("SPARK" in where[kernel] for kernel in KERNELS), where
    assert distributed.history_["loss"] == pytest.approx(local.history_["loss"], rel=1e-12)
    for name, weights in local.weights_.items():
        assert_allclose(distributed.weights_[name], weights, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("precision", ["double", "single"])
def test_zero_padding_and_cropping_copy_each_row_panel_on_spark(runtime, precision):
    """zero_pad2d's four functions run as one distributed operation each (the plane copy on
    every row panel), with the local copy's bits."""
    from support.zero_pad_cases import LIBRARY_FILE as PAD_FILE
    from support.zero_pad_cases import OUTPUTS, SCRIPT, images

    dtype = np.float64 if precision == "double" else np.float32
    X = np.vstack([images(dtype)] * 3)                       # 9 images: three row blocks
    script = SCRIPT.format(path=PAD_FILE, t=1, b=0, l=2, r=1).replace("C, H, W", "2, 5, 6")
    local = run_string(script, inputs={"X": X}, outputs=OUTPUTS, precision=precision)
    plan = io.StringIO()
    got = run_string(script, inputs={"X": X}, outputs=OUTPUTS, precision=precision,
                     spark=runtime, exec_mode="spark", explain=plan)
    for name in OUTPUTS:
        assert np.asarray(got[name]).tobytes() == np.asarray(local[name]).tobytes(), name
    where = placements(plan.getvalue())
    for function in ("forward", "backward", "crop", "crop_backward"):
        assert where[f"zero_pad2d::{function}"] == {"SPARK"}, plan.getvalue()
    assert "leftIndex" not in where                           # not the DML body's row copies
