"""print's formatted form, print(template, values...): Java's String.format.

SystemDS hands each value to Java as its boxed class (an int is a Long, a double a Double, a
boolean a Boolean, a string a String), so a conversion Java refuses for that class (%d of a
double, %f of an int, %c of anything DML has) is an error here too. Values left over after
the last field are ignored, as Java ignores them. Decimal digits come from the digits Java's
Double.toString picks, rounded half up: %.2f of 1.005 is 1.01 and %.20f of 0.1 is
0.10000000000000000000, unlike C's printf.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from .errors import DMLRuntimeError
from .values import format_double, java_digits, type_name

# %[index$][flags][width][.precision]conversion, as java.util.Formatter reads it.
_SPEC = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


@dataclass(frozen=True)
class _Spec:
    text: str
    flags: str
    width: int | None
    precision: int | None
    conversion: str      # lower case; `upper` says whether the result is upper-cased
    upper: bool


def java_format(template: str, values) -> str:
    values = list(values)
    pieces = []
    position = next_value = 0
    previous = None
    while (start := template.find("%", position)) >= 0:
        pieces.append(template[position:start])
        match = _SPEC.match(template, start)
        if match is None:
            bad = template[start + 1:start + 2] or "%"
            raise _error(template, f"unknown conversion '{bad}'")
        position = match.end()
        index, flags, width, precision, conversion = match.groups()
        spec = _Spec(match.group(0), flags, int(width) if width else None,
                     int(precision) if precision is not None else None,
                     conversion.lower(), conversion.isupper() and conversion not in "%")
        handler = _CONVERSIONS.get(spec.conversion)
        if handler is None or (spec.upper and spec.conversion not in _UPPER_ALLOWED):
            raise _error(template, f"unknown or unsupported conversion '{conversion}'")
        _check_spec(template, spec)
        if spec.conversion in _NO_ARGUMENT:
            text = handler(template, spec, None)
        else:
            if "<" in flags:
                slot = previous
            elif index is not None:
                slot = int(index) - 1
            else:
                slot, next_value = next_value, next_value + 1
            if slot is None or not 0 <= slot < len(values):
                raise _error(template, f"no value for the field {spec.text}")
            previous = slot
            text = handler(template, spec, values[slot])
        if spec.upper:
            text = text.upper()
        pieces.append(_justify(spec, text))
    pieces.append(template[position:])
    return "".join(pieces)


def _error(template: str, message: str) -> DMLRuntimeError:
    return DMLRuntimeError(f"print format {template!r}: {message}")


# Flags each conversion accepts (Java throws FormatFlagsConversionMismatch for the others).
_ALLOWED_FLAGS = {
    "b": "-<", "s": "-<", "c": "-<", "%": "-", "n": "",
    "d": "-+ 0,(<", "o": "-#0<", "x": "-#0<",
    "e": "-#+ 0(<", "f": "-#+ 0,(<", "g": "-+ 0,(<",
}
_NO_PRECISION = set("doxc%n")
_NO_ARGUMENT = set("%n")
_UPPER_ALLOWED = set("bscxeg")


def _check_spec(template: str, spec: _Spec) -> None:
    flags = spec.flags
    if len(set(flags)) != len(flags):
        raise _error(template, f"{spec.text} repeats a flag")
    bad = [f for f in flags if f not in _ALLOWED_FLAGS[spec.conversion]]
    if bad:
        raise _error(template, f"flag '{bad[0]}' does not go with %{spec.conversion}")
    if spec.precision is not None and spec.conversion in _NO_PRECISION:
        raise _error(template, f"{spec.text} takes no precision")
    if spec.conversion == "n" and spec.width is not None:
        raise _error(template, f"{spec.text} takes no width")
    if ("-" in flags or "0" in flags) and spec.width is None:
        raise _error(template, f"{spec.text} needs a width for its '-' or '0' flag")
    if ("-" in flags and "0" in flags) or ("+" in flags and " " in flags):
        raise _error(template, f"{spec.text} combines flags that exclude each other")


def _justify(spec: _Spec, text: str) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    return text.ljust(spec.width) if "-" in spec.flags else text.rjust(spec.width)


def _require(template: str, spec: _Spec, value, kind: type, java_class: str):
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _error(template, f"%{spec.conversion} needs {java_class}, got the {type_name(value)} "
                               f"{_java_string(value)}")
    return value


def _java_string(value) -> str:
    """String.valueOf of the boxed value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_double(value)
    return str(value)


def _truncate(spec: _Spec, text: str) -> str:
    return text if spec.precision is None else text[:spec.precision]


# ---- conversions ---------------------------------------------------------------------------

def _boolean(template, spec, value) -> str:
    return _truncate(spec, "false" if value is False else "true")


def _string(template, spec, value) -> str:
    return _truncate(spec, _java_string(value))


def _character(template, spec, value) -> str:
    raise _error(template, f"%c cannot format the {type_name(value)} {_java_string(value)}")


def _percent(template, spec, value) -> str:
    return "%"


def _newline(template, spec, value) -> str:
    return "\n"


def _integer(template, spec, value) -> str:
    value = _require(template, spec, value, int, "an int")
    return _signed(spec, value < 0, str(abs(value)))


def _unsigned(prefix: str, digits: str):
    """%o and %x: a negative long shows its 64-bit two's complement, as Java's does."""
    def convert(template, spec, value) -> str:
        value = _require(template, spec, value, int, "an int") % (1 << 64)
        body = format(value, digits)
        lead = prefix if "#" in spec.flags else ""
        if "0" in spec.flags:
            body = body.rjust(spec.width - len(lead), "0")
        return lead + body
    return convert


def _floating(render):
    def convert(template, spec, value) -> str:
        value = _require(template, spec, value, float, "a double")
        negative = math.copysign(1.0, value) < 0
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return _signed(spec, negative, "Infinity", pad=False)
        with localcontext() as context:
            context.prec = 1200                 # every digit of the largest double, and more
            _sign, digits, exponent = java_digits(abs(value))
            body = render(spec, Decimal((0, tuple(digits), exponent)))
        return _signed(spec, negative, body)
    return convert


def _fixed_digits(spec: _Spec, number: Decimal, decimals: int) -> str:
    text = f"{number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):f}"
    return text + "." if decimals == 0 and "#" in spec.flags else text


def _fixed(spec: _Spec, number: Decimal) -> str:
    return _fixed_digits(spec, number, 6 if spec.precision is None else spec.precision)


def _round_significant(number: Decimal, digits: int) -> Decimal:
    return number.quantize(Decimal(1).scaleb(number.adjusted() - digits + 1), rounding=ROUND_HALF_UP)


def _scientific_digits(spec: _Spec, number: Decimal, decimals: int) -> str:
    if number == 0:
        digits, exponent = "0" * (decimals + 1), 0
    else:
        rounded = _round_significant(number, decimals + 1)
        digits, exponent = "".join(map(str, rounded.as_tuple().digits))[:decimals + 1], rounded.adjusted()
    mantissa = digits[0] + ("." + digits[1:] if decimals or "#" in spec.flags else "")
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _scientific(spec: _Spec, number: Decimal) -> str:
    return _scientific_digits(spec, number, 6 if spec.precision is None else spec.precision)


def _general(spec: _Spec, number: Decimal) -> str:
    """`precision` significant digits (trailing zeros kept), plain when the rounded value is in
    [1e-4, 10^precision), else scientific."""
    significant = 6 if spec.precision is None else max(spec.precision, 1)
    if number == 0:
        return _fixed_digits(spec, number, significant - 1)
    exponent = _round_significant(number, significant).adjusted()
    if -4 <= exponent < significant:
        return _fixed_digits(spec, number, significant - 1 - exponent)
    return _scientific_digits(spec, number, significant - 1)


def _signed(spec: _Spec, negative: bool, magnitude: str, pad: bool = True) -> str:
    """Grouping, sign (or parentheses) and zero padding of a decimal number."""
    flags = spec.flags
    if "," in flags and magnitude[:1].isdigit():
        whole, dot, fraction = magnitude.partition(".")
        magnitude = f"{int(whole):,}" + dot + fraction
    if negative:
        prefix, suffix = ("(", ")") if "(" in flags else ("-", "")
    else:
        prefix, suffix = ("+" if "+" in flags else " " if " " in flags else ""), ""
    if pad and "0" in flags:
        magnitude = magnitude.rjust(spec.width - len(prefix) - len(suffix), "0")
    return prefix + magnitude + suffix


_CONVERSIONS = {
    "b": _boolean, "s": _string, "c": _character, "%": _percent, "n": _newline,
    "d": _integer, "o": _unsigned("0", "o"), "x": _unsigned("0x", "x"),
    "e": _floating(_scientific), "f": _floating(_fixed), "g": _floating(_general),
}
