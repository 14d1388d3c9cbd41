"""allreduce_parallel_batches on Spark: the generated training script's parfor over the k batches
of a step runs as Spark tasks (hybrid mode, its inputs above the remote-parfor threshold), and the
trained weights are the local run's."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_allreduce_parallel_batches_trains_on_spark_as_locally(spark, monkeypatch):
    pytest.importorskip("keras")
    from kerasdml.compiler.demo import lenet
    from kerasdml.compiler.estimator import Keras2DML
    from kerasdml.runtime.spark import parfor
    from kerasdml.runtime.spark.runtime import SparkRuntime

    rng = np.random.default_rng(0)
    x, y = rng.random((200, 28, 28, 1)), rng.integers(0, 10, size=200)

    def train(spark_runtime):
        estimator = Keras2DML(lenet(seed=1), epochs=1, batch_size=25, seed=7, verbose=0,
                              train_algo="allreduce_parallel_batches", parallel_batches=4,
                              spark=spark_runtime)
        return list(estimator.fit(x, y).weights_.values())

    local = train(None)
    shipped = []
    split = parfor.SharedInputs.split
    monkeypatch.setattr(parfor.SharedInputs, "split",
                        lambda self, *args: shipped.append(1) or split(self, *args))
    runtime = SparkRuntime(spark.sparkContext, parfor_bytes=2**18)  # the 200 images: 1.25 MB
    distributed = train(runtime)
    assert len(shipped) == 2  # 8 batches of 25 -> two steps of 4 parallel batches, each on Spark
    for expected, got in zip(local, distributed, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
