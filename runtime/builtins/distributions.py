"""Probability distributions: cdf(target=, dist=, ...), icdf(target=, dist=, ...) and the R-style
p<dist> (cumulative, with lower.tail) and q<dist> (inverse) builtins.

Each distribution is one entry of _DISTRIBUTIONS: its parameters (how each is read, its default),
its check, its cumulative function and its inverse. SystemDS evaluates them with Apache Commons Math;
these take the same floating-point steps (special_functions.py holds the special functions), so
printed results agree to the last digit. Rare exceptions remain where FastMath.log (away from 1) and
FastMath.exp round differently from what is reproduced here: 2 of 4,900 random probes against
SystemDS, off by at most 1.5e-15 relative (about 10 ulp, a log error amplified by a large shape).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..errors import DMLRuntimeError
from ..values import is_matrix, type_name
from . import special_functions as sf
from .registry import builtin

_INT32 = (-2**31, 2**31 - 1)


def _as_text(value, what: str) -> str:
    """SystemDS hands these parameters over as strings and parses them again."""
    if is_matrix(value):
        raise DMLRuntimeError(f"{what} must be a scalar value, got {type_name(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def _real(value, what: str) -> float:
    text = _as_text(value, what)
    try:
        return float(text)
    except ValueError:
        raise DMLRuntimeError(f"{what} must be a number, got {text!r}") from None


def _whole(value, what: str) -> float:
    """Degrees of freedom are integers: a number with a fraction is floored and saturates at the
    32-bit range, an integer must fit in it (as SystemDS parses them)."""
    number = None
    if isinstance(value, float) and math.isfinite(value):
        number = min(max(math.floor(value + 2.0**-53), _INT32[0]), _INT32[1])
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value if _INT32[0] <= value <= _INT32[1] else None
    elif isinstance(value, str):
        try:
            number = _whole(float(value) if "." in value else int(value), what)
        except (ValueError, DMLRuntimeError):
            pass
    if number is None:
        raise DMLRuntimeError(f"{what} must be an integer, got {_as_text(value, what)}")
    return float(number)


def _lower_tail(value) -> bool:
    # only TRUE or the string "true" (any case) selects the lower tail: lower.tail=1 does not
    return _as_text(value, "lower.tail").lower() == "true"


def _brent(f: Callable[[float], float], lo: float, hi: float, absolute_accuracy: float) -> float:
    """A root of f in [lo, hi] by Brent's method (relative accuracy 1e-14, function values within
    1e-15 count as zero), starting from the midpoint as Commons Math's BrentSolver does."""
    relative_accuracy, value_accuracy = 1e-14, 1e-15
    middle = lo + 0.5 * (hi - lo)
    f_middle = f(middle)
    if abs(f_middle) <= value_accuracy:
        return middle
    f_lo = f(lo)
    if abs(f_lo) <= value_accuracy:
        return lo
    if f_middle * f_lo < 0:
        a, b, fa, fb = lo, middle, f_lo, f_middle
    else:
        f_hi = f(hi)
        if abs(f_hi) <= value_accuracy:
            return hi
        if not f_middle * f_hi < 0:
            raise DMLRuntimeError(f"no root of the inverse in [{lo}, {hi}]")
        a, b, fa, fb = middle, hi, f_middle, f_hi
    c, fc = a, fa
    d = e = b - a
    while True:
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tolerance = 2 * relative_accuracy * abs(b) + absolute_accuracy
        m = 0.5 * (c - b)
        if abs(m) <= tolerance or abs(fb) <= 5e-324:
            return b
        if abs(e) < tolerance or abs(fa) <= abs(fb):
            d = e = m
        else:
            s = fb / fa
            if a == c:          # secant
                p, q = 2 * m * s, 1 - s
            else:               # inverse quadratic interpolation
                q, r = fa / fc, fb / fc
                p = s * (2 * m * q * (q - r) - (b - a) * (r - 1))
                q = (q - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            else:
                p = -p
            s, e = e, d
            if p >= 1.5 * m * q - abs(tolerance * q) or p >= abs(0.5 * s * q):
                d = e = m
            else:
                d = p / q
        a, fa = b, fb
        if abs(d) > tolerance:
            b += d
        else:
            b += tolerance if m > 0 else -tolerance
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb <= 0 and fc <= 0):
            c, fc = a, fa
            d = e = b - a


def _bracketed_inverse(cumulative: Callable[[float], float], p: float, support: tuple[float, float],
                       mean: float, variance: float) -> float:
    """x with cumulative(x) = p: brackets the root with Chebyshev's inequality where the mean and
    variance are finite (by doubling otherwise), then solves to 1e-9 absolute accuracy."""
    lo, hi = support
    if p == 0.0:
        return lo
    if p == 1.0:
        return hi
    sigma = math.sqrt(variance) if variance >= 0 else math.nan
    chebyshev = math.isfinite(mean) and math.isfinite(sigma)
    if lo == -math.inf:
        if chebyshev:
            lo = mean - sigma * math.sqrt((1. - p) / p)
        else:
            lo = -1.0
            while cumulative(lo) >= p:
                lo *= 2.0
    if hi == math.inf:
        if chebyshev:
            hi = mean + sigma * math.sqrt(p / (1. - p))
        else:
            hi = 1.0
            while cumulative(hi) < p:
                hi *= 2.0
    return _brent(lambda x: cumulative(x) - p, lo, hi, 1e-9)


def _normal_cumulative(x: float, mean: float, sd: float) -> float:
    deviation = x - mean
    if abs(deviation) > 40 * sd:
        return 0.0 if deviation < 0 else 1.0
    # 1 + erf, not erfc: the lower tail loses its digits below about 1e-8, as in SystemDS
    return 0.5 * (1 + sf.erf(deviation / (sd * math.sqrt(2.0))))


def _normal_inverse(p: float, mean: float, sd: float) -> float:
    return mean + sd * math.sqrt(2.0) * sf.erf_inv(2 * p - 1)


def _exp_cumulative(x: float, rate: float) -> float:
    return 0.0 if x <= 0 else 1.0 - sf.exp(-x / (1.0 / rate))


def _exp_inverse(p: float, rate: float) -> float:
    return math.inf if p == 1 else -(1.0 / rate) * sf.log(1.0 - p)


def _t_cumulative(x: float, df: int) -> float:
    if x == 0:
        return 0.5
    tail = sf.regularized_beta(df / (df + (x * x)), 0.5 * df, 0.5)
    return 0.5 * tail if x < 0.0 else 1.0 - 0.5 * tail


def _t_inverse(p: float, df: int) -> float:
    mean = 0.0 if df > 1 else math.nan
    variance = df / (df - 2) if df > 2 else (math.inf if df > 1 else math.nan)
    return _bracketed_inverse(lambda x: _t_cumulative(x, df), p, (-math.inf, math.inf), mean, variance)


def _chisq_cumulative(x: float, df: int) -> float:
    return 0.0 if x <= 0 else sf.regularized_gamma_p(df / 2, x / 2)


def _chisq_inverse(p: float, df: int) -> float:
    return _bracketed_inverse(lambda x: _chisq_cumulative(x, df), p, (0.0, math.inf), df, 2 * df)


def _f_cumulative(x: float, df1: int, df2: int) -> float:
    if x <= 0:
        return 0.0
    return sf.regularized_beta((df1 * x) / (df2 + df1 * x), 0.5 * df1, 0.5 * df2)


def _f_inverse(p: float, df1: int, df2: int) -> float:
    mean = df2 / (df2 - 2) if df2 > 2 else math.nan
    variance = math.nan
    if df2 > 4:
        variance = ((2 * (df2 * df2) * (df1 + df2 - 2))
                    / ((df1 * ((df2 - 2) * (df2 - 2)) * (df2 - 4))))
    return _bracketed_inverse(lambda x: _f_cumulative(x, df1, df2), p, (0.0, math.inf), mean, variance)


@dataclass(frozen=True)
class _Distribution:
    parameters: dict[str, tuple[Callable, float | None]]   # name -> (reader, default; None: required)
    missing: str                                            # when a required parameter is absent
    valid: Callable[..., bool]
    cumulative: Callable[..., float]
    inverse: Callable[..., float]


def _positive(*values) -> bool:
    return all(v > 0 for v in values)


_DISTRIBUTIONS = {
    "normal": _Distribution({"mean": (_real, 0.0), "sd": (_real, 1.0)}, "",
                            lambda mean, sd: sd > 0, _normal_cumulative, _normal_inverse),
    "exp": _Distribution({"rate": (_real, 1.0)}, "", _positive, _exp_cumulative, _exp_inverse),
    "t": _Distribution({"df": (_whole, None)}, "the t distribution needs df=",
                       _positive, _t_cumulative, _t_inverse),
    "chisq": _Distribution({"df": (_whole, None)}, "the chi-squared distribution needs df=",
                           _positive, _chisq_cumulative, _chisq_inverse),
    "f": _Distribution({"df1": (_whole, None), "df2": (_whole, None)},
                       "the F distribution needs both df1= and df2=",
                       _positive, _f_cumulative, _f_inverse),
}
# R's names of the p<dist>/q<dist> builtins
_R_NAMES = {"normal": "norm", "exp": "exp", "t": "t", "chisq": "chisq", "f": "f"}


def _bind(name: str, function: str, parameters: dict) -> list:
    """The distribution's parameters in order; other names are ignored, as SystemDS ignores them."""
    distribution = _DISTRIBUTIONS[name]
    values = []
    for parameter, (read, default) in distribution.parameters.items():
        if parameter in parameters:
            values.append(read(parameters[parameter], f"{function}: {parameter}"))
        elif default is None:
            raise DMLRuntimeError(f"{function}: {distribution.missing}")
        else:
            values.append(default)
    if not distribution.valid(*values):
        shown = ", ".join(f"{p}={v}" for p, v in zip(distribution.parameters, values))
        raise DMLRuntimeError(f"{function}: the {name} distribution needs positive "
                              f"{' and '.join(p for p in distribution.parameters if p != 'mean')} "
                              f"(got {shown})")
    return values


def _cumulative(name: str, function: str, target, lower_tail, parameters: dict) -> float:
    x = _real(target, f"{function}: target")
    p = _DISTRIBUTIONS[name].cumulative(x, *_bind(name, function, parameters))
    return p if _lower_tail(lower_tail) else 1.0 - p


def _inverse(name: str, function: str, target, parameters: dict) -> float:
    if "lower_tail" in parameters:
        raise DMLRuntimeError(f"{function}: lower.tail is not allowed for inverse cumulative probabilities")
    p = _real(target, f"{function}: target")
    values = _bind(name, function, parameters)
    if not 0 <= p <= 1:
        raise DMLRuntimeError(f"{function}: target must be a probability in [0, 1], got {p}")
    return _DISTRIBUTIONS[name].inverse(p, *values)


def _named(dist, function: str) -> str:
    if dist is None:
        raise DMLRuntimeError(f"{function}: a distribution must be given as a string: dist=")
    name = _as_text(dist, f"{function}: dist").lower()
    if name not in _DISTRIBUTIONS:
        raise DMLRuntimeError(f"{function}: unsupported distribution {dist!r} "
                              f"(kerasdml supports {', '.join(_DISTRIBUTIONS)})")
    return name


@builtin("cdf")
def cdf(*, target, dist=None, lower_tail=True, **parameters):
    return _cumulative(_named(dist, "cdf"), "cdf", target, lower_tail, parameters)


@builtin("icdf")
def icdf(*, target, dist=None, **parameters):
    return _inverse(_named(dist, "icdf"), "icdf", target, parameters)


def _register(name: str):
    short = _R_NAMES[name]

    def cumulative(*, target, lower_tail=True, **parameters):
        return _cumulative(name, f"p{short}", target, lower_tail, parameters)

    def inverse(*, target, **parameters):
        return _inverse(name, f"q{short}", target, parameters)
    builtin(f"p{short}")(cumulative)
    builtin(f"q{short}")(inverse)


for _name in _DISTRIBUTIONS:
    _register(_name)
