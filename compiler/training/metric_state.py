"""Metrics whose epoch value is not a mean of per-sample values: Keras keeps state over the
epoch (true/false positives per threshold, sums of squares) and finishes a ratio at its end.

train.dml accumulates each metric's state columns over the epoch's batches as sums (any order
of batches, workers or parallel groups gives the same sums), and finishes each metric at the
epoch's end (backend.training_view: history_lines, nn/metrics/confusion.dml). This module says
how many columns each metric keeps and finishes them in numpy, for the live progress lines.

    columns("auc", (("num_thresholds", 200), ...), width=1)   # 402
    finish("precision", arguments, state_row, count)            # a float
"""
from __future__ import annotations

import numpy as np

# metrics finished at the epoch's end from sums of counts (nn/metrics/confusion.dml)
CONFUSION_METRICS = ("precision", "recall", "auc", "f_beta_score")
# metrics kept as one sum like the others but finished otherwise than sum / count
FINISHED_METRICS = CONFUSION_METRICS + ("root_mean_squared_error",)

_EPSILON = 1e-7  # keras.backend.epsilon()


def columns(metric: str, arguments: tuple, width: int) -> int:
    """State columns of `metric` on an output of `width` units (its last axis)."""
    settings = dict(arguments)
    if metric in ("precision", "recall"):
        return 3                                    # true positives, false positives, false negatives
    if metric == "auc":
        return 2 * settings["num_thresholds"] + 2   # tp and fp per threshold, positives, negatives
    if metric == "f_beta_score":
        return 4 if settings["average"] == "micro" else 4 * width
    return 1


def _no_nan(numerator, denominator):
    """Keras' divide_no_nan: 0 where the denominator is 0."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def finish(metric: str, arguments: tuple, state: np.ndarray, count: float) -> float:
    """The metric's value from its state columns summed over the batches so far (`count`: the
    rows or positions they cover, for the metrics that are means)."""
    settings = dict(arguments)
    state = np.asarray(state, dtype=np.float64).ravel()
    if metric == "root_mean_squared_error":
        return float(np.sqrt(state[0] / count))
    if metric == "precision":
        return float(_no_nan(state[0], state[0] + state[1]))
    if metric == "recall":
        return float(_no_nan(state[0], state[0] + state[2]))
    if metric == "auc":
        return _auc(state, settings)
    if metric == "f_beta_score":
        return _f_beta(state, settings)
    return float(state[0] / count)


def _auc(state: np.ndarray, settings: dict) -> float:
    t = settings["num_thresholds"]
    tp, fp = state[:t], state[t:2 * t]
    positives, negatives = state[2 * t], state[2 * t + 1]
    fn, tn = positives - tp, negatives - fp
    if settings["curve"] == "PR" and settings["summation_method"] == "interpolation":
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return float(np.sum(_no_nan(slope * (dtp + intercept * np.log(ratio)),
                                    np.maximum(tp[1:] + fn[1:], 0))))
    recall = _no_nan(tp, tp + fn)
    if settings["curve"] == "ROC":
        x, y = _no_nan(fp, fp + tn), recall
    else:
        x, y = recall, _no_nan(tp, tp + fp)
    pairs = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
             "majoring": np.maximum(y[:-1], y[1:])}
    return float(np.sum((x[:-1] - x[1:]) * pairs[settings["summation_method"]]))


def _f_beta(state: np.ndarray, settings: dict) -> float:
    tp, fp, fn, support = state.reshape(4, -1)
    b2 = settings["beta"] ** 2
    precision = tp / (tp + fp + _EPSILON)
    recall = tp / (tp + fn + _EPSILON)
    score = (1 + b2) * (precision * recall / (b2 * precision + recall + _EPSILON))
    if settings["average"] == "weighted":
        return float(np.sum(score * support / (np.sum(support) + _EPSILON)))
    return float(np.mean(score))
