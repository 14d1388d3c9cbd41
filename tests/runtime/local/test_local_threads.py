"""The kernel worker pool and the local matrix product: same results on any thread count,
and the thread configuration rules of runtime/local/threads.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kerasdml.runtime.local import matmul, parallel, threads


@pytest.mark.parametrize("shape", [(300, 200, 150), (20, 300, 900), (3, 4, 5), (1000, 64, 1)],
                         ids=["tall", "wide", "small", "column"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["double", "single"])
def test_matmul_matches_numpy_and_ignores_the_thread_count(monkeypatch, shape, dtype):
    rows, inner, cols = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, inner)).astype(dtype)
    b = rng.standard_normal((inner, cols)).astype(dtype)
    monkeypatch.setenv(threads.KERNEL_THREADS_VARIABLE, "1")
    alone = matmul.matmul(a, b)
    monkeypatch.setenv(threads.KERNEL_THREADS_VARIABLE, "2")
    shared = matmul.matmul(a, b)
    assert shared.dtype == dtype
    assert_allclose(shared, alone, rtol=0, atol=0)
    assert_allclose(shared, a.astype(np.float64) @ b, rtol=1e-4 if dtype == np.float32 else 1e-12,
                    atol=1e-4 if dtype == np.float32 else 1e-12)


def test_matmul_of_transposed_views():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((400, 100)), rng.standard_normal((400, 90))
    assert_allclose(matmul.matmul(a.T, b), a.T @ b, rtol=1e-12, atol=1e-12)


def test_run_chunks_keeps_chunk_order_and_runs_nested_calls_inline(monkeypatch):
    monkeypatch.setenv(threads.KERNEL_THREADS_VARIABLE, "2")

    def outer(first, last):
        return parallel.run_chunks(lambda a, b: (first + a, first + b), [(0, 1), (1, 2)])
    assert parallel.run_chunks(outer, [(0, 5), (5, 9), (9, 10)]) == [
        [(0, 1), (1, 2)], [(5, 6), (6, 7)], [(9, 10), (10, 11)]]


@pytest.mark.parametrize("count, pieces, expected", [
    (10, 3, [(0, 3), (3, 6), (6, 10)]), (2, 4, [(0, 1), (1, 2)]), (5, 1, [(0, 5)])],
    ids=["uneven", "more-pieces-than-items", "one"])
def test_split(count, pieces, expected):
    assert parallel.split(count, pieces) == expected


@pytest.mark.parametrize("environment, expected", [
    ({threads.KERNEL_THREADS_VARIABLE: "3"}, 3),
    ({"OPENBLAS_NUM_THREADS": "4"}, 1),
    ({"OPENBLAS_NUM_THREADS": "1"}, "cores"),
    ({}, "cores")], ids=["explicit", "blas-threads", "blas-single", "unconfigured"])
def test_kernel_workers(monkeypatch, environment, expected):
    for name in (threads.KERNEL_THREADS_VARIABLE, *threads.BLAS_THREAD_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "_requested_blas", None)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert threads.kernel_workers() == (threads.available_cores() if expected == "cores" else expected)


LAYOUT_AFTER_NUMPY = """
import json, numpy
from threadpoolctl import threadpool_info, threadpool_limits
threadpool_limits(limits=2, user_api="blas")        # the caller's own BLAS threads
from kerasdml.runtime.api import run_string
from kerasdml.runtime.local import threads
{configure}
seen = []
run_string("for (i in 1:2) {{ x = i }}",
           on_iteration=lambda frame, var: seen.append(threadpool_info()[0]["num_threads"]))
print(json.dumps([seen, threadpool_info()[0]["num_threads"], threads.kernel_workers()]))
"""


@pytest.mark.parametrize("configure, during, workers", [
    ("", 1, "cores"), ("threads.configure_threads(blas=2)", 2, 1)],
    ids=["default", "configured-after-numpy"])
def test_the_runtime_applies_its_layout_when_numpy_was_loaded_first(configure, during, workers):
    environment = {k: v for k, v in os.environ.items()
                   if k not in (*threads.BLAS_THREAD_VARIABLES, threads.KERNEL_THREADS_VARIABLE)}
    out = subprocess.run([sys.executable, "-c", LAYOUT_AFTER_NUMPY.format(configure=configure)],
                         env=environment, check=True, capture_output=True, text=True).stdout
    seen, after, kernel_workers = json.loads(out)
    assert seen == [during, during]                      # while the script runs
    assert after == 2                                    # the caller's threads, given back
    assert kernel_workers == (threads.available_cores() if workers == "cores" else workers)


@pytest.mark.parametrize("arguments, blas, kernels", [
    ("", "1", "cores"), ("blas=2", "2", "1"), ("kernels=3", "1", "3")],
    ids=["default", "blas-threads", "kernel-threads"])
def test_configure_threads_in_a_fresh_interpreter(arguments, blas, kernels):
    environment = {k: v for k, v in os.environ.items()
                   if k not in (*threads.BLAS_THREAD_VARIABLES, threads.KERNEL_THREADS_VARIABLE)}
    script = ("from kerasdml.runtime.local.threads import configure_threads; import json; "
              f"print(json.dumps(configure_threads({arguments})))")
    out = subprocess.run([sys.executable, "-c", script], env=environment, check=True,
                         capture_output=True, text=True).stdout
    values = json.loads(out)
    assert {values[name] for name in threads.BLAS_THREAD_VARIABLES} == {blas}
    assert values[threads.KERNEL_THREADS_VARIABLE] == (
        str(threads.available_cores()) if kernels == "cores" else kernels)


@pytest.mark.parametrize("axis", [0, 1], ids=["colSums", "rowSums"])
def test_compensated_axis_sums_in_parallel_slices_are_the_same_bits(monkeypatch, axis):
    from kerasdml.runtime.builtins import aggregates
    x = np.random.default_rng(2).standard_normal((300, 1000)) * 10.0 ** np.arange(-3, 7).repeat(100)
    x = x if axis == 0 else np.ascontiguousarray(x.T)
    monkeypatch.setenv(threads.KERNEL_THREADS_VARIABLE, "2")
    sliced = aggregates.axis_sum(x, axis)
    monkeypatch.setattr(aggregates, "_PARALLEL_CELLS", x.size + 1)
    assert_allclose(sliced, aggregates.axis_sum(x, axis), rtol=0, atol=0)


@pytest.mark.parametrize("right", ["matrix", "row-vector", "column-vector", "scalar"])
@pytest.mark.parametrize("function", [np.add, np.maximum, np.greater, np.true_divide],
                         ids=["add", "maximum", "greater", "divide"])
def test_elementwise_in_row_blocks_is_the_same_as_one_pass(monkeypatch, function, right):
    from kerasdml.runtime.local import elementwise
    rng = np.random.default_rng(3)
    left = rng.standard_normal((600, 500)).astype(np.float32)
    operand = {"matrix": rng.standard_normal((600, 500)).astype(np.float32),
               "row-vector": rng.standard_normal((1, 500)).astype(np.float32),
               "column-vector": rng.standard_normal((600, 1)).astype(np.float32),
               "scalar": 0.5}[right]
    monkeypatch.setenv(threads.KERNEL_THREADS_VARIABLE, "2")
    blocks = elementwise.binary(function, left, operand)
    whole = function(left, operand)
    assert blocks.dtype == whole.dtype
    np.testing.assert_array_equal(blocks, whole)


def test_run_chunks_raises_what_a_chunk_raised(monkeypatch):
    monkeypatch.setenv(threads.KERNEL_THREADS_VARIABLE, "2")

    def chunk(first, last):
        if first == 3:
            raise ValueError("chunk 3 failed")
        return first
    with pytest.raises(ValueError, match="chunk 3 failed"):
        parallel.run_chunks(chunk, parallel.split(6, 6))


@pytest.mark.parametrize("quota,expected", [("150000 100000", 2), ("max 100000", None),
                                            ("50000 100000", 1), ("garbled", None)])
def test_a_cgroup_cpu_quota_caps_the_cores(monkeypatch, tmp_path, quota, expected):
    # a container limited to 1.5 CPUs of a larger host gets 2 workers, not one per host core
    limit = tmp_path / "cpu.max"
    limit.write_text(quota + "\n")
    monkeypatch.setattr(threads, "_CGROUP_CPU_MAX", limit)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    threads._cgroup_quota_cores.cache_clear()
    try:
        assert threads.available_cores() == (64 if expected is None else expected)
        limit.write_text("100000 100000\n")      # read once per process: kernels ask every call
        assert threads.available_cores() == (64 if expected is None else expected)
    finally:
        threads._cgroup_quota_cores.cache_clear()
