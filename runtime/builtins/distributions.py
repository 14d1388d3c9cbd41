"""Probability distributions: cdf(target, dist, ...), icdf(target, dist, ...) and the R-style
p<dist> (cumulative, with lower.tail) and q<dist> (inverse) builtins.

Each distribution is one entry of _DISTRIBUTIONS: its parameters with their defaults and its
cumulative and inverse functions, written with the same floating-point steps SystemDS takes
(1 - exp(-rate * x) rather than -expm1), so results agree to the last digit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..errors import DMLRuntimeError
from ..values import to_bool, to_double, to_string
from .registry import builtin


@dataclass(frozen=True)
class _Distribution:
    parameters: dict[str, float | None]      # name -> default (None: required)
    cumulative: Callable[..., float]
    inverse: Callable[..., float]


def _exp_cumulative(x: float, rate: float) -> float:
    return 0.0 if x <= 0 else 1.0 - math.exp(-x * rate)


def _exp_inverse(p: float, rate: float) -> float:
    return math.inf if p == 1 else -math.log(1.0 - p) / rate


_DISTRIBUTIONS = {
    "exp": _Distribution({"rate": 1.0}, _exp_cumulative, _exp_inverse),
}


def _bind(name: str, function: str, parameters: dict) -> list[float]:
    distribution = _DISTRIBUTIONS[name]
    unknown = set(parameters) - set(distribution.parameters)
    if unknown:
        raise DMLRuntimeError(f"{function}: the {name} distribution has no parameter "
                              f"{sorted(unknown)[0]!r} (it takes {', '.join(distribution.parameters)})")
    values = []
    for parameter, default in distribution.parameters.items():
        value = parameters.get(parameter, default)
        if value is None:
            raise DMLRuntimeError(f"{function}: the {name} distribution needs {parameter}=")
        values.append(to_double(value, f"{function}: {parameter}"))
    return values


def _cumulative(name: str, function: str, target, lower_tail, parameters: dict) -> float:
    x = to_double(target, f"{function}: target")
    p = _DISTRIBUTIONS[name].cumulative(x, *_bind(name, function, parameters))
    return p if to_bool(lower_tail, f"{function}: lower.tail") else 1.0 - p


def _inverse(name: str, function: str, target, parameters: dict) -> float:
    p = to_double(target, f"{function}: target")
    if not 0 <= p <= 1:
        raise DMLRuntimeError(f"{function}: target must be a probability in [0, 1], got {p}")
    return _DISTRIBUTIONS[name].inverse(p, *_bind(name, function, parameters))


def _named(dist, function: str) -> str:
    name = to_string(dist, f"{function}: dist")
    if name not in _DISTRIBUTIONS:
        raise DMLRuntimeError(f"{function}: unsupported distribution {name!r} "
                              f"(kerasdml supports {', '.join(_DISTRIBUTIONS)})")
    return name


@builtin("cdf")
def cdf(target, dist="normal", lower_tail=True, **parameters):
    return _cumulative(_named(dist, "cdf"), "cdf", target, lower_tail, parameters)


@builtin("icdf")
def icdf(target, dist="normal", **parameters):
    return _inverse(_named(dist, "icdf"), "icdf", target, parameters)


def _register(name: str):
    def cumulative(target, lower_tail=True, **parameters):
        return _cumulative(name, f"p{name}", target, lower_tail, parameters)

    def inverse(target, **parameters):
        return _inverse(name, f"q{name}", target, parameters)
    builtin(f"p{name}")(cumulative)
    builtin(f"q{name}")(inverse)


for _name in _DISTRIBUTIONS:
    _register(_name)
