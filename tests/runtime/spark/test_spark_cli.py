"""`kerasdml run --master ...` in subprocesses (each run starts its own Spark): a real standalone
cluster (master and worker on 127.0.0.1) whose executors' Python cannot import kerasdml (so the
shipped zip is what they run), a task failing on its first attempt, an unreachable master."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
X = matrix(seq(1, 40), rows=8, cols=5) / 7
Y = t(X) %*% (X * 2 + 1)
print(toString(Y))
print(sum(rowMaxs(X)))
R = matrix(0, rows=8, cols=1)
parfor (i in 1:8) {
  R[i, 1] = sum(X[i, ] ^ 2)
}
print(toString(t(R)))
"""


def kerasdml(*args: str, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kerasdml.compiler.launch", "run", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "script.dml"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def local_output(script) -> str:
    result = kerasdml(str(script))
    assert result.returncode == 0, result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def bare_python(folder: Path) -> Path:
    """A Python for the executors with numpy and pyspark but without the installed kerasdml:
    site-packages on the path, its .pth files (which install the editable finder) not run."""
    wrapper = folder / "bare-python"
    site = sysconfig.get_paths()["purelib"]
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="$PYTHONPATH:{site}" exec {sys.executable} -S "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_standalone_cluster_runs_the_shipped_project(script, local_output, tmp_path):
    import pyspark

    python = bare_python(tmp_path)
    probe = subprocess.run([str(python), "-c", "import kerasdml"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'kerasdml'" in probe.stderr
    spark_class = str(Path(pyspark.__file__).parent / "bin" / "spark-class")
    port = free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(tmp_path / "work")}
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(free_port())],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        wait_for_port(port)
        worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker",
                                   f"spark://127.0.0.1:{port}", "--host", "127.0.0.1", "--cores", "2",
                                   "--memory", "1g", "--webui-port", str(free_port())],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = kerasdml(str(script), "--master", f"spark://127.0.0.1:{port}", "--exec", "spark",
                          "--conf", "spark.kerasdml.blockSize=3", "--conf", "spark.executor.memory=512m",
                          env={"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": str(python)})
    finally:
        for process in (worker, master):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == local_output


def test_a_failed_task_is_retried_and_the_result_is_unchanged(script, local_output):
    result = kerasdml(str(script), "--master", "local[2,2]", "--exec", "spark",
                      "--conf", "spark.kerasdml.blockSize=3", "--conf", "spark.ui.enabled=false",
                      "--conf", "spark.kerasdml.test.failFirstAttempt=true",
                      "--conf", "spark.kerasdml.logLevel=WARN")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "injected failure of a task's first attempt" in result.stderr  # it did fail once
    assert result.stdout == local_output


def test_without_retries_the_injected_failure_is_one_clear_error(script):
    result = kerasdml(str(script), "--master", "local[2]", "--exec", "spark",
                      "--conf", "spark.kerasdml.test.failFirstAttempt=true",
                      "--conf", "spark.ui.enabled=false")
    assert result.returncode == 1
    assert "runtime error: a Spark job failed: RuntimeError: injected failure" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_master_fails_fast_with_one_message(script):
    port = free_port()  # nothing listens there
    started = time.monotonic()
    result = kerasdml(str(script), "--master", f"spark://127.0.0.1:{port}", timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr.strip() == (f"cannot reach the Spark master spark://127.0.0.1:{port}: Connection "
                                     "refused (is the master running, and are host and port right?)")
    assert result.stdout == ""
    print(f"unreachable master reported after {elapsed:.1f} s")


def test_exec_spark_without_a_master_is_a_usage_error(script):
    result = kerasdml(str(script), "--exec", "spark")
    assert result.returncode == 1 and "--exec spark needs --master" in result.stderr
