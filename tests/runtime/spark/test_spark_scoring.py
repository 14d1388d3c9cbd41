"""The seed's LeNet, compiled to DML, scoring a distributed input in hybrid mode (input and the
convolution outputs above the driver budget stay distributed): the same predictions as the
local runtime and as Keras on the same rows."""
from __future__ import annotations

import io

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_compiled_lenet_scores_a_distributed_input(spark, tmp_path):
    pytest.importorskip("keras")
    from kerasdml.compiler.compile import compile_model
    from kerasdml.compiler.demo import lenet
    from kerasdml.runtime.spark.runtime import SparkRuntime

    model = lenet(seed=3)
    model.save(tmp_path / "lenet.keras")
    compiled = compile_model(tmp_path / "lenet.keras")
    X = np.random.default_rng(5).random((600, 28, 28, 1)).astype("float32")
    runtime = SparkRuntime(spark.sparkContext, block=200, memory_budget=2 * 2**20)  # X is 3.6 MB
    plan = io.StringIO()
    # one forward pass over all rows: the generated script's batch loop runs once
    scored = compiled.predict(X, batch_size=len(X), spark=runtime, explain=plan)
    local = compiled.predict(X, batch_size=len(X))
    np.testing.assert_allclose(scored, local, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(scored, model.predict(X, verbose=0), atol=1e-5)
    on_spark = {line.split()[0] for line in plan.getvalue().splitlines()
                if line.startswith("  ") and "SPARK(" in line}
    assert {"conv2d", "bias_add", "max_pool", "max", "%*%"} <= on_spark, plan.getvalue()
