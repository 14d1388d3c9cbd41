"""The seed's LeNet scores 200,000 MNIST-shaped rows held as a distributed matrix on local[2]:
the rows are made by the executors (from MNIST's 70,000 images, tiled and shifted), never
collected, and the compiled model's predictions equal the local runtime's on the same rows and
Keras' predict on every row."""
from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

MNIST = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mnist.npz"
ROWS, BLOCK = 200_000, 1000


def mnist_rows(pool_file: str, first: int, last: int) -> np.ndarray:
    """Rows first..last-1 as float32 pixels in [0, 1]: image r % 70000, shifted right by
    r // 70000 pixels, so that no two of the 200,000 rows repeat."""
    pool = np.load(pool_file, mmap_mode="r")
    index = np.arange(first, last)
    images = pool[index % len(pool)].reshape(-1, 28, 28)
    shifted = np.stack([np.roll(image, shift, axis=1) for image, shift in zip(images, index // len(pool))])
    return (shifted.reshape(-1, 784) / np.float32(255)).astype(np.float32)


def panel(pool_file: str, i: int):
    return i, mnist_rows(pool_file, i * BLOCK, min((i + 1) * BLOCK, ROWS))


@pytest.fixture(scope="module")
def pool_file(tmp_path_factory):
    if not MNIST.exists():
        pytest.skip(f"MNIST is not at {MNIST}")
    with np.load(MNIST) as data:
        pool = np.concatenate([data["x_train"], data["x_test"]]).reshape(-1, 784)
    target = tmp_path_factory.mktemp("mnist") / "pool.npy"
    np.save(target, pool)
    return str(target)


def test_lenet_scores_200000_distributed_rows_like_the_local_runtime(spark, pool_file, tmp_path):
    pytest.importorskip("keras")
    from pyspark import cloudpickle

    from kerasdml.compiler.compile import compile_model
    from kerasdml.compiler.demo import lenet
    from kerasdml.runtime.spark.matrix import from_panels
    from kerasdml.runtime.spark.runtime import SparkRuntime

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the executors run `panel`
    model = lenet(seed=3)
    model.save(tmp_path / "lenet.keras")
    compiled = compile_model(tmp_path / "lenet.keras")
    sc = spark.sparkContext
    blocks = -(-ROWS // BLOCK)
    made_by_executors = sc.parallelize(range(blocks), blocks).map(partial(panel, pool_file))
    X = from_panels(made_by_executors, ROWS, 784, BLOCK, np.float32)
    runtime = SparkRuntime(sc, block=BLOCK, precision="single")
    # hybrid mode, one forward pass (the default batch on Spark is every row): the 200,000-row
    # input and the convolution outputs (up to 20 GB) stay distributed
    scored = compiled.predict(X, spark=runtime, precision="single")
    assert scored.shape == (ROWS, 10)

    everything = mnist_rows(pool_file, 0, ROWS).reshape(-1, 28, 28, 1)
    local = compiled.predict(everything, precision="single")   # batches of 256 rows
    np.testing.assert_allclose(scored, local, rtol=1e-5, atol=1e-6)
    assert np.array_equal(scored.argmax(1), local.argmax(1))
    keras = model.predict(everything, batch_size=1000, verbose=0)
    np.testing.assert_allclose(scored, keras, atol=1e-5)
    assert np.mean(scored.argmax(1) == keras.argmax(1)) > 0.9999
