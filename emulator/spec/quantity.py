"""Kubernetes resource quantities (`1Gi`, `128Mi`, `500m`, `1e3`, `1.5G`, `2`)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = ["parse_quantity", "to_bytes", "to_millicores"]

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}
# k8s.io/apimachinery resource.Quantity: <signed number><binarySI | decimalExponent | decimalSI>
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exponent>[eE][+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a Kubernetes quantity; ValueError when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid quantity {value!r}: expected a string or a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"invalid quantity {value!r}: not a finite number")
        return Decimal(repr(value))
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise ValueError(
            f"invalid quantity {value!r}: expected a number with an optional suffix "
            "(Ki, Mi, Gi, Ti, Pi, Ei; n, u, m, k, M, G, T, P, E; or an exponent like e3), "
            "e.g. 1Gi, 500m, 128Mi"
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the regex only admits valid decimals
        raise ValueError(f"invalid quantity {value!r}") from exc
    if match["binary"]:
        return number * _BINARY_SUFFIXES[match["binary"]]
    if match["exponent"]:
        return number.scaleb(int(match["exponent"][1:]))
    return number * _DECIMAL_SUFFIXES[match["decimal"] or ""]


def to_bytes(value: str | int | float) -> int:
    """A memory quantity in bytes, rounded up as Kubernetes' `Quantity.Value()` does."""
    return math.ceil(parse_quantity(value))


def to_millicores(value: str | int | float) -> int:
    """A CPU quantity in millicores, rounded up as Kubernetes' `Quantity.MilliValue()` does."""
    return math.ceil(parse_quantity(value) * 1000)
