"""The LeNet-shaped forward pass over a distributed batch (conv2d, bias_add, relu, max_pool and
affine from dml_lib, each per row block with the weights broadcast) against the local runtime."""
from __future__ import annotations

import io

import numpy as np
import pytest
from support.spark_lenet import SCRIPT, lenet_inputs

from kerasdml.runtime.api import run_file
from kerasdml.runtime.spark.runtime import SparkRuntime

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("block", [16, 1000], ids=["many-row-blocks", "one-row-block"])
def test_lenet_forward_on_spark_matches_local(spark, block):
    inputs = lenet_inputs(50, filters=(4, 8), hidden=32)
    expected = run_file(SCRIPT, inputs=inputs, outputs=["probs", "predicted"])
    plan = io.StringIO()
    runtime = SparkRuntime(spark.sparkContext, block=block)
    got = run_file(SCRIPT, inputs=inputs, outputs=["probs", "predicted"], spark=runtime,
                   exec_mode="spark", explain=plan)
    np.testing.assert_allclose(got["probs"], expected["probs"], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got["predicted"], expected["predicted"])
    text = plan.getvalue()
    for operation in ("conv2d", "bias_add", "max_pool", "max", "%*%", "rowIndexMax"):
        assert any(line.split()[0] == operation and "SPARK(" in line
                   for line in text.splitlines() if line.startswith("  ")), operation
