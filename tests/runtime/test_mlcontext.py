"""SystemML's Python MLContext (kerasdml.runtime.mlcontext) on the runtime: inputs, $arguments,
outputs as Matrix objects or scalars, files, resources and URLs, statistics, explain and
configuration, script information, and Spark DataFrames and RDDs."""
import re

import numpy as np
import pytest

from support.local_http import serving
from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLRuntimeError
from kerasdml.runtime.mlcontext import (Matrix, MLContext, dml, dmlFromFile, dmlFromResource,
                                        dmlFromUrl, getHopDAG, pydml, pydmlFromFile)

X = np.arange(6, dtype=np.float64).reshape(2, 3)


def test_inputs_arguments_and_outputs_as_systemml_returned_them():
    ml = MLContext()
    script = dml("Y = X %*% t(X) * $k; s = sum(Y); name = $who").input(X=X).input("$k", 2) \
        .input("$who", "me").output("Y", "s", "name")
    results = ml.execute(script)
    Y = results.get("Y")
    assert isinstance(Y, Matrix)
    np.testing.assert_array_equal(Y.toNumPy(), X @ X.T * 2)
    assert results.get("s") == pytest.approx(float(np.sum(X @ X.T * 2)))
    assert results.get("name") == "me"
    matrix, total = results.get("Y", "s")
    assert total == results.get("s") and matrix.toNumPy().shape == (2, 2)
    frame = Y.toPandas()
    assert list(frame.columns) == ["C1", "C2"] and np.array_equal(frame.to_numpy(), Y.toNumPy())
    assert script.getInputVariables() == ["X", "$k", "$who"]


def test_a_script_file_sources_relative_to_itself(tmp_path):
    (tmp_path / "lib.dml").write_text("twice = function(double x) return (double y) { y = 2 * x }")
    (tmp_path / "main.dml").write_text('source("lib.dml") as lib\nz = lib::twice($x)\n')
    results = MLContext().execute(dmlFromFile(tmp_path / "main.dml").input("$x", 4.5).output("z"))
    assert results.get("z") == 9.0


def test_statistics_explain_and_clear_errors(capsys):
    ml = MLContext().setStatistics(True)
    assert ml.isStatistics() and not ml.isExplain()
    ml.execute(dml("s = sum(X)").input(X=X).output("s"))
    assert "Heavy hitter operations" in capsys.readouterr().out
    with pytest.raises(DMLRuntimeError, match="not an output"):
        MLContext().execute(dml("s = 1").output("s")).get("t")
    with pytest.raises(DMLRuntimeError, match="needs a Spark session"):
        MLContext().execute(dml("Y = X").input(X=X).output("Y")).get("Y").toDF()
    with pytest.raises(ValueError, match="SparkSession"):
        MLContext(42)
    assert MLContext().setGPU(True) is not None
    assert "no GPU backend" in capsys.readouterr().err


@pytest.mark.slow
def test_with_a_spark_session_results_convert_to_dataframes(spark):
    ml = MLContext(spark)
    frame = spark.createDataFrame([(1.0, 2.0), (3.0, 4.0)], ["a", "b"])
    Y = ml.execute(dml("Y = X * 2").input(X=frame).output("Y")).get("Y")
    np.testing.assert_array_equal(Y.toNumPy(), [[2.0, 4.0], [6.0, 8.0]])
    rows = Y.toDF().orderBy("__INDEX").collect()
    assert [tuple(row) for row in rows] == [(1.0, 2.0, 4.0), (2.0, 6.0, 8.0)]
    assert MLContext(spark.sparkContext)._spark is not None


@pytest.mark.slow
def test_a_dataframes_index_column_orders_the_rows_and_is_no_data(spark):
    """SystemML's __INDEX column (Matrix.toDF() writes it): dropped, and the rows placed by
    it, beside numeric columns or a vector column."""
    from pyspark.ml.linalg import Vectors

    ml = MLContext(spark)
    M = ml.execute(dml("X = matrix(seq(1, 6), rows=3, cols=2)").output("X")).get("X")
    df = M.toDF()
    script = dml("c = ncol(D); s = sum(D); Y = D").output("c", "s", "Y")
    results = ml.execute(script.input(D=df.orderBy(df["__INDEX"].desc()).coalesce(1)))
    assert results.get("c", "s") == [2, 21.0]
    np.testing.assert_array_equal(results.get("Y").toNumPy(), [[1, 2], [3, 4], [5, 6]])
    vectors = spark.createDataFrame([(3, Vectors.dense([5.0, 6.0])), (1, Vectors.dense([1.0, 2.0])),
                                     (2, Vectors.sparse(2, {1: 4.0}))], ["__INDEX", "features"])
    Y = ml.execute(dml("Y = D").input(D=vectors).output("Y")).get("Y")
    np.testing.assert_array_equal(Y.toNumPy(), [[1, 2], [0, 4], [5, 6]])
    gap = spark.createDataFrame([(1.0, 7.0), (3.0, 8.0)], ["__INDEX", "C1"])
    with pytest.raises(DMLRuntimeError, match=r"input `D`: the __INDEX column must number the "
                                              r"rows 1\.\.2, each once"):
        ml.execute(dml("s = sum(D)").input(D=gap).output("s"))


def test_scipy_sparse_inputs_are_their_dense_matrices():
    sparse = pytest.importorskip("scipy.sparse")
    A = sparse.random(7, 5, density=0.3, format="csr", random_state=1)
    for matrix in (A, A.tocsc(), A.tocoo(), sparse.csr_array(A)):
        results = MLContext().execute(dml("s = sum(A); nz = sum(A != 0); Y = A").input(A=matrix)
                                      .output("s", "nz", "Y"))
        assert results.get("s", "nz") == [pytest.approx(A.sum()), A.nnz]
        np.testing.assert_array_equal(results.get("Y").toNumPy(), A.toarray())


def test_a_missing_argument_says_how_mlcontext_passes_it():
    script = dml("n = $nrows\nX = rand(rows=n, cols=2)").output("X")
    with pytest.raises(DMLRuntimeError, match=re.escape('pass it with .input("$nrows", ...)')):
        MLContext().execute(script)
    with pytest.raises(DMLRuntimeError, match="pass it with -nvargs nrows=..."):  # the CLI's way
        run_string("n = $nrows", outputs=["n"])


def test_a_result_matrix_is_passed_back_as_an_input():
    ml = MLContext()
    W = ml.execute(dml("W = matrix(seq(1, 6), rows=2, cols=3)").output("W")).get("W")
    script = dml("s = sum(W); V = W * 2").input(W=W).output("s", "V")
    results = ml.execute(script)
    assert results.get("s") == 21.0
    np.testing.assert_array_equal(results.get("V").toNumPy(), W.toNumPy() * 2)


def test_the_guides_script_factories(tmp_path, monkeypatch):
    from kerasdml import dml_lib

    affine = (dml_lib.ROOT / "nn/layers/affine.dml").read_text()
    for name in ("/scripts/nn/layers/affine.dml", "nn/layers/affine.dml"):
        script = dmlFromResource(name)
        assert script.getScriptString() == affine and script.getName() == name
    MLContext().execute(dmlFromResource("scripts/nn/layers/glu.dml"))  # its source() lines resolve
    with pytest.raises(DMLRuntimeError, match="bundled scripts .* are not shipped"):
        dmlFromResource("/scripts/algorithms/Univar-Stats.dml")
    with pytest.raises(NotImplementedError, match="PyDML is not supported"):
        pydml("x = 1")
    with pytest.raises(NotImplementedError, match="PyDML is not supported"):
        pydmlFromFile("x.pydml")
    with pytest.raises(NotImplementedError, match="HOP DAGs"):
        getHopDAG(MLContext(), dml("x = 1"))
    # dml() takes the path of a .dml file, as SystemML's did
    (tmp_path / "sums.dml").write_text("s = sum(X)\n")
    monkeypatch.chdir(tmp_path)
    for path in ("sums.dml", str(tmp_path / "sums.dml")):
        script = dml(path).input(X=X).output("s")
        assert script.getName() == path and MLContext().execute(script).get("s") == 15.0
    with pytest.raises(ValueError, match="path: missing.dml does not exist"):
        dml("missing.dml")
    with pytest.raises(ValueError, match="takes a string"):
        dml(42)


def test_dml_from_url_downloads_the_script(tmp_path):
    import socket

    (tmp_path / "twice.dml").write_text("y = 2 * $x\n")
    with serving(tmp_path) as url:
        for script in (dmlFromUrl(f"{url}/twice.dml"), dml(f"{url}/twice.dml")):
            assert script.getName() == f"{url}/twice.dml"
            assert MLContext().execute(script.input("$x", 4).output("y")).get("y") == 8
        with pytest.raises(DMLRuntimeError, match="cannot download DML script .*HTTP 404"):
            dmlFromUrl(f"{url}/missing.dml")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(DMLRuntimeError, match="cannot download DML script"):
        dmlFromUrl(f"http://127.0.0.1:{closed}/x.dml")
    with pytest.raises(DMLRuntimeError, match="cannot download DML script"):
        dmlFromUrl("not a url")


def test_script_information_symbol_table_and_clearing(tmp_path):
    ml = MLContext()
    script = dml("Y = X * $k; s = sum(Y)").input(X=X).input("$k", 2).output("Y", "s")
    assert script.results() is None and script.getName() is None
    assert script.isDML() and not script.isPYDML() and script.getScriptType() == "dml"
    before = script.info()
    assert before.startswith("Script Type: DML\n")
    assert "Inputs:\n  [1] (Matrix) X: matrix 2x3\n  [2] (Long) $k: 2\n" in before
    assert "Outputs:\n  [1] Y\n  [2] s\n" in before and "Symbol Table:\nNone\n" in before
    assert before.endswith("Script String:\nY = X * $k; s = sum(Y)\n")
    results = ml.execute(script)
    assert script.getResults() is results and script.results().get("s") == 30.0
    assert "Outputs:\n  [1] (Matrix) Y: matrix 2x3\n  [2] (Double) s: 30.0\n" in script.info()
    assert script.displaySymbolTable() == ("Symbol Table:\n  [1] (Matrix) X: matrix 2x3\n"
                                           "  [2] (Matrix) Y: matrix 2x3\n  [3] (Double) s: 30.0\n")
    assert script.displayInputParameters() == "Input Parameters:\n  [1] (Long) $k: 2\n"
    assert script.displayInputVariables() == "Input Variables:\n  [1] X\n"
    script.clearIO()
    assert script.getInputVariables() == [] and script.getOutputVariables() == []
    assert "(Double) s: 30.0" in script.displaySymbolTable()  # clearIO keeps the symbol table
    assert script.displayInputs() == "Inputs:\nNone\n"
    script.input(X=X).output("s").clearInputs()
    assert script.getInputVariables() == [] and script.getOutputVariables() == ["s"]
    script.clearOutputs().clearIOS()
    assert script.displaySymbolTable() == "Symbol Table:\nNone\n"
    script.setScriptString("s = 7").setName("seven").output("s")
    assert script.getName() == "seven" and ml.execute(script).get("s") == 7
    with pytest.raises(ValueError, match="no text"):
        ml.execute(script.clearAll())
    path = tmp_path / "one.dml"
    path.write_text("s = 1")
    assert dmlFromFile(str(path)).getName() == str(path)


def test_mlcontext_switches_configuration_and_project_information(capsys, tmp_path):
    program = "Y = X * 2; Z = t(Y) %*% Y; s = sum(Z)"
    ml = MLContext().setStatistics(True).setStatisticsMaxHeavyHitters(1)
    ml.execute(dml(program).input(X=X).output("s"))
    report = capsys.readouterr().out
    assert len(re.findall(r"^\s+\d+\s+\S", report.split("Heavy hitter operations:")[1],
                          re.M)) == 1
    with pytest.raises(ValueError, match="count >= 0"):
        ml.setStatisticsMaxHeavyHitters(-1)
    ml.setStatistics(False).setExplain(True).setExplainLevel("NONE")
    ml.execute(dml(program).input(X=X).output("s"))
    assert "# EXPLAIN" not in capsys.readouterr().out
    ml.setExplainLevel("recompile_runtime").execute(dml(program).input(X=X).output("s"))
    assert "%*%            3x2 2x3 -> 3x3" in capsys.readouterr().out
    with pytest.raises(ValueError, match="explain level must be one of"):
        ml.setExplainLevel("everything")
    ml.setExplain(False)

    def dtype():
        return ml.execute(dml("Y = X * 2").input(X=X).output("Y")).get("Y").toNumPy().dtype

    ml.setConfigProperty("sysml.floating.point.precision", "single")
    assert dtype() == np.float32
    assert dtype() == np.float32 and ml.resetConfig() is ml and dtype() == np.float64
    ml.setConfigProperty("sysml.localtmpdir", "/tmp/systemml").setConfigProperty(
        "sysml.gpu.availableGPUs", "0")
    assert "no GPU backend" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not a SystemML configuration property .* known"):
        ml.setConfigProperty("sysml.no.such", "1")
    with pytest.raises(ValueError, match="must be double or single"):
        ml.setConfigProperty("sysml.floating.point.precision", "half")
    config = tmp_path / "SystemML-config.xml"
    config.write_text("<root>\n  <!-- tmp -->\n  <sysml.localtmpdir>/tmp/x</sysml.localtmpdir>\n"
                      "  <sysml.floating.point.precision>single</sysml.floating.point.precision>\n"
                      "</root>\n")
    assert ml.setConfig(str(config)) is ml and dtype() == np.float32
    ml.resetConfig()
    config.write_text("<root><sysml.unknown>1</sysml.unknown></root>")
    with pytest.raises(DMLRuntimeError, match="SystemML-config.xml: 'sysml.unknown' is not"):
        ml.setConfig(config)
    config.write_text("<root><sysml.optlevel>2</root>")
    with pytest.raises(DMLRuntimeError, match="is not valid XML"):
        ml.setConfig(config)
    with pytest.raises(DMLRuntimeError, match="cannot read SystemML config file .*No such file"):
        ml.setConfig(tmp_path / "missing.xml")
    assert dtype() == np.float64

    ml.setGPU(True).setForceGPU(True)
    assert not ml.isGPU() and not ml.isForceGPU()
    assert "no GPU backend" in capsys.readouterr().err
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", ml.buildTime())
    info = ml.info()
    assert f"Version: {ml.version()}\n" in info and "Name: kerasdml" in info
    assert f"Build-Time: {ml.buildTime()}" in info

    script = dml("s = sum(X)").input(X=X).output("s")
    ml.execute(script)
    assert "(Double) s: 15.0" in script.displaySymbolTable()
    assert ml.close() is ml and script.displaySymbolTable() == "Symbol Table:\nNone\n"
    assert ml.execute(script).get("s") == 15.0  # the context stays usable


@pytest.mark.slow
def test_rdds_of_csv_lines_are_matrices(spark, tmp_path, capsys):
    """The guide's RDD example: dense CSV lines, distributed with Spark, parsed locally without."""
    sc = spark.sparkContext
    rdd1 = sc.parallelize(["1.0,2.0", "3.0,4.0"])
    rdd2 = sc.parallelize(["5.0,6.0", "7.0,8.0"], 2)
    (tmp_path / "sums.dml").write_text('s1 = sum(m1)\ns2 = sum(m2)\n'
                                       'if (s1 > s2) { message = "s1 is greater" }\n'
                                       'else { message = "s2 is greater" }\n')
    ml = MLContext(sc).setExplain(True)
    script = dmlFromFile(str(tmp_path / "sums.dml")).input(m1=rdd1, m2=rdd2) \
        .output("s1", "s2", "message")
    assert ml.execute(script).get("s1", "s2", "message") == [10.0, 26.0, "s2 is greater"]
    assert re.search(r"sum .*SPARK", capsys.readouterr().out)  # the inputs stayed distributed
    assert "(RDD) m1: " in script.displayInputs()
    assert "Spark-Master: local[2]" in ml.info()
    local = MLContext().execute(dml("s = sum(m); Y = m").input(m=rdd2).output("s", "Y"))
    assert local.get("s") == 26.0
    np.testing.assert_array_equal(local.get("Y").toNumPy(), [[5, 6], [7, 8]])
    ml.setExplain(False)
    lines = ["1,2", "3,4", "5,6", "7,8", "9,x", "1,2"]
    for context, bad, message in (
            (ml, sc.parallelize(lines, 3), "line 5 of input `m`"),
            (ml, sc.parallelize(["1,2", "3,4", "5,6,7", "8,9,1"], 2),
             "malformed line 3 of input `m`: 3 field.*line 1 has 2"),
            (MLContext(), sc.parallelize(lines, 3), "line 5 of input `m`"),
            (ml, sc.parallelize([1, 2]), "CSV lines .*line 1 is a int"),
            (ml, sc.parallelize([], 1), "input `m`: the RDD has no lines")):
        with pytest.raises(DMLRuntimeError, match=message):
            context.execute(dml("s = sum(m)").input(m=bad).output("s"))


def test_numpy_scalars_bind_as_python_scalars():
    """x.mean(), np.int64(3), np.bool_: SystemML (py4j) took them as their Python scalars."""
    x = np.arange(10.0)
    script = dml("a = m + 1; b = $k * 2; c = !f; d = h + 1; e = $s + '!'").input(m=x.mean()) \
        .input("$k", np.int64(3)).input(f=np.bool_(True), h=np.float32(0.5)) \
        .input("$s", np.str_("hi")).output("a", "b", "c", "d", "e")
    values = MLContext().execute(script).get("a", "b", "c", "d", "e")
    assert values == [5.5, 6, False, 1.5, "hi!"]
    assert [type(v) for v in values] == [float, int, bool, float, str]
    with pytest.raises(ValueError, match="input 'X' is None: give a matrix"):
        dml("s = sum(X)").input(X=None)
    with pytest.raises(ValueError, match=r"input '\$n' is a dict: give a matrix"):
        dml("s = $n").input("$n", {"a": 1})


@pytest.mark.slow
def test_a_local_context_says_a_spark_dataframe_needs_the_session(spark):
    frame = spark.createDataFrame([(1.0, 2.0), (3.0, 4.0)], ["a", "b"])
    with pytest.raises(DMLRuntimeError, match=r"input `X` is a Spark DataFrame and this "
                                              r"MLContext runs locally: create it with "
                                              r"MLContext\(spark\)"):
        MLContext().execute(dml("s = sum(X)").input(X=frame).output("s"))
    assert MLContext(spark).execute(dml("s = sum(X)").input(X=frame).output("s")).get("s") == 10


def test_the_rest_of_the_systemml_package_says_what_to_do_instead():
    with pytest.raises(ImportError, match=r"systemml.matrix \(SystemML's numpy-like matrix API\) "
                                          r"is not in kerasdml: write the computation in DML"):
        from kerasdml.runtime.mlcontext import matrix  # noqa: F401
    with pytest.raises(ImportError, match="convertToNumPyArr .*converters.*toNumPy"):
        from kerasdml.runtime.mlcontext import convertToNumPyArr  # noqa: F401
    import kerasdml.runtime.mlcontext as sml
    assert not hasattr(sml, "no_such_name")


def test_a_read_of_a_bound_input_keeps_the_input(tmp_path):
    """SystemML's MLContext: `A = read($X)` of a variable bound with .input(A=...) takes the
    input, and $X need not be given (the programming guide's Univar-Stats run)."""
    program = ('A = read($X)\nif ($CONSOLE_OUTPUT) {\n  K = read($TYPES,\n    format="csv")\n}\n'
               'n = nrow(A); k = sum(K)\nB = read($B, format="csv")\nf = function() return (matrix[double] M) '
               '{\n  M = read($B, format="csv")\n}\nM = f()\nq = undefined_name + 1\n')
    (tmp_path / "b.csv").write_text("1,2\n")
    script = dml(program).input(A=X, K=np.ones((1, 3))).input("$CONSOLE_OUTPUT", True) \
        .input("$B", str(tmp_path / "b.csv")).output("n", "k", "B", "M")
    with pytest.raises(DMLRuntimeError, match=r"<string>:12:1: runtime error: undefined "
                                              r"variable `undefined_name`"):   # lines unchanged
        MLContext().execute(script)
    with pytest.raises(DMLRuntimeError, match=r"<string>:1:15: .*`nope`"):      # columns too
        MLContext().execute(dml("A = read($X); z = nope + 1").input(A=X))
    script.setScriptString(program.replace("q = undefined_name + 1\n", ""))
    results = MLContext().execute(script)
    assert results.get("n", "k") == [2, 3.0]
    # B and the function's M are no inputs: they read the file
    np.testing.assert_array_equal(results.get("B").toNumPy(), [[1, 2]])
    np.testing.assert_array_equal(results.get("M").toNumPy(), [[1, 2]])
    assert script.getScriptExecutionString() == script.getScriptString()   # as written


@pytest.mark.slow
def test_to_df_of_an_empty_or_single_precision_matrix(spark):
    ml = MLContext(spark)
    results = ml.execute(dml("E = matrix(0, rows=3, cols=2); E = E[1:0,]; R = t(seq(1, 3))")
                         .output("E", "R"))
    empty = results.get("E").toDF()
    assert empty.columns == ["__INDEX", "C1", "C2"] and empty.count() == 0
    ml.setConfigProperty("sysml.floating.point.precision", "single")
    row = ml.execute(dml("R = t(seq(1, 3))").output("R")).get("R").toDF()
    assert dict(row.dtypes) == {"__INDEX": "double", "C1": "double", "C2": "double",
                                "C3": "double"}
    assert [tuple(r) for r in row.collect()] == [(1.0, 1.0, 2.0, 3.0)]


def test_pandas_frames_of_mixed_numeric_columns_and_dok_matrices():
    """SystemML converted a pandas DataFrame with np.asarray(frame, dtype=float64): integer,
    float and boolean columns together make one matrix; the index is no data."""
    pd = pytest.importorskip("pandas")
    sparse = pytest.importorskip("scipy.sparse")
    frame = pd.DataFrame({"a": [1, 2], "b": [True, False], "c": [0.5, None]}, index=[10, 20])
    Y = MLContext().execute(dml("Y = X").input(X=frame).output("Y")).get("Y").toNumPy()
    np.testing.assert_array_equal(Y, [[1, 1, 0.5], [2, 0, np.nan]])
    with pytest.raises(DMLRuntimeError, match=r"input `X`: a matrix takes numbers; the pandas "
                                              r"column\(s\) name are not numeric"):
        dml("s = sum(X)").input(X=pd.DataFrame({"a": [1.0], "name": ["x"]}))
    dok = sparse.dok_matrix((3, 2))
    dok[1, 1] = 4.0
    assert MLContext().execute(dml("s = sum(A)").input(A=dok).output("s")).get("s") == 4.0
