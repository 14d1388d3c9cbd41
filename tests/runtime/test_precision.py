"""`precision="single"` is float32 end to end, `"double"` float64: every matrix a DML program
makes (builtins, operators, indexing, the DNN kernels, a whole training step) has the run's dtype.

Each case is a script computing Y from the 4x4 matrices X (positive, distinct), B (0/1) and
the 4x1 vector v, bound as inputs (the run casts them to its precision)."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.builtins.registry import BUILTINS

DTYPES = {"double": np.float64, "single": np.float32}
PRECISIONS = [pytest.param(p, id=p) for p in DTYPES]

_CONV = "input_shape=[1, 1, 4, 4], filter_shape=[1, 1, 2, 2], stride=[1, 1], padding=[0, 0]"
_POOL = "input_shape=[1, 1, 4, 4], pool_size=[2, 2], stride=[2, 2], padding=[0, 0]"

# builtin -> a script that assigns its (matrix) result to Y
BUILTIN_CASES = {
    "abs": "Y = abs(-X)", "acos": "Y = acos(X / 20)", "asin": "Y = asin(X / 20)",
    "atan": "Y = atan(X)", "cos": "Y = cos(X)", "cosh": "Y = cosh(X / 20)", "sin": "Y = sin(X)",
    "sinh": "Y = sinh(X / 20)", "tan": "Y = tan(X / 20)", "tanh": "Y = tanh(X)",
    "exp": "Y = exp(X / 20)", "log": "Y = log(X)", "sqrt": "Y = sqrt(X)", "sign": "Y = sign(X)",
    "round": "Y = round(X / 3)", "floor": "Y = floor(X / 3)", "ceil": "Y = ceil(X / 3)",
    "sigmoid": "Y = sigmoid(X)", "is.na": "Y = is.na(X)", "is.nan": "Y = is.nan(X)",
    "is.infinite": "Y = is.infinite(X)", "ifelse": "Y = -ifelse(B, X, 0)",
    "ifelse=": "Y = ifelse(B, X, 0)",  # the assigned form the interpreter calls
    "replace": "Y = replace(target=X, pattern=1, replacement=7)", "xor": "Y = xor(B, X > 8)",
    "ppred": 'Y = ppred(X, 3, ">")',
    "max": "Y = max(X, 3)", "min": "Y = min(X, 3)",
    "as.matrix": "Y = as.matrix(3)",
    "matrix": "Y = matrix(0.5, rows=2, cols=3)", "rand": "Y = rand(rows=3, cols=2, seed=1)",
    "Rand": "Y = Rand(rows=3, cols=2, seed=1)", "RAND": "Y = RAND(rows=3, cols=2, seed=1)",
    "seq": "Y = seq(1, 5, 2)", "cbind": "Y = cbind(X, v)", "rbind": "Y = rbind(X, t(v))",
    "diag": "Y = diag(v)", "outer": "Y = outer(v, t(v), \"*\")", "t": "Y = t(X)",
    "rev": "Y = rev(X)", "order": "Y = order(target=X, by=1)", "table": "Y = table(v, v)",
    "removeEmpty": "Y = removeEmpty(target=X * B, margin=\"rows\")",
    "sample": "Y = sample(10, 3, FALSE, 7)", "read": None,
    "cumsum": "Y = cumsum(X)", "cumprod": "Y = cumprod(X / 10)", "cummax": "Y = cummax(X)",
    "cummin": "Y = cummin(X)", "rowcumsum": "Y = rowcumsum(X)",
    "rowSums": "Y = rowSums(X)", "colSums": "Y = colSums(X)", "rowMeans": "Y = rowMeans(X)",
    "colMeans": "Y = colMeans(X)", "rowMaxs": "Y = rowMaxs(X)", "colMaxs": "Y = colMaxs(X)",
    "rowMins": "Y = rowMins(X)", "colMins": "Y = colMins(X)", "rowProds": "Y = rowProds(X)",
    "colProds": "Y = colProds(X)", "rowVars": "Y = rowVars(X)", "colVars": "Y = colVars(X)",
    "rowSds": "Y = rowSds(X)", "colSds": "Y = colSds(X)", "rowIndexMax": "Y = rowIndexMax(X)",
    "rowIndexMin": "Y = rowIndexMin(X)",
    "conv2d": f"Y = conv2d(matrix(X, rows=1, cols=16), matrix(1, rows=1, cols=4), {_CONV})",
    "conv2d_backward_filter":
        f"Y = conv2d_backward_filter(matrix(X, rows=1, cols=16), matrix(1, rows=1, cols=9), {_CONV})",
    "conv2d_backward_data":
        f"Y = conv2d_backward_data(matrix(1, rows=1, cols=4), matrix(X[1:3, 1:3], rows=1, cols=9), {_CONV})",
    "max_pool": f"Y = max_pool(matrix(X, rows=1, cols=16), {_POOL})",
    "avg_pool": f"Y = avg_pool(matrix(X, rows=1, cols=16), {_POOL})",
    "max_pool_backward": f"Y = max_pool_backward(matrix(X, rows=1, cols=16), matrix(1, rows=1, cols=4), {_POOL})",
    "avg_pool_backward": f"Y = avg_pool_backward(matrix(X, rows=1, cols=16), matrix(1, rows=1, cols=4), {_POOL})",
    "bias_add": "Y = bias_add(X, matrix(1, rows=2, cols=1))",
    "bias_multiply": "Y = bias_multiply(X, matrix(2, rows=2, cols=1))",
    "ceiling": "Y = ceiling(X / 3)", "pmin": "Y = pmin(X, 3)", "pmax": "Y = pmax(X, 3)",
    "cumsumprod": "Y = cumsumprod(X[, 1:2] / 10)", "lower.tri": "Y = lower.tri(target=X)",
    "upper.tri": "Y = upper.tri(target=X, values=TRUE)", "quantile": "Y = quantile(v, v / 5)",
    "aggregate": "Y = aggregate(target=v, groups=v, fn=\"sum\")",
    "solve": "Y = solve(X, v)", "inv": "Y = inv(X)", "cholesky": "Y = cholesky(diag(v) + 10)",
    "lu": "[P, L, Y] = lu(X)", "qr": "[Y, R] = qr(X)", "eigen": "[e, Y] = eigen(diag(v) + 1)",
    "svd": "[U, Y, V] = svd(X)",
    "bitwAnd": "Y = bitwAnd(X, 3)", "bitwOr": "Y = bitwOr(X, 3)", "bitwXor": "Y = bitwXor(X, 3)",
    "bitwShiftL": "Y = bitwShiftL(X, 1)", "bitwShiftR": "Y = bitwShiftR(X, 1)",
    "isNA": "Y = isNA(X)", "isNaN": "Y = isNaN(X)", "isInf": "Y = isInf(X)", "roll": "Y = roll(X, 1)",
    "unique": "Y = unique(X)", "rowCountDistinct": "Y = rowCountDistinct(X)",
    "colCountDistinct": "Y = colCountDistinct(X)",
    "inverse": "Y = inverse(X)", "toOneHot": "Y = toOneHot(v, 5)", "softmax": "Y = softmax(X / 16)",
    "union": "Y = union(v, v + 2)", "setdiff": "Y = setdiff(v, v - 2)",
    "compress": "Y = compress(X / 3)", "decompress": "Y = decompress(X / 3)",
    "eval": "f = function(matrix[double] A) return (matrix[double] R) { R = A / 3 }\nY = eval(\"f\", X)",
    "scale": "[C, S, Y] = scale(X=X)", "scaleApply": "Y = scaleApply(X, colMeans(X), colSds(X))",
    "normalize": "[Y, lo, hi] = normalize(X)", "scaleMinMax": "Y = scaleMinMax(X)",
    "normalizeApply": "Y = normalizeApply(X, colMins(X), colMaxs(X))",
    "winsorize": "[W, lo, Y] = winsorize(X=X, verbose=FALSE)",
    "winsorizeApply": "Y = winsorizeApply(X, colMins(X) + 1, colMaxs(X) - 1)",
    "mse": "[Z, Y] = mse(X=X, Y=X / 2, P=v / 5)", "rmse": "[Y, Q] = rmse(X=X, Y=X / 2)",
    "mae": "[Z, Y] = mae(X=X, Y=X / 2, P=v / 5)", "mape": "[Y, Q] = mape(X=X, Y=X / 2)",
    "logSumExp": "Y = logSumExp(M=X / 4)", "dist": "Y = dist(X)", "cor": "Y = cor(X)",
    "outlier": "Y = outlier(X=X, opposite=TRUE)", "confusionMatrix": "[S, Y] = confusionMatrix(v, v)",
    "lm": "Y = lm(X=X, y=v, verbose=FALSE)", "lmDS": "Y = lmDS(X=X, y=v, icpt=2, verbose=FALSE)",
    "lmCG": "Y = lmCG(X=X, y=v, icpt=2, verbose=FALSE)", "lmPredict": "Y = lmPredict(X=X, B=rbind(v, v))",
    "imputeByMean": "[Z, Y] = imputeByMean(X=X / (X > 3), mask=t(v) > 3)",
    "imputeByMedian": "[Y, Z] = imputeByMedian(X=X / (X > 3), mask=t(v) > 2)",
    "imputeByMode": "[Z, Y] = imputeByMode(X=X / (X > 3))",
    "imputeByMeanApply": "Y = imputeByMeanApply(X=X / (X > 3), imputedVec=t(v))",
    "imputeByMedianApply": "Y = imputeByMedianApply(X=X / (X > 3), imputedVec=t(v))",
    "imputeByModeApply": "Y = imputeByModeApply(X=X / (X > 3), imputedVec=t(v))",
    "outlierBySd": "[Z, M, Y, k, r] = outlierBySd(X=rbind(X, X * 9), k=1, max_iterations=0, verbose=FALSE)",
    "outlierBySdApply": "Y = outlierBySdApply(X, colMeans(X), colSds(X), 1, 2)",
    "outlierByIQR": "[Y, Q1, Q3, R, k, r] = outlierByIQR(X=rbind(X, X * 9), k=0.5, max_iterations=0, verbose=FALSE)",
    "outlierByIQRApply": "Y = outlierByIQRApply(X, colMins(X) + 1, colMaxs(X) - 1, colMins(X) * 0, 1, 1)",
    "naiveBayes": "[P, Y] = naiveBayes(D=X, C=v, verbose=FALSE)",
    "naiveBayesPredict": "[Y, C] = naiveBayesPredict(X, v / 10, X / rowSums(X))",
    "l2svm": "Y = l2svm(X=X, Y=2 * B[, 1] - 1, intercept=TRUE)",
    "l2svmPredict": "[Y, C] = l2svmPredict(X=X, W=v)", "msvmPredict": "[R, Y] = msvmPredict(X=X, W=X)",
    "msvm": "Y = msvm(X=X, Y=v)",
    "img_mirror": "Y = img_mirror(img_in=X, horizontal_axis=TRUE)",
    "img_mirror_linearized": "Y = img_mirror_linearized(X, FALSE, 2, 2)",
    "img_invert": "Y = img_invert(X, 16)", "img_invert_linearized": "Y = img_invert_linearized(X, 16)",
    "img_brightness": "Y = img_brightness(X, 3, 10)",
    "img_brightness_linearized": "Y = img_brightness_linearized(X, 3, 10)",
}
# builtins whose result is never a matrix (scalars, strings, lists, side effects)
NOT_MATRICES = {"as.scalar", "castAsScalar", "as.double", "as.integer", "as.logical", "as.boolean", "length", "ncol", "nrow", "mean", "avg", "sum", "prod",  # noqa: E501
                "sd", "var", "trace", "print", "stop", "assert", "toString", "time", "write",
                "list", "append", "as.list", "remove", "evalList", "exists", "paramserv", "median",
                "interQuartileMean", "moment",
                "centralMoment", "cov", "det",
                "countDistinct", "contains", "cdf", "icdf", "pexp", "qexp", "pnorm", "qnorm", "pt",
                "qt", "pchisq", "qchisq", "pf", "qf", "getAccuracy",
                "auc", "f1Score"}

OPERATOR_CASES = {
    "plus": "Y = X + 1", "minus": "Y = 1 - X", "times": "Y = X * X", "divide": "Y = X / 3",
    "power": "Y = X ^ 2", "modulus": "Y = X %% 3", "int-divide": "Y = X %/% 3",
    "compare": "Y = X > 5", "equal": "Y = X == B", "and": "Y = B & X > 3", "or": "Y = B | X > 3",
    "negate": "Y = -X", "not": "Y = !B", "matmul": "Y = X %*% v",
    "row-vector": "Y = X - colMeans(X)", "column-vector": "Y = X / rowSums(X)",
    "right-index": "Y = X[2:3, ]", "left-index-scalar": "Y = X; Y[1, 1] = 7",
    "left-index-matrix": "Y = matrix(0, rows=4, cols=4); Y[1:2, ] = X[3:4, ]",
    "left-index-new-rows": "Y = X; Y[1:4, 1] = v",
    "loop-accumulate": "Y = matrix(0, rows=4, cols=1); for (i in 1:3) { Y = Y + v * i }",
    "function-call": "f = function(matrix[double] A) return (matrix[double] R) { R = A * 2 }\nY = f(X)",
}


def _inputs():
    rng = np.random.default_rng(0)
    X = (rng.permutation(16) + 1.0).reshape(4, 4)
    return {"X": X, "B": (X % 2 == 0).astype(float), "v": np.arange(1.0, 5.0).reshape(4, 1)}


def _result(script: str, precision: str) -> np.ndarray:
    return run_string(script, inputs=_inputs(), outputs=["Y"], precision=precision)["Y"]


def test_every_builtin_is_covered():
    assert set(BUILTINS) == set(BUILTIN_CASES) | NOT_MATRICES


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("script", [pytest.param(s, id=name) for name, s in BUILTIN_CASES.items()
                                    if s is not None])
def test_builtin_result_has_the_run_precision(script, precision):
    Y = _result(script, precision)
    assert isinstance(Y, np.ndarray) and Y.dtype == DTYPES[precision]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_read_returns_the_run_precision(tmp_path, precision):
    target = tmp_path / "m.csv"
    run_string(f'write(X, "{target}", format="csv")', inputs=_inputs())
    Y = _result(f'Y = read("{target}", format="csv")', precision)
    assert Y.dtype == DTYPES[precision]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("script", [pytest.param(s, id=n) for n, s in OPERATOR_CASES.items()])
def test_operator_result_has_the_run_precision(script, precision):
    assert _result(script, precision).dtype == DTYPES[precision]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_scalars_stay_python_numbers(precision):
    results = run_string("s = sum(X)\nm = mean(X)\nz = as.scalar(X[1, 1])", inputs=_inputs(),
                         outputs=["s", "m", "z"], precision=precision)
    assert all(type(value) is float for value in results.values())


# A small LeNet-like training step through dml_lib, as generated scripts do it: every
# intermediate and every updated parameter is checked.
TRAINING_STEP = """
source("nn/layers/conv2d.dml") as conv2d
source("nn/layers/relu.dml") as relu
source("nn/layers/max_pool2d.dml") as max_pool2d
source("nn/layers/affine.dml") as affine
source("nn/layers/dropout.dml") as dropout
source("nn/layers/softmax.dml") as softmax
source("nn/losses/categorical_crossentropy.dml") as cross_entropy
source("nn/optim/sgd.dml") as sgd
[c1, Hc, Wc] = conv2d::forward(X, W1, b1, 1, 6, 6, 3, 3, 1, 1, 1, 1)
r1 = relu::forward(c1)
[p1, Hp, Wp] = max_pool2d::forward(r1, 2, Hc, Wc, 2, 2, 2, 2, 0, 0)
a2 = affine::forward(p1, W2, b2)
[d2, mask] = dropout::forward(a2, $rate, 7)
probs = softmax::forward(d2)
loss = cross_entropy::forward(probs, Y)
dprobs = cross_entropy::backward(probs, Y)
dd2 = softmax::backward(dprobs, d2)
da2 = dropout::backward(dd2, a2, $rate, mask)
[dp1, dW2, db2] = affine::backward(da2, p1, W2, b2)
dr1 = max_pool2d::backward(dp1, Hp, Wp, r1, 2, Hc, Wc, 2, 2, 2, 2, 0, 0)
dc1 = relu::backward(dr1, c1)
[dX, dW1, db1] = conv2d::backward(dc1, Hc, Wc, X, W1, b1, 1, 6, 6, 3, 3, 1, 1, 1, 1)
v = sgd::init(W1)
[W1, v] = sgd::update(W1, dW1, 0.1, 0.9, FALSE, 0.01, v)
[W2, v2] = sgd::update(W2, dW2, 0.1, 0.0, FALSE, 0.0, sgd::init(W2))
"""
STEP_MATRICES = ["c1", "r1", "p1", "a2", "d2", "mask", "probs", "dprobs", "dd2", "da2", "dp1",
                 "dW2", "db2", "dr1", "dc1", "dX", "dW1", "db1", "W1", "v", "W2"]


def _step_inputs():
    rng = np.random.default_rng(1)
    return {"X": rng.random((4, 36)), "Y": np.eye(3)[[0, 2, 1, 2]],
            "W1": rng.standard_normal((2, 9)) * 0.3, "b1": rng.standard_normal((2, 1)) * 0.1,
            "W2": rng.standard_normal((18, 3)) * 0.3, "b2": np.zeros((1, 3))}


def _step(precision: str, rate: float = 0.25) -> dict:
    return run_string(TRAINING_STEP, inputs=_step_inputs(), outputs=STEP_MATRICES + ["loss"],
                      args={"rate": rate}, precision=precision)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_training_step_stays_in_the_run_precision(precision):
    results = _step(precision)
    leaks = {name: results[name].dtype for name in STEP_MATRICES
             if results[name].dtype != DTYPES[precision]}
    assert not leaks
    assert type(results["loss"]) is float


def test_single_precision_step_agrees_with_double():
    # without dropout: rand() draws different numbers in float32 than in float64
    single, double = _step("single", rate=0.0), _step("double", rate=0.0)
    assert single["loss"] == pytest.approx(double["loss"], rel=1e-5)
    for name in STEP_MATRICES:
        np.testing.assert_allclose(single[name], double[name], rtol=1e-4, atol=1e-5, err_msg=name)
