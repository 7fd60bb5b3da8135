"""Retry transient storage errors with bounded exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import StorageError
from .secrets import redact

__all__ = ["TRANSIENT_HTTP_STATUSES", "RetryPolicy", "TransientStorageError"]

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})


class TransientStorageError(StorageError):
    """A storage request failed in a way that may succeed when tried again (unreachable, timeout, 5xx)."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    """Attempts after the first one."""
    backoff_s: float = 0.5
    """Wait before the first retry; doubled for each further one."""
    max_backoff_s: float = 8.0

    def call(self, fn: Callable[[], T], *, what: str, secrets: Iterable[str] = ()) -> T:
        """`fn()`, tried again after each TransientStorageError until the retries are used up."""
        attempt = 0
        while True:
            try:
                return fn()
            except TransientStorageError as exc:
                if attempt >= self.retries:
                    if not self.retries:
                        raise
                    raise TransientStorageError(f"{exc.message} (gave up after {attempt + 1} attempts)") from None
                delay = min(self.backoff_s * 2 ** attempt, self.max_backoff_s)
                attempt += 1
                log.warning("%s failed, retry %d/%d in %.1fs: %s", what, attempt, self.retries, delay,
                            redact(exc.message, secrets))
                time.sleep(delay)
