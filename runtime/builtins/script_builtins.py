"""A few of the builtins SystemDS writes in DML (its scripts/builtin folder), done natively:
toOneHot, softmax, union, setdiff and linear regression (lm, lmDS, lmCG, lmPredict). Each gives
what SystemDS' script gives (through kerasdml's own kernels for the operations the script uses,
for the same digits); script_statistics.py has the statistics ones, and the other script
builtins are named in unsupported.py."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..operators import matmul, transposed_matmul
from ..values import dims, require_matrix, to_bool, to_double, to_int
from .aggregates import col_sums, full_sum, row_maxs, row_sums
from .elementwise import apply_unary
from .linalg import solve
from .registry import script_builtin
from .script_args import float_dtype


@script_builtin("toOneHot")
def to_one_hot(X, numClasses):
    """Row i has a 1 in column X[i] (values 1..numClasses): table(seq(1, n), X, n, numClasses)."""
    x = require_matrix(X, "toOneHot: X")
    classes = to_int(numClasses, "toOneHot: numClasses")
    if x.shape[1] != 1:
        raise DMLRuntimeError(f"toOneHot: X must be a column vector of class labels, got {dims(x)}")
    if x.size and classes < np.max(x):    # SystemDS' own check (its stop message)
        raise DMLRuntimeError("toOneHot: numClasses must be >= largest value in X to prevent cropping")
    labels = x[:, 0]
    if x.size and (np.isnan(labels).any() or np.min(labels) < 1):
        raise DMLRuntimeError("toOneHot: the class labels must be at least 1")
    columns = labels.astype(np.int64) - 1     # table() truncates fractional categories
    result = np.zeros((x.shape[0], classes), dtype=float_dtype(x))
    result[np.arange(x.shape[0]), columns] = 1.0
    return result


@script_builtin("softmax")
def softmax(S):
    """Each row's softmax, as SystemDS' nn softmax layer computes it: exp(S - rowMaxs(S)) divided
    by its rowSums (Kahan sums; exp cell by cell like the exp builtin)."""
    scores = require_matrix(S, "softmax: S")
    unnormalized = apply_unary("exp", scores - row_maxs(scores))
    return unnormalized / row_sums(unnormalized)


@script_builtin("union")
def union(X, Y):
    """The distinct values of two column vectors as a column, in order of first appearance in
    rbind(X, Y): SystemDS' unique(rbind(X, Y)) keeps that order (unique of a stored matrix lists
    Java HashSet order instead, see distinct.py)."""
    x, y = _column(X, "union", "X"), _column(Y, "union", "Y")
    values = dict.fromkeys(np.vstack([x, y]).ravel().tolist())
    return np.array(list(values), dtype=float_dtype(x)).reshape(-1, 1)


@script_builtin("setdiff")
def setdiff(X, Y):
    """The distinct values of X that are not in Y, ascending, as a column."""
    x, y = require_matrix(X, "setdiff: X"), require_matrix(Y, "setdiff: Y")
    kept = np.setdiff1d(x.ravel(), y.ravel())   # sorted and distinct
    if kept.size == 0:
        return np.zeros((1, 1), dtype=float_dtype(x))  # SystemDS' removeEmpty of nothing gave one zero
    return kept.astype(float_dtype(x)).reshape(-1, 1)


# ---- linear regression --------------------------------------------------------------------------

@script_builtin("lm", context=True)
def lm(context, X, y, icpt=0, reg=1e-7, tol=1e-7, maxi=0, verbose=True):
    """lmDS's betas for X of up to 1024 columns (verbose prints that the direct solver runs),
    lmCG's for wider ones (which take verbose=FALSE only)."""
    x = require_matrix(X, "lm: X")
    if x.shape[1] <= 1024:
        return lm_ds(context, X, y, icpt, reg, verbose)
    return lm_cg(X, y, icpt, reg, tol, maxi, verbose)


@script_builtin("lmDS", context=True)
def lm_ds(context, X, y, icpt=0, reg=1e-7, verbose=True):
    """Ridge regression betas from the normal equations (t(X) X + diag(reg)) B = t(X) y, solved
    directly. icpt=1 appends an intercept column (not regularized), icpt=2 also standardizes
    the columns while solving and returns betas for the original ones."""
    model = _LinearModel("lmDS", X, y, icpt, reg)
    gram = model.to_standardized(model.to_standardized(transposed_matmul(model.x, model.x)).T)
    gram = gram + np.diag(model.penalty[:, 0])
    if to_bool(verbose, "lmDS: verbose"):
        context.out.write("Calling the Direct Solver...\n")
    return model.to_original(solve(gram, model.to_standardized(transposed_matmul(model.x, model.y))))


@script_builtin("lmCG")
def lm_cg(X, y, icpt=0, reg=1e-7, tol=1e-7, maxi=0, verbose=True):
    """lmDS's betas found by conjugate gradient: at most maxi iterations (0: one per column),
    stopping once the residual norm falls below tol times its initial value."""
    if to_bool(verbose, "lmCG: verbose"):
        # SystemDS prints every residual norm with all its digits, which sums in another order
        # change in the last ones
        raise DMLRuntimeError("lmCG: verbose=TRUE (the default) is not supported: its progress "
                              "messages print residual norms to the last digit, which kerasdml "
                              "does not reproduce; pass verbose=FALSE")
    model = _LinearModel("lmCG", X, y, icpt, reg)
    tolerance, limit = to_double(tol, "lmCG: tol"), to_int(maxi, "lmCG: maxi")
    limit = limit if limit != 0 else model.x.shape[1]
    residual = -model.to_standardized(transposed_matmul(model.x, model.y))
    direction, betas = -residual, np.zeros_like(residual)
    norm2 = initial = full_sum(residual * residual)
    steps = 0
    while steps < limit and norm2 > initial * tolerance ** 2:
        projected = matmul(model.x, model.from_standardized(direction))
        curvature = model.to_standardized(transposed_matmul(model.x, projected))
        curvature = curvature + model.penalty * direction
        step = norm2 / full_sum(direction * curvature)
        betas = betas + step * direction
        residual = residual + step * curvature
        previous, norm2 = norm2, full_sum(residual * residual)
        direction = -residual + (norm2 / previous) * direction
        steps += 1
    return model.to_original(betas)


@script_builtin("lmPredict")
def lm_predict(X, B, ytest=None, icpt=0, verbose=False):
    """X %*% B's feature rows, plus B's last row as intercept when icpt > 0 or B has one row
    more than X has columns (ytest is only for SystemDS' verbose statistics, not provided)."""
    x, betas = require_matrix(X, "lmPredict: X"), require_matrix(B, "lmPredict: B")
    if to_bool(verbose, "lmPredict: verbose"):
        raise DMLRuntimeError("lmPredict: verbose=TRUE prints lmPredictStats' statistics, which "
                              "kerasdml does not provide; call it with verbose=FALSE")
    if betas.shape[1] != 1 or betas.shape[0] < x.shape[1]:
        raise DMLRuntimeError(f"lmPredict: B must be a column of at least ncol(X) = {x.shape[1]} "
                              f"betas, got {dims(betas)}")
    with_intercept = to_int(icpt, "lmPredict: icpt") > 0 or x.shape[1] + 1 == betas.shape[0]
    intercept = float(betas[-1, 0]) if with_intercept else 0.0
    return matmul(x, betas[:x.shape[1]]) + intercept


class _LinearModel:
    """The design matrix of a linear regression (with the intercept column icpt asks for), its
    response, its L2 penalties, and icpt=2's column standardization, applied as SystemDS'
    scripts apply it: to the normal equations' sides rather than to X itself."""

    def __init__(self, function: str, X, y, icpt, reg):
        x, self.y = require_matrix(X, f"{function}: X"), require_matrix(y, f"{function}: y")
        if self.y.shape != (x.shape[0], 1):
            raise DMLRuntimeError(f"{function}: y must be a column with one response per row of X "
                                  f"({x.shape[0]}), got {dims(self.y)}")
        self.mode = to_int(icpt, f"{function}: icpt")
        with_intercept = self.mode in (1, 2)
        if with_intercept:
            x = np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)])
        self.x = x
        self.penalty = np.full((x.shape[1], 1), to_double(reg, f"{function}: reg"), dtype=x.dtype)
        if with_intercept:
            self.penalty[-1] = 0
        self.scale, self.shift = self._standardization() if self.mode == 2 else (None, None)

    def _standardization(self):
        """1 / the columns' standard deviations (1 where it is not positive) and -mean / sd;
        the intercept column keeps scale 1 and shift 0."""
        rows = self.x.shape[0]
        means = col_sums(self.x).T / rows
        variances = (col_sums(self.x * self.x).T - rows * (means * means)) / (rows - 1)
        unusable = (variances <= 0).astype(variances.dtype)
        scale = 1.0 / apply_unary("sqrt", variances * (1 - unusable) + unusable)
        scale[-1] = 1
        shift = -means * scale
        shift[-1] = 0
        return scale, shift

    def to_standardized(self, rows: np.ndarray) -> np.ndarray:
        """t(T) %*% rows for icpt=2's transform T (T = diag(scale), shift in its last row)."""
        if self.scale is None:
            return rows
        return self.scale * rows + self.shift * rows[[-1]]

    def from_standardized(self, betas: np.ndarray) -> np.ndarray:
        """T %*% betas: betas of standardized columns as betas of the original ones."""
        if self.scale is None:
            return betas
        original = self.scale * betas
        original[-1] = original[-1] + transposed_matmul(self.shift, betas)[0]
        return original

    to_original = from_standardized


def _column(value, function: str, name: str) -> np.ndarray:
    x = require_matrix(value, f"{function}: {name}")
    if x.shape[1] != 1:
        raise DMLRuntimeError(f"{function}: {name} must be a column vector, got {dims(x)}")
    return x
