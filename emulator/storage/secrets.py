"""Keep credentials from storage entries out of messages and logs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SECRET_FIELDS", "redact", "secret_values"]

SECRET_FIELDS = ("access_key_id", "secret_access_key", "client_key", "private_key", "client_secret",
                 "connection_string", "token")
_SHORTEST_REDACTED = 4  # shorter values would blank out ordinary words


def secret_values(entry: dict[str, Any]) -> list[str]:
    """Every credential an entry carries: the fields above and the values of its HTTP `headers`."""
    values = [entry[name] for name in SECRET_FIELDS if isinstance(entry.get(name), str)]
    headers = entry.get("headers")
    if isinstance(headers, dict):
        for value in headers.values():
            values += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return [v for v in values if len(v) >= _SHORTEST_REDACTED]


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
