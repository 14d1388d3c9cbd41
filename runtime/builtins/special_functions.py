"""Special functions behind the probability distributions: log-gamma, the regularized incomplete
gamma and beta functions, erf/erfc and the inverse error function.

SystemDS evaluates its distributions with Apache Commons Math, and the last printed digit depends on
the exact sequence of floating-point steps. These are the same published algorithms, step for step:
the NSWC library's Gamma(1 + x) - 1 and log-beta routines (DiDonato & Morris), Lanczos' log-gamma
for large arguments (g = 607/128), the series and Legendre continued fraction of the incomplete gamma
function, the incomplete beta continued fraction (Numerical Recipes' form), the modified Lentz
evaluation of continued fractions, and Giles' polynomial approximation of erfinv.
"""
from __future__ import annotations

import decimal
import functools
import math
from typing import Callable

from ..errors import DMLRuntimeError

_HALF_LOG_2_PI = 0.5 * math.log(2.0 * math.pi)
_LANCZOS_G = 607.0 / 128.0
# Godfrey's coefficients of the Lanczos series for g = 607/128
_LANCZOS = (0.99999999999999709182, 57.156235665862923517, -59.597960355475491248,
            14.136097974741747174, -0.49191381609762019978, 0.33994649984811888699e-4,
            0.46523628927048575665e-4, -0.98374475304879564677e-4, 0.15808870322491248884e-3,
            -0.21026444172410488319e-3, 0.21743961811521264320e-3, -0.16431810653676389022e-3,
            0.84418223983852743293e-4, -0.26190838401581408670e-4, 0.36899182659531622704e-5)

# NSWC DGAM1: 1/Gamma(1 + t) - 1 on [-0.5, 1.5], rational parts (A, B) for t < 0 and (P, Q) for
# t >= 0, then the common polynomial C13 .. C1 and its last coefficient (C for t < 0, C0 for t >= 0)
_G1_A = (.611609510448141581788e-08, .624730830116465516210e-08)
_G1_B = (.203610414066806987300e+00, .266205348428949217746e-01, .493944979382446875238e-03,
         -.851419432440314906588e-05, -.643045481779353022248e-05, .992641840672773722196e-06,
         -.607761895722825260739e-07, .195755836614639731882e-09)
_G1_P = (.611609510448141581786e-08, .687167411306719860e-08, .682016166849617076e-09,
         .468684332294884793e-10, .157283302771044628e-11, -.124944157227636634e-12,
         .434352993740859406e-14)
_G1_Q = (.305696107836522138e+00, .546421308604229662e-01, .495683009382588732e-02,
         .269236946618636130e-03)
_G1_C = (-.655878071520253881077019515145390481279766e+00,
         -.420026350340952355290039348754298187113945e-01,
         .166538611382291489501700795102105235717781e+00,
         -.421977345555443367482083012891873913016526e-01,
         -.962197152787697356211492167234819897536294e-02,
         .721894324666309954239501034044657270990480e-02,
         -.116516759185906511211397108401838866680933e-02,
         -.215241674114950972815729963053647806478241e-03,
         .128050282388116186153198626328164323394093e-03,
         -.201348547807882386556893914210218183822948e-04,
         -.125049348214267065734535947383309224232265e-05,
         .113302723198169588237412962033074494332400e-05,
         -.205633841697760710345015413002057415355600e-06)   # C1 .. C13
_G1_C_NEGATIVE = -.422784335098467139393487909917597568957840e+00
_G1_C_POSITIVE = .577215664901532860606512090082402431042160e+00

# Delta(x) = log Gamma(x) - (x - 1/2) log x + x - log(2 pi)/2, as a series in (10/x)^2 (NSWC BCORR)
_DELTA = (.833333333333333333333333333333e-01, -.277777777777777777777777752282e-04,
          .793650793650793650791732130419e-07, -.595238095238095232389839236182e-09,
          .841750841750832853294451671990e-11, -.191752691751854612334149171243e-12,
          .641025640510325475730918472625e-14, -.295506514125338232839867823991e-15,
          .179643716359402238723287696452e-16, -.139228964661627791231203060395e-17,
          .133802855014020915603275339093e-18, -.154246009867966094273710216533e-19,
          .197701992980957427278370133333e-20, -.234065664793997056856992426667e-21,
          .171348014966398575409015466667e-22)

# Giles' single-branch polynomials of erfinv in w = -log((1 - x)(1 + x)), highest degree first:
# (upper limit of w, how w is shifted, coefficients)
_ERFINV = (
    (6.25, lambda w: w - 3.125,
     (-3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
      1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
      6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
      2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
      1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
      4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
      0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
      0.24015818242558961693, 1.6536545626831027356)),
    (16.0, lambda w: math.sqrt(w) - 3.25,
     (2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
      1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
      2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
      6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
      0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
      -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
      3.0838856104922207635)),
    (math.inf, lambda w: math.sqrt(w) - 5.0,
     (-2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
      -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
      2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
      -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
      7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
      1.0103004648645343977, 4.8499064014085844221)),
)


# Commons Math computes with FastMath, whose exp and log1p are not always correctly rounded;
# these reproduce its rounding (log(0) = -inf, log of a negative number = NaN, exp overflows to inf).
_EXACT = decimal.Context(prec=40)


# FastMath's log(1 + y) near 1: a degree-8 polynomial with coefficients as (head, tail) pairs
_LOG_NEAR_ONE = ((1.0, 5.669184079525E-24), (-0.25, -0.25),
                 (0.3333333134651184, 1.986821492305628E-8), (-0.25, -6.663542893624021E-14),
                 (0.19999998807907104, 1.1921056801463227E-8),
                 (-0.1666666567325592, -7.800414592973399E-9),
                 (0.1428571343421936, 5.650007086920087E-9),
                 (-0.12502530217170715, -7.44321345601866E-11),
                 (0.11113807559013367, 9.219544613762692E-9))


def _split(value: float, tail: float) -> tuple[float, float]:
    t = value * 2.0**30
    head = value + t - t
    return head, value - head + tail


def log(x: float) -> float:
    if not x > 0:
        return -math.inf if x == 0 else math.nan
    if not 0.99 < x < 1.01:
        return math.log(x)
    # y = x - 1 exactly, split in halves; the polynomial is evaluated in head + tail pairs
    y_head, y_tail = _split(x - 1.0, 0.0)
    head, tail = _LOG_NEAR_ONE[-1]
    for c_head, c_tail in reversed(_LOG_NEAR_ONE[:-1]):
        head, tail = _split(head * y_head, head * y_tail + tail * y_head + tail * y_tail)
        head, tail = _split(head + c_head, tail + c_tail)
    head, tail = _split(head * y_head, head * y_tail + tail * y_head + tail * y_tail)
    return head + tail


def _split_head(d: float) -> float:
    """The high half of d's significand, as FastMath splits numbers for exact products."""
    if -8e298 < d < 8e298:
        a = d * 2.0**30
        return d + a - a
    a = d * 2.0**-30
    return (d + a - d) * 2.0**30


@functools.lru_cache(maxsize=None)
def _exp_table(numerator: int, denominator: int) -> tuple[float, float]:
    """e^(numerator/denominator) as a split head and a tail."""
    exact = _EXACT.exp(_EXACT.divide(decimal.Decimal(numerator), decimal.Decimal(denominator)))
    head = _split_head(float(exact))
    return head, float(_EXACT.subtract(exact, decimal.Decimal(head)))


def exp(x: float) -> float:
    """e^x = e^k * e^(j/1024) * e^epsilon: tabulated factors times a degree-4 polynomial."""
    if math.isnan(x):
        return x
    if x < 0.0:
        n = int(min(-x, 2.0**31 - 1))
        if n > 746:
            return 0.0
        if n > 709:             # scaled back into range: e^40.19140625 and e^1.494140625
            return exp(x + 40.19140625) / 285040095144011776.0
        if n == 709:
            return exp(x + 1.494140625) / 4.455505956692757
        k = -(n + 1)
    else:
        k = int(min(x, 2.0**31 - 1))
        if k > 709:
            return math.inf
    int_head, int_tail = _exp_table(k, 1)
    j = int((x - k) * 1024.0)
    frac_head, frac_tail = _exp_table(j, 1024)
    epsilon = x - (k + j / 1024.0)
    z = 0.04168701738764507
    for c in (0.1666666505023083, 0.5000000000042687, 1.0, -3.940510424527919E-20):
        z = z * epsilon + c
    head = int_head * frac_head
    tail = int_head * frac_tail + int_tail * frac_head + int_tail * frac_tail
    both = tail + head
    return math.inf if both == math.inf else both * z + tail + head


def log1p(x: float) -> float:
    """A correction for the rounding of 1 + x plus log(1 + x) as a head and a tail, summed in
    that order; below 1e-6 a Taylor polynomial."""
    if not x > -1:
        return -math.inf if x == -1 else math.nan
    if abs(x) <= 1e-6:
        return ((x * (1.0 / 3.0) - 0.5) * x + 1) * x
    if math.isinf(x):
        return x
    xpa = 1 + x
    xpb = -(xpa - 1 - x)
    exact = _EXACT.ln(decimal.Decimal(xpa))
    head = float(exact)
    tail = float(_EXACT.subtract(exact, decimal.Decimal(head)))
    correction = xpb / xpa
    return (0.5 * correction + 1) * correction + tail + head


def _horner(coefficients, t: float, start: float | None = None) -> float:
    """The polynomial with these coefficients (constant term first) at t, by Horner's rule;
    start, when given, replaces the highest coefficient."""
    value = coefficients[-1] if start is None else start
    for c in reversed(coefficients[:-1]):
        value = c + t * value
    return value


def inv_gamma1p_m1(x: float) -> float:
    """1 / Gamma(1 + x) - 1 for -0.5 <= x <= 1.5."""
    t = x if x <= 0.5 else (x - 0.5) - 0.5
    if t < 0.0:
        a = _G1_A[0] + t * _G1_A[1]
        b = 1.0 + t * _horner(_G1_B, t)
        c = _G1_C_NEGATIVE + t * _horner(_G1_C, t, _G1_C[-1] + t * (a / b))
        return t * c / x if x > 0.5 else x * ((c + 0.5) + 0.5)
    p = _horner(_G1_P, t)
    q = 1.0 + t * _horner(_G1_Q, t)
    c = _G1_C_POSITIVE + t * _horner(_G1_C, t, _G1_C[-1] + (p / q) * t)
    return (t / x) * ((c - 0.5) - 0.5) if x > 0.5 else x * c


def log_gamma1p(x: float) -> float:
    """log Gamma(1 + x) for -0.5 <= x <= 1.5."""
    return -log1p(inv_gamma1p_m1(x))


def _lanczos(x: float) -> float:
    total = 0.0
    for i in range(len(_LANCZOS) - 1, 0, -1):
        total += _LANCZOS[i] / (x + i)
    return total + _LANCZOS[0]


def log_gamma(x: float) -> float:
    if math.isnan(x) or x <= 0.0:
        return math.nan
    if x < 0.5:
        return log_gamma1p(x) - log(x)
    if x <= 2.5:
        return log_gamma1p((x - 0.5) - 0.5)
    if x <= 8.0:
        n = math.floor(x - 1.5)
        product = 1.0
        for i in range(1, n + 1):
            product *= x - i
        return log_gamma1p(x - (n + 1)) + log(product)
    tmp = x + _LANCZOS_G + 0.5
    return ((x + 0.5) * log(tmp)) - tmp + _HALF_LOG_2_PI + log(_lanczos(x) / x)


def gamma(x: float) -> float:
    """Gamma(x) for 0 < x <= 20, the range log_beta needs."""
    if x >= 1.0:
        product, t = 1.0, x
        while t > 2.5:
            t -= 1.0
            product *= t
        return product / (1.0 + inv_gamma1p_m1(t - 1.0))
    product, t = x, x
    while t < -0.5:
        t += 1.0
        product *= t
    return 1.0 / (product * (1.0 + inv_gamma1p_m1(t)))


_TINY = 1e-50


def _not_tiny(value: float) -> float:
    return _TINY if abs(value) <= _TINY else value


def continued_fraction(a: Callable[[int], float], b: Callable[[int], float],
                       epsilon: float, max_iterations: int) -> float:
    """a0 + b1 / (a1 + b2 / (a2 + ...)) by the modified Lentz algorithm."""
    h = _not_tiny(a(0))
    d, c = 0.0, h
    n = 1
    while n < max_iterations:
        an, bn = a(n), b(n)
        d = 1.0 / _not_tiny(an + bn * d)
        c = _not_tiny(an + bn / c)
        delta = c * d
        h *= delta
        if math.isinf(h) or math.isnan(h):
            raise DMLRuntimeError("continued fraction diverged")
        if abs(delta - 1.0) < epsilon:
            return h
        n += 1
    raise DMLRuntimeError(f"continued fraction did not converge in {max_iterations} iterations")


_UNLIMITED = 2**31 - 1


def regularized_gamma_p(a: float, x: float, epsilon: float = 1e-14,
                        max_iterations: int = _UNLIMITED) -> float:
    """P(a, x) = gamma(a, x) / Gamma(a): the power series below a + 1."""
    if math.isnan(a) or math.isnan(x) or a <= 0.0 or x < 0.0:
        return math.nan
    if x == 0.0:
        return 0.0
    if x >= a + 1:
        return 1.0 - regularized_gamma_q(a, x, epsilon, max_iterations)
    n, term = 0.0, 1.0 / a
    total = term
    while abs(term / total) > epsilon and n < max_iterations and total < math.inf:
        n += 1.0
        term *= x / (a + n)
        total += term
    if n >= max_iterations:
        raise DMLRuntimeError(f"incomplete gamma series did not converge in {max_iterations} terms")
    if math.isinf(total):
        return 1.0
    return exp(-x + (a * log(x)) - log_gamma(a)) * total


def regularized_gamma_q(a: float, x: float, epsilon: float = 1e-14,
                        max_iterations: int = _UNLIMITED) -> float:
    """Q(a, x) = 1 - P(a, x): Legendre's continued fraction from a + 1 on."""
    if math.isnan(a) or math.isnan(x) or a <= 0.0 or x < 0.0:
        return math.nan
    if x == 0.0:
        return 1.0
    if x < a + 1.0:
        return 1.0 - regularized_gamma_p(a, x, epsilon, max_iterations)
    fraction = continued_fraction(lambda n: ((2.0 * n) + 1.0) - a + x, lambda n: n * (a - n),
                                  epsilon, max_iterations)
    return exp(-x + (a * log(x)) - log_gamma(a)) * (1.0 / fraction)


def erf(x: float) -> float:
    if abs(x) > 40:
        return 1.0 if x > 0 else -1.0
    p = regularized_gamma_p(0.5, x * x, 1.0e-15, 10000)
    return -p if x < 0 else p


def erfc(x: float) -> float:
    if abs(x) > 40:
        return 0.0 if x > 0 else 2.0
    q = regularized_gamma_q(0.5, x * x, 1.0e-15, 10000)
    return 2 - q if x < 0 else q


def erf_inv(x: float) -> float:
    # (1 - x)(1 + x), not 1 - x * x, which loses the digits near +-1
    w = -log((1.0 - x) * (1.0 + x))
    if math.isinf(w):
        return math.inf * x
    for limit, shift, coefficients in _ERFINV:
        if w < limit:
            return _horner(coefficients[::-1], shift(w)) * x
    return math.nan * x    # w is NaN


def _log_gamma_sum(a: float, b: float) -> float:
    """log Gamma(a + b) for 1 <= a, b <= 2."""
    x = (a - 1.0) + (b - 1.0)
    if x <= 0.5:
        return log_gamma1p(1.0 + x)
    if x <= 1.5:
        return log_gamma1p(x) + log1p(x)
    return log_gamma1p(x - 1.0) + log(x * (1.0 + x))


def _delta_minus_delta_sum(a: float, b: float) -> float:
    """Delta(b) - Delta(a + b) for 0 <= a <= b, b >= 10."""
    h = a / b
    p = h / (1.0 + h)
    q = 1.0 / (1.0 + h)
    q2 = q * q
    s = [1.0]                       # s[i] = 1 + q + ... + q^(2i)
    for _ in range(1, len(_DELTA)):
        s.append(1.0 + (q + q2 * s[-1]))
    sqrt_t = 10.0 / b
    t = sqrt_t * sqrt_t
    w = _DELTA[-1] * s[-1]
    for i in range(len(_DELTA) - 2, -1, -1):
        w = t * w + _DELTA[i] * s[i]
    return w * p / b


def _sum_delta_minus_delta_sum(p: float, q: float) -> float:
    """Delta(a) + Delta(b) - Delta(a + b) for a, b >= 10."""
    a, b = min(p, q), max(p, q)
    sqrt_t = 10.0 / a
    t = sqrt_t * sqrt_t
    z = _horner(_DELTA, t)
    return z / a + _delta_minus_delta_sum(a, b)


def _log_gamma_minus_log_gamma_sum(a: float, b: float) -> float:
    """log Gamma(b) - log Gamma(a + b) for a >= 0, b >= 10."""
    if a <= b:
        d, w = b + (a - 0.5), _delta_minus_delta_sum(a, b)
    else:
        d, w = a + (b - 0.5), _delta_minus_delta_sum(b, a)
    u = d * log1p(a / b)
    v = a * (log(b) - 1.0)
    return (w - u) - v if u <= v else (w - v) - u


def log_beta(p: float, q: float) -> float:
    if math.isnan(p) or math.isnan(q):
        return math.nan
    a, b = min(p, q), max(p, q)
    if a <= 0.0:
        return math.nan
    if a >= 10.0:
        w = _sum_delta_minus_delta_sum(a, b)
        h = a / b
        c = h / (1.0 + h)
        u = -(a - 0.5) * log(c)
        v = b * log1p(h)
        base = -0.5 * log(b) + _HALF_LOG_2_PI + w
        return (base - u) - v if u <= v else (base - v) - u
    if a > 2.0:
        if b > 1000.0:
            n = math.floor(a - 1.0)
            product, reduced = 1.0, a
            for _ in range(n):
                reduced -= 1.0
                product *= reduced / (1.0 + reduced / b)
            return ((log(product) - n * log(b))
                    + (log_gamma(reduced) + _log_gamma_minus_log_gamma_sum(reduced, b)))
        product1, reduced = 1.0, a
        while reduced > 2.0:
            reduced -= 1.0
            h = reduced / b
            product1 *= h / (1.0 + h)
        if b < 10.0:
            product2, reduced_b = 1.0, b
            while reduced_b > 2.0:
                reduced_b -= 1.0
                product2 *= reduced_b / (reduced + reduced_b)
            return (log(product1) + log(product2)
                    + (log_gamma(reduced) + (log_gamma(reduced_b) - _log_gamma_sum(reduced, reduced_b))))
        return log(product1) + log_gamma(reduced) + _log_gamma_minus_log_gamma_sum(reduced, b)
    if a >= 1.0:
        if b > 2.0:
            if b < 10.0:
                product, reduced_b = 1.0, b
                while reduced_b > 2.0:
                    reduced_b -= 1.0
                    product *= reduced_b / (a + reduced_b)
                return (log(product)
                        + (log_gamma(a) + (log_gamma(reduced_b) - _log_gamma_sum(a, reduced_b))))
            return log_gamma(a) + _log_gamma_minus_log_gamma_sum(a, b)
        return log_gamma(a) + log_gamma(b) - _log_gamma_sum(a, b)
    if b >= 10.0:
        return log_gamma(a) + _log_gamma_minus_log_gamma_sum(a, b)
    return log(gamma(a) * gamma(b) / gamma(a + b))


def regularized_beta(x: float, a: float, b: float, epsilon: float = 1e-14,
                     max_iterations: int = _UNLIMITED) -> float:
    """I_x(a, b), by the continued fraction on whichever side of the mean converges faster."""
    if (math.isnan(x) or math.isnan(a) or math.isnan(b) or x < 0 or x > 1 or a <= 0 or b <= 0):
        return math.nan
    if x > (a + 1) / (2 + b + a) and 1 - x <= (b + 1) / (2 + b + a):
        return 1 - regularized_beta(1 - x, b, a, epsilon, max_iterations)

    def numerator(n: int) -> float:
        if n % 2 == 0:
            m = n / 2.0
            return (m * (b - m) * x) / ((a + (2 * m) - 1) * (a + (2 * m)))
        m = (n - 1.0) / 2.0
        return -((a + m) * (a + b + m) * x) / ((a + (2 * m)) * (a + (2 * m) + 1.0))

    fraction = continued_fraction(lambda n: 1.0, numerator, epsilon, max_iterations)
    return (exp((a * log(x)) + (b * log1p(-x)) - log(a) - log_beta(a, b))
            * 1.0 / fraction)
