"""Starting Spark for a run: the session from a master URL and `key=value` settings, the project
shipped to the executors, and the planner built from the run's options.

The executors need kerasdml's Python packages (and dml_lib, which they import): they are zipped
once per process from the installed package and added with SparkContext.addPyFile, so a cluster
whose Python has only numpy and pyspark runs our tasks.

Settings of our own (given with --conf like Spark's; Spark passes on only spark.* names):
  spark.kerasdml.blockSize       rows/cols of a block (default 1000)
  spark.kerasdml.memoryBudget    the driver memory budget of hybrid mode (default: 70% of
                                 spark.driver.memory, 1g by default; SystemDS takes 70% of heap)
  spark.kerasdml.sparkMinCells   spark mode: the smallest matrix run on Spark (default 1 cell)
  spark.kerasdml.broadcastLimit  largest side broadcast by a matrix multiply (default 256m)
  spark.kerasdml.remoteParforBytes  hybrid mode: a parfor without mode= runs as Spark tasks when
                                 the matrices its body reads reach this size (default 64m)
  spark.kerasdml.streamGradients  paramserv workers exchanging every batch send their large
                                 gradients while upd still runs (default: unless the workers
                                 fill every core of a local master; also read as a local
                                 property of the calling thread)
  spark.kerasdml.test.failFirstAttempt  tests only: the first attempt of one task fails
  spark.kerasdml.logLevel        Spark's log level during a run (default FATAL: errors are
                                 reported once, as DML errors)
The executors' Python defaults to the driver's own interpreter (spark.pyspark.python).
"""
from __future__ import annotations

import importlib.util
import os
import re
import socket
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import DMLError
from ..planner import Planner, parse_bytes
from .runtime import DEFAULT_BLOCK, SparkRuntime
from .settings import setting

_STANDALONE = re.compile(r"spark://(.+)")
_SHIPPED: dict[str, str] = {}
CONNECT_TIMEOUT_S = 3.0


class SparkUnavailableError(DMLError):
    """Spark could not be started or its master could not be reached."""


def check_master(master: str) -> None:
    """Fails fast on a standalone master that does not answer (Spark itself retries for a minute)."""
    found = _STANDALONE.fullmatch(master)
    if not found:
        return
    for address in found.group(1).split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
                return
        except (OSError, ValueError) as err:
            reason = getattr(err, "strerror", None) or str(err)
    raise SparkUnavailableError(f"cannot reach the Spark master {master}: {reason} (is the master "
                                "running, and are host and port right?)")


def package_zip() -> str:
    """A zip of the kerasdml packages for the executors, built once per process."""
    if "zip" in _SHIPPED:
        return _SHIPPED["zip"]
    folder = tempfile.mkdtemp(prefix="kerasdml-ship-")
    target = os.path.join(folder, "kerasdml.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("compiler", "runtime", "dml_lib"):
            # located, not imported: the runtime does not depend on the compiler
            root = Path(importlib.util.find_spec(f"kerasdml.{name}").origin).parent
            archive.writestr("kerasdml/__init__.py", "") if name == "compiler" else None
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    archive.write(path, f"kerasdml/{name}/{path.relative_to(root)}")
    _SHIPPED["zip"] = target
    return target


def ship_project(sc) -> None:
    if getattr(sc, "_kerasdml_shipped", False):
        return
    sc.addPyFile(package_zip())
    sc._kerasdml_shipped = True


def spark_session(master: str | None = None, conf: dict | None = None):
    """The active Spark session, or a new one for `master` with the given settings."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError("running on Spark needs pyspark: pip install 'kerasdml[spark]'") from None
    if master:
        check_master(master)
    builder = SparkSession.builder.appName("kerasdml")
    if master:
        builder = builder.master(master)
    settings = {"spark.ui.showConsoleProgress": "false", **(conf or {})}
    if "PYSPARK_PYTHON" not in os.environ and "spark.pyspark.python" not in settings:
        os.environ["PYSPARK_PYTHON"] = sys.executable  # read when the context starts
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as err:
        raise SparkUnavailableError(f"cannot start Spark with master {master or '(default)'}: "
                                    f"{str(err).splitlines()[0][:300]}") from None
    session.sparkContext.setLogLevel(setting(session.sparkContext, "spark.kerasdml.logLevel", "FATAL"))
    ship_project(session.sparkContext)
    return session


CONNECT_UNSUPPORTED = ("distributed block matrices need a SparkContext (their data are RDDs), "
                       "which a Spark Connect session does not have: run DML scripts, remote "
                       "parfor and block-matrix scoring on a classic session; scoring a "
                       "DataFrame (KerasDMLModel.transform, CompiledModel.predict of a "
                       "DataFrame) runs on Connect")


def _context_of(spark):
    if "connect" in type(spark).__module__:
        raise SparkUnavailableError(CONNECT_UNSUPPORTED)
    return getattr(spark, "sparkContext", spark)


def spark_runtime(spark, precision: str = "double") -> SparkRuntime:
    sc = _context_of(spark)
    ship_project(sc)
    block = int(setting(sc, "spark.kerasdml.blockSize", str(DEFAULT_BLOCK)))
    limit = parse_bytes(setting(sc, "spark.kerasdml.broadcastLimit", "256m"))
    fail = setting(sc, "spark.kerasdml.test.failFirstAttempt", "false").lower() == "true"
    return SparkRuntime(sc, block=block, broadcast_limit=limit, precision=precision,
                        fail_first_attempt=fail)


def make_planner(exec_mode: str | None, spark=None, explain=None, precision: str = "double") -> Planner:
    """The run's planner: hybrid by default with Spark, singlenode without."""
    runtime = spark if isinstance(spark, SparkRuntime) else (
        spark_runtime(spark, precision) if spark is not None else None)
    mode = exec_mode or ("hybrid" if runtime is not None else "singlenode")
    if runtime is None:
        return Planner(mode, None, explain=explain)
    sc = runtime.sc
    driver = parse_bytes(setting(sc, "spark.driver.memory", "1g"))
    budget = runtime.memory_budget or parse_bytes(setting(sc, "spark.kerasdml.memoryBudget",
                                                          str(int(0.7 * driver))))
    min_cells = int(setting(sc, "spark.kerasdml.sparkMinCells", "1"))
    parfor_bytes = runtime.parfor_bytes or parse_bytes(setting(sc, "spark.kerasdml.remoteParforBytes",
                                                               "64m"))
    return Planner(mode, runtime, budget=budget, min_cells=min_cells, explain=explain,
                   parfor_bytes=parfor_bytes, collect_limit=driver // 4)
