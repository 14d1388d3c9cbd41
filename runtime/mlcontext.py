"""SystemML's Python MLContext on kerasdml's runtime, for notebooks written against it:

    from kerasdml.runtime.mlcontext import MLContext, dml, dmlFromFile
    ml = MLContext(spark)                       # a SparkSession or SparkContext, or None: local
    script = dml("Y = X %*% t(X); s = sum(Y)").input(X=numpy_array).output("Y", "s")
    results = ml.execute(script)
    results.get("Y").toNumPy(), results.get("s")       # a Matrix, a Python scalar
    results.get("Y", "s")                               # both, as a list

`.input(name=value)` binds a variable (numpy arrays, pandas or Spark DataFrames (an `__INDEX`
column, as toDF() writes it, orders the rows and is no data), scipy.sparse matrices, RDDs of CSV
lines, a Matrix result, scalars); `.input("$n", 3)` a command-line argument. Scripts run through
runtime.api.run_string, so they mean what they mean for `kerasdml run`. PyDML and HOP DAGs are
not supported.
"""
from __future__ import annotations

import functools
import os
import platform
import sys
import time
import urllib.error
import urllib.request
import weakref
from importlib import metadata
from pathlib import Path

import numpy as np

from .api import ROW_INDEX, is_spark_dataframe, run_string
from .context import PRECISIONS, Statistics
from .errors import DMLRuntimeError
from .spark.csv_lines import csv_lines_matrix, is_rdd, parse_lines
from .systemml_config import NO_GPU, SystemMLConfig, is_gpu_property
from .values import type_name

EXPLAIN_LEVELS = ("none", "hops", "runtime", "recompile_hops", "recompile_runtime")
NO_PYDML = ("PyDML is not supported by kerasdml: write the script in DML and use dml(...), "
            "dmlFromFile(...) or dmlFromUrl(...)")
URL_TIMEOUT_S = 60
ARGUMENT_HINT = '.input("${name}", ...)'   # a missing $name's error says how to pass it


class Matrix:
    """A matrix result: SystemML's Matrix, converted on request. It can be passed back to
    Script.input as it is."""

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
        from pyspark.sql.types import DoubleType, StructField, StructType

        frame = self.toPandas()
        frame.insert(0, ROW_INDEX, np.arange(1, len(frame) + 1, dtype=np.float64))
        # SystemML's schema, given: Spark cannot infer one from a matrix with no rows
        schema = StructType([StructField(str(name), DoubleType(), True) for name in frame.columns])
        return self._spark.createDataFrame(frame.astype(np.float64), schema=schema)


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
    """A DML script with its inputs and outputs (SystemML's Script). After an execute it also
    holds the run's symbol table (its inputs and outputs) and its results."""

    scriptType = "dml"

    def __init__(self, text: str, file: str = "<string>", base_dir: Path | None = None,
                 name: str | None = None):
        self.scriptString = text
        self._file = file
        self._base_dir = base_dir
        self._name = name
        self._inputs: dict = {}
        self._args: dict = {}
        self._outputs: list[str] = []
        self._symbols: dict = {}
        self._results: MLResults | None = None

    def __repr__(self) -> str:
        return f"Script({self._file})"

    def getScriptString(self) -> str:
        return self.scriptString

    def setScriptString(self, scriptString: str) -> "Script":
        self.scriptString = scriptString
        return self

    def getScriptExecutionString(self) -> str:
        """The text that runs: the script as written (inputs and outputs are bound to its
        variables directly, without the read and write statements SystemML added)."""
        return self.scriptString

    def getName(self) -> str | None:
        """The file, URL or resource the script came from (None for a string), or setName's."""
        return self._name

    def setName(self, name: str) -> "Script":
        self._name = name
        return self

    def getScriptType(self) -> str:
        return self.scriptType

    def isDML(self) -> bool:
        return True

    def isPYDML(self) -> bool:
        return False

    def input(self, *args, **kwargs) -> "Script":
        """.input(name, value) or .input(name=value, ...); a name starting with $ is a
        command-line argument."""
        if args and len(args) != 2:
            raise ValueError("input() takes a (name, value) pair or name=value keywords")
        pairs = [tuple(args)] if args else []
        for name, value in pairs + list(kwargs.items()):
            if value is None or isinstance(value, (dict, set)) and not hasattr(value, "toarray"):
                # no matrix nor scalar (a scipy dok_matrix is a dict, and a matrix)
                what = "None" if value is None else f"a {type(value).__name__}"
                raise ValueError(f"input {str(name)!r} is {what}: give a matrix (numpy, pandas, "
                                 "scipy.sparse, a Spark DataFrame, an RDD of CSV lines, a "
                                 "Matrix result) or a scalar")
            if isinstance(value, Matrix):  # a result passed back in
                value = value.toNumPy()
            elif _is_pandas_frame(value):
                value = _pandas_matrix(str(name), value)
            elif isinstance(value, np.generic):
                # numpy scalars (x.mean(), np.int64(3), np.bool_): the Python scalar, as py4j
                # passed them; np.float64 is a float and would otherwise stay numpy
                value = value.item()
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

    # --- results of the last execute ------------------------------------------------------------

    def results(self) -> MLResults | None:
        """The last execute's results; None before the script has run."""
        return self._results

    getResults = results

    def setResults(self, results: MLResults) -> "Script":
        self._results = results
        return self

    def _executed(self, results: MLResults) -> None:
        self._results = results
        self._symbols = {**self._inputs, **results._values}

    # --- clearing -------------------------------------------------------------------------------

    def clearInputs(self) -> "Script":
        self._inputs, self._args = {}, {}
        return self

    def clearOutputs(self) -> "Script":
        self._outputs = []
        return self

    def clearSymbolTable(self) -> "Script":
        self._symbols = {}
        return self

    def clearIO(self) -> "Script":
        """The inputs and outputs, not the symbol table."""
        return self.clearInputs().clearOutputs()

    def clearIOS(self) -> "Script":
        """The inputs, outputs and symbol table."""
        return self.clearIO().clearSymbolTable()

    def clearAll(self) -> "Script":
        """The script string too."""
        self.scriptString = None
        return self.clearIOS()

    # --- descriptions, in SystemML's layout -----------------------------------------------------

    def displayInputs(self) -> str:
        entries = [f"({_kind(value)}) {name}: {_summary(value)}" for name, value in
                   list(self._inputs.items()) + [(f"${k}", v) for k, v in self._args.items()]]
        return _section("Inputs", entries)

    def displayOutputs(self) -> str:
        values = self._results._values if self._results is not None else {}
        return _section("Outputs", [f"({_kind(values[name])}) {name}: {_summary(values[name])}"
                                    if name in values else name for name in self._outputs])

    def displayInputParameters(self) -> str:
        return _section("Input Parameters", [f"({_kind(value)}) ${name}: {_summary(value)}"
                                             for name, value in self._args.items()])

    def displayInputVariables(self) -> str:
        return _section("Input Variables", list(self._inputs))

    def displayOutputVariables(self) -> str:
        return _section("Output Variables", list(self._outputs))

    def displaySymbolTable(self) -> str:
        return _section("Symbol Table", [f"({_kind(value)}) {name}: {_summary(value)}"
                                         for name, value in self._symbols.items()])

    def info(self) -> str:
        """Script type, inputs, outputs (with their values after an execute), input parameters,
        input and output variables, the symbol table and the script string."""
        parts = [f"Script Type: {self.scriptType.upper()}\n", self.displayInputs(),
                 self.displayOutputs(), self.displayInputParameters(),
                 self.displayInputVariables(), self.displayOutputVariables(),
                 self.displaySymbolTable(), f"Script String:\n{self.scriptString or ''}\n"]
        return "\n".join(parts)


def _is_pandas_frame(value) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "columns")


def _pandas_matrix(name: str, frame) -> np.ndarray:
    """A pandas DataFrame as SystemML converted it (np.asarray(frame, dtype=float64)): numeric
    and boolean columns of mixed types make one matrix (numpy would make them objects), a
    missing value is NaN, the index is no data."""
    try:
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        columns = [str(c) for c in frame.columns
                   if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
        raise DMLRuntimeError(f"input `{name}`: a matrix takes numbers; the pandas column(s) "
                              f"{', '.join(columns) or '?'} are not numeric") from None


def _section(title: str, entries: list[str]) -> str:
    if not entries:
        return f"{title}:\nNone\n"
    return f"{title}:\n" + "".join(f"  [{k}] {entry}\n" for k, entry in enumerate(entries, 1))


def _kind(value) -> str:
    """The value's type as SystemML's listings name it."""
    for kind, types in (("Boolean", (bool, np.bool_)), ("Long", (int, np.integer)),
                        ("Double", (float, np.floating)), ("String", str)):
        if isinstance(value, types):
            return kind
    if isinstance(value, np.ndarray):
        return "Matrix"
    return "RDD" if is_rdd(value) else type(value).__name__


def _summary(value) -> str:
    """A short description that never runs a Spark job (a DataFrame's or an RDD's repr)."""
    if isinstance(value, np.ndarray):
        return type_name(value if value.ndim == 2 else value.reshape(len(value), -1))
    if hasattr(value, "to_numpy") and hasattr(value, "shape"):  # pandas
        return f"{value.shape[0]} rows x {value.shape[1] if value.ndim > 1 else 1} columns"
    return str(value)


# --- making scripts -----------------------------------------------------------------------------

def dml(scriptString: str) -> Script:
    """DML text, or (as SystemML took it) the path or URL of a script ending in .dml."""
    if not isinstance(scriptString, str):
        raise ValueError(f"dml() takes a string (DML text or a .dml path), got "
                         f"{type(scriptString).__name__}")
    if scriptString.endswith(".dml"):
        if scriptString.startswith("http"):
            return dmlFromUrl(scriptString)
        if not os.path.exists(scriptString):
            raise ValueError(f"path: {scriptString} does not exist")
        return dmlFromFile(scriptString)
    return Script(scriptString)


def dmlFromFile(filePath) -> Script:
    """A script read from a file; its source() paths resolve against the file's folder."""
    path = Path(filePath)
    try:
        text = path.read_text()
    except OSError as err:
        raise DMLRuntimeError(f"cannot read DML script {path}: {err.strerror}") from None
    return Script(text, str(path), path.resolve().parent, name=str(filePath))


def dmlFromResource(resourcePath: str) -> Script:
    """A script of kerasdml's DML library, named as SystemML's jar named its scripts
    ("/scripts/nn/layers/affine.dml" or "nn/layers/affine.dml")."""
    from kerasdml import dml_lib

    relative = str(resourcePath).lstrip("/")
    for candidate in (relative, relative.removeprefix("scripts/")):
        if candidate and (dml_lib.ROOT / candidate).is_file():
            script = dmlFromFile(dml_lib.ROOT / candidate)
            return script.setName(str(resourcePath))
    raise DMLRuntimeError(f"dmlFromResource({str(resourcePath)!r}): no such script in kerasdml's "
                          f"DML library ({dml_lib.ROOT}, the nn/ layers, losses and optimizers); "
                          "SystemML's bundled scripts (scripts/algorithms, ...) are not shipped: "
                          "download one and use dmlFromFile")


def dmlFromUrl(url: str) -> Script:
    """A script downloaded from a URL; its source() paths resolve against the working folder,
    then the DML library."""
    return Script(download_text(url, "DML script"), str(url), name=str(url))


def download_text(url, what: str, error=DMLRuntimeError) -> str:
    """The text at url (UTF-8), or `error` saying that `what` cannot be downloaded and why."""
    try:
        with urllib.request.urlopen(str(url), timeout=URL_TIMEOUT_S) as response:
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code} {err.reason}"
    except (OSError, ValueError) as err:  # URLError is an OSError
        reason = getattr(err, "reason", None) or err
    raise error(f"cannot download {what} {url}: {reason}") from None


def pydml(scriptString):
    raise NotImplementedError(NO_PYDML)


pydmlFromFile = pydmlFromResource = pydmlFromUrl = pydml


def getHopDAG(ml, script, lines=None, conf=None, apply_rewrites=True, with_subgraph=False):
    raise NotImplementedError("getHopDAG: kerasdml interprets DML without compiling it into HOP "
                              "DAGs; ml.setExplain(True) prints each matrix operation's plan "
                              "(size, LOCAL or SPARK) as the script runs")


# --- running them -------------------------------------------------------------------------------

class MLContext:
    """Runs Scripts: locally, or with a Spark session through the Spark planner."""

    def __init__(self, sc=None):
        self._spark = _session(sc)
        self._statistics = self._explain = False
        self._heavy_hitters: int | None = None   # None: Statistics.report's default
        self._explain_level = "runtime"
        self._config = SystemMLConfig()
        self._scripts = weakref.WeakSet()       # what close() releases

    def __repr__(self) -> str:
        return "MLContext"

    def execute(self, script: Script) -> MLResults:
        if not isinstance(script, Script):
            raise ValueError("execute() takes a Script made by dml(...) or dmlFromFile(...)")
        if script.scriptString is None:
            raise ValueError("the script has no text (clearAll() removed it): "
                             "setScriptString(...) gives it one")
        spark, inputs = self._bound_inputs(script)
        stats = Statistics() if self._statistics else None
        explain = sys.stdout if self._explain and self._explain_level != "none" else None
        values = run_string(bound_reads(script.scriptString, inputs), inputs=inputs,
                            args=script._args, outputs=script._outputs, file=script._file,
                            base_dir=script._base_dir, spark=spark, explain=explain,
                            stats=stats, precision=self._config.precision,
                            argument_hint=ARGUMENT_HINT)
        if stats is not None:
            report = stats.report() if self._heavy_hitters is None else \
                stats.report(top=self._heavy_hitters)
            print(report, file=sys.stdout)
        results = MLResults(values, self._spark)
        script._executed(results)
        self._scripts.add(script)
        return results

    def _bound_inputs(self, script: Script) -> tuple:
        """(what run_string runs on, the inputs): RDDs of CSV lines become matrices,
        distributed by the run's own Spark runtime, or parsed here when running locally."""
        inputs = dict(script._inputs)
        frames = [name for name, value in inputs.items() if is_spark_dataframe(value)]
        if frames and self._spark is None:  # a local run has no Spark to read it with
            raise DMLRuntimeError(f"input `{frames[0]}` is a Spark DataFrame and this MLContext "
                                  "runs locally: create it with MLContext(spark) (or "
                                  "MLContext(sc)) to read it")
        rdds = [name for name, value in inputs.items() if is_rdd(value)]
        if not rdds:
            return self._spark, inputs
        precision = self._config.precision
        if self._spark is None:
            for name in rdds:
                inputs[name] = parse_lines(inputs[name].collect(), f"input `{name}`")
            return None, inputs
        from .spark.session import spark_runtime

        runtime = spark_runtime(self._spark, precision)
        for name in rdds:
            inputs[name] = csv_lines_matrix(runtime, inputs[name], name, PRECISIONS[precision])
        return runtime, inputs

    # --- statistics and explain -----------------------------------------------------------------

    def setStatistics(self, statistics: bool) -> "MLContext":
        self._statistics = bool(statistics)
        return self

    def setStatisticsMaxHeavyHitters(self, maxHeavyHitters: int) -> "MLContext":
        """How many of the heaviest operations the statistics list."""
        if isinstance(maxHeavyHitters, bool) or not isinstance(maxHeavyHitters, (int, np.integer)) \
                or maxHeavyHitters < 0:
            raise ValueError(f"setStatisticsMaxHeavyHitters takes a count >= 0, got "
                             f"{maxHeavyHitters!r}")
        self._heavy_hitters = int(maxHeavyHitters)
        return self

    def setExplain(self, explain: bool) -> "MLContext":
        self._explain = bool(explain)
        return self

    def setExplainLevel(self, explainLevel: str) -> "MLContext":
        """SystemML's levels; with setExplain(True), `none` prints nothing and every other
        level prints kerasdml's one plan: each matrix operation as it runs."""
        level = str(getattr(explainLevel, "name", explainLevel)).lower()
        if level not in EXPLAIN_LEVELS:
            raise ValueError(f"explain level must be one of {', '.join(EXPLAIN_LEVELS)} (any "
                             f"case), got {explainLevel!r}")
        self._explain_level = level
        return self

    def isStatistics(self) -> bool:
        return self._statistics

    def isExplain(self) -> bool:
        return self._explain

    # --- configuration --------------------------------------------------------------------------

    def setConfigProperty(self, propertyName: str, propertyValue) -> "MLContext":
        """A SystemML property (runtime/systemml_config.py): sysml.floating.point.precision
        sets the precision scripts run in; the others are kept without effect."""
        self._config.set(propertyName, propertyValue)
        if is_gpu_property(str(propertyName)):
            print(NO_GPU.format(name=propertyName), file=sys.stderr)
        return self

    def setConfig(self, configFilePath) -> "MLContext":
        """Every property of a SystemML-config.xml file."""
        names = self._config.load(configFilePath)
        gpu = [name for name in names if is_gpu_property(name)]
        if gpu:
            print(NO_GPU.format(name=", ".join(gpu)), file=sys.stderr)
        return self

    def resetConfig(self) -> "MLContext":
        self._config.reset()
        return self

    def setGPU(self, enable: bool) -> "MLContext":
        if enable:
            print(NO_GPU.format(name="setGPU(True)"), file=sys.stderr)
        return self

    def setForceGPU(self, enable: bool) -> "MLContext":
        if enable:
            print(NO_GPU.format(name="setForceGPU(True)"), file=sys.stderr)
        return self

    def isGPU(self) -> bool:
        """Always False: scripts never run on a GPU."""
        return False

    isForceGPU = isGPU

    # --- the project ----------------------------------------------------------------------------

    def version(self) -> str:
        return metadata.version("kerasdml")

    def buildTime(self) -> str:
        """When the installed kerasdml was built (its metadata written), in UTC."""
        dist = metadata.distribution("kerasdml")
        found = getattr(dist, "_path", None)  # the dist-info or egg-info folder
        place = Path(found) if found is not None else Path(__file__).parent
        stamp = time.gmtime(place.stat().st_mtime)
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", stamp)

    def info(self) -> str:
        """The project's information, one `Name: value` line each, as SystemML listed its
        manifest."""
        dist = metadata.distribution("kerasdml")
        spark = self._spark
        entries = {"Name": dist.metadata["Name"], "Version": dist.version,
                   "Summary": dist.metadata["Summary"], "Build-Time": self.buildTime(),
                   "Requires-Python": dist.metadata["Requires-Python"],
                   "Python-Version": platform.python_version(), "NumPy-Version": np.__version__,
                   "Spark-Version": spark.version if spark is not None else "none (runs locally)"}
        if spark is not None:
            entries["Spark-Master"] = spark.conf.get("spark.master", "unknown")
        return "\n".join(f"{key}: {value}" for key, value in entries.items())

    def close(self) -> "MLContext":
        """Releases the symbol tables of the scripts this context ran (the matrices they
        hold); the Spark session stays open for other use."""
        for script in list(self._scripts):
            script.clearSymbolTable()
        self._scripts.clear()
        return self


def bound_reads(text: str, inputs) -> str:
    """The script with each `X = read(...)` of a variable bound with .input(X=...) reading
    nothing: the variable keeps the bound value, as SystemML's MLContext had it (its
    setAppropriateVarsForRead), so an algorithm script's `X = read($X)` runs on the input without
    $X. The call's text becomes the variable's name, padded so positions stay. Function bodies
    keep their reads; a script that does not parse is left for the run to report."""
    if not inputs or "read" not in text:
        return text
    return _without_reads(text, frozenset(map(str, inputs)))


@functools.lru_cache(maxsize=64)
def _without_reads(text: str, names: frozenset) -> str:
    """bound_reads for the bound variables `names`; cached as parser.parse is, so a script
    executed again (a notebook's loop) is not parsed again here."""
    from lark import Token, Tree
    from lark.exceptions import LarkError

    from .parser import syntax_tree
    try:
        tree = syntax_tree(text)
    except LarkError:
        return text
    spans = []

    def visit(node):
        for child in node.children:
            if not isinstance(child, Tree) or child.data == "function_def":
                continue
            if child.data == "assign" and len(child.children) == 2:
                target, value = child.children
                if isinstance(target, Token) and str(target) in names \
                        and isinstance(value, Tree) and value.data == "call" \
                        and str(value.children[0]) == "read":
                    spans.append((value.meta.start_pos, value.meta.end_pos, str(target)))
                    continue
            visit(child)

    visit(tree)
    for start, end, name in sorted(spans, reverse=True):
        rest = "".join(c if c == "\n" else " " for c in text[start + len(name):end])
        text = text[:start] + name + rest + text[end:]
    return text


def _session(sc):
    """A SparkSession from a SparkSession or SparkContext; None stays None (local runs)."""
    if sc is None or hasattr(sc, "createDataFrame"):
        return sc
    if hasattr(sc, "parallelize"):  # a SparkContext
        from pyspark.sql import SparkSession
        return SparkSession.builder.getOrCreate()
    raise ValueError(f"MLContext takes a SparkSession or SparkContext (or None), got "
                     f"{type(sc).__name__}")


# The rest of the `systemml` package: a notebook ported by its import line (`from systemml import
# matrix` -> `from kerasdml.runtime.mlcontext import matrix`) learns at the import what to do
# (an AttributeError would become Python's bare "cannot import name")
SYSTEMML_MATRIX_API = ("matrix", "eval", "solve", "DMLOp", "set_lazy", "setSparkContext", "full",
                       "seq", "random", "debug_array_conversion")
SYSTEMML_CONVERTERS = ("convertToMatrixBlock", "convertToNumPyArr", "convertToPandasDF",
                       "convertToLabeledDF", "getNumCols", "SUPPORTED_TYPES",
                       "convertImageToNumPyArr", "getDatasetMean", "convert_caffemodel",
                       "convert_lmdb_to_jpeg")


def __getattr__(name: str):
    if name in SYSTEMML_MATRIX_API:
        raise ImportError(f"systemml.{name} (SystemML's numpy-like matrix API) is not in "
                          "kerasdml: write the computation in DML and run it with "
                          "MLContext().execute(dml(...).input(...).output(...))",
                          name=name, path=__file__)
    if name in SYSTEMML_CONVERTERS:
        raise ImportError(f"systemml.{name} (SystemML's converters) is not in kerasdml: "
                          "Script.input takes numpy arrays, pandas and Spark DataFrames and "
                          "scipy.sparse matrices as they are, and a result Matrix converts with "
                          ".toNumPy(), .toPandas() or .toDF()", name=name, path=__file__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MLContext", "MLResults", "Matrix", "Script", "dml", "dmlFromFile", "dmlFromResource",
           "dmlFromUrl", "getHopDAG", "pydml", "pydmlFromFile", "pydmlFromResource",
           "pydmlFromUrl"]
