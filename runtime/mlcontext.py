"""SystemML's Python MLContext on kerasdml's runtime, for notebooks written against it:

    from kerasdml.runtime.mlcontext import MLContext, dml, dmlFromFile
    ml = MLContext(spark)                       # a SparkSession or SparkContext, or None: local
    script = dml("Y = X %*% t(X); s = sum(Y)").input(X=numpy_array).output("Y", "s")
    results = ml.execute(script)
    results.get("Y").toNumPy(), results.get("s")       # a Matrix, a Python scalar
    results.get("Y", "s")                               # both, as a list

`.input(name=value)` binds a variable (numpy arrays, pandas or Spark DataFrames, scalars);
`.input("$n", 3)` a command-line argument. Scripts run through runtime.api.run_string, so they
mean what they mean for `kerasdml run`. PyDML is not supported.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .api import run_string
from .context import Statistics
from .errors import DMLRuntimeError


class Matrix:
    """A matrix result: SystemML's Matrix, converted on request."""

    def __init__(self, array: np.ndarray, spark=None):
        self._array = np.asarray(array)
        self._spark = spark

    def __repr__(self) -> str:
        return f"Matrix({self._array.shape[0]}x{self._array.shape[1]})"

    def toNumPy(self) -> np.ndarray:
        return self._array

    def toPandas(self):
        import pandas as pd
        return pd.DataFrame(self._array, columns=[f"C{k}" for k in
                                                  range(1, self._array.shape[1] + 1)])

    def toDF(self):
        """A Spark DataFrame with SystemML's columns: __INDEX (1-based), then C1, C2, ..."""
        if self._spark is None:
            raise DMLRuntimeError("Matrix.toDF() needs a Spark session: MLContext(spark)")
        frame = self.toPandas()
        frame.insert(0, "__INDEX", np.arange(1, len(frame) + 1, dtype=np.float64))
        return self._spark.createDataFrame(frame)


class MLResults:
    def __init__(self, values: dict, spark=None):
        self._values = values
        self._spark = spark

    def __repr__(self) -> str:
        return "MLResults"

    def get(self, *outputs):
        """One output (a Matrix, or a Python scalar), or a list of them."""
        results = [self._wrap(name) for name in outputs]
        return results[0] if len(results) == 1 else results

    def _wrap(self, name: str):
        if name not in self._values:
            raise DMLRuntimeError(f"`{name}` is not an output of the script; declare it with "
                                  ".output(...) before execute")
        value = self._values[name]
        return Matrix(value, self._spark) if isinstance(value, np.ndarray) else value


class Script:
    """A DML script with its inputs and outputs (SystemML's Script)."""

    def __init__(self, text: str, file: str = "<string>", base_dir: Path | None = None):
        self.scriptString = text
        self._file = file
        self._base_dir = base_dir
        self._inputs: dict = {}
        self._args: dict = {}
        self._outputs: list[str] = []

    def __repr__(self) -> str:
        return f"Script({self._file})"

    def getScriptString(self) -> str:
        return self.scriptString

    def input(self, *args, **kwargs) -> "Script":
        """.input(name, value) or .input(name=value, ...); a name starting with $ is a
        command-line argument."""
        if args and len(args) != 2:
            raise ValueError("input() takes a (name, value) pair or name=value keywords")
        pairs = [tuple(args)] if args else []
        for name, value in pairs + list(kwargs.items()):
            if str(name).startswith("$"):
                self._args[str(name)[1:]] = value
            else:
                self._inputs[str(name)] = value
        return self

    def output(self, *names) -> "Script":
        self._outputs += [str(name) for name in names]
        return self

    def getInputVariables(self) -> list[str]:
        return list(self._inputs) + [f"${name}" for name in self._args]

    def getOutputVariables(self) -> list[str]:
        return list(self._outputs)

    def clearAll(self) -> "Script":
        self._inputs, self._args, self._outputs = {}, {}, []
        return self


def dml(scriptString: str) -> Script:
    return Script(scriptString)


def dmlFromFile(filePath) -> Script:
    """A script read from a file; its source() paths resolve against the file's folder."""
    path = Path(filePath)
    try:
        text = path.read_text()
    except OSError as err:
        raise DMLRuntimeError(f"cannot read DML script {path}: {err.strerror}") from None
    return Script(text, str(path), path.resolve().parent)


class MLContext:
    """Runs Scripts: locally, or with a Spark session through the Spark planner."""

    def __init__(self, sc=None):
        self._spark = _session(sc)
        self._statistics = self._explain = False

    def __repr__(self) -> str:
        return "MLContext"

    def execute(self, script: Script) -> MLResults:
        if not isinstance(script, Script):
            raise ValueError("execute() takes a Script made by dml(...) or dmlFromFile(...)")
        stats = Statistics() if self._statistics else None
        explain = sys.stdout if self._explain else None
        values = run_string(script.scriptString, inputs=script._inputs, args=script._args,
                            outputs=script._outputs, file=script._file,
                            base_dir=script._base_dir, spark=self._spark, explain=explain,
                            stats=stats)
        if stats is not None:
            print(stats.report(), file=sys.stdout)
        return MLResults(values, self._spark)

    def setStatistics(self, statistics: bool) -> "MLContext":
        self._statistics = bool(statistics)
        return self

    def setExplain(self, explain: bool) -> "MLContext":
        self._explain = bool(explain)
        return self

    def isStatistics(self) -> bool:
        return self._statistics

    def isExplain(self) -> bool:
        return self._explain

    def setGPU(self, enable: bool) -> "MLContext":
        if enable:
            print("kerasdml has no GPU backend: scripts run on the CPU", file=sys.stderr)
        return self

    setForceGPU = setGPU

    def version(self) -> str:
        from importlib.metadata import version
        return version("kerasdml")


def _session(sc):
    """A SparkSession from a SparkSession or SparkContext; None stays None (local runs)."""
    if sc is None or hasattr(sc, "createDataFrame"):
        return sc
    if hasattr(sc, "parallelize"):  # a SparkContext
        from pyspark.sql import SparkSession
        return SparkSession.builder.getOrCreate()
    raise ValueError(f"MLContext takes a SparkSession or SparkContext (or None), got "
                     f"{type(sc).__name__}")


__all__ = ["MLContext", "MLResults", "Matrix", "Script", "dml", "dmlFromFile"]
