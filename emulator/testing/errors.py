"""What the testing helpers raise: readable messages, no internals."""

from __future__ import annotations

from typing import Any

__all__ = ["ManifestError", "ModelStateError", "check_applied"]


class ManifestError(Exception):
    """Manifests the emulator refused; each message names the file, document, field and cause."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


class ModelStateError(Exception):
    """A model did not reach the state waited for; `status` is its ModelMesh status when there is one."""

    def __init__(self, message: str, status: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status


def check_applied(lines: list[str]) -> list[str]:
    """The kubectl-style lines of an apply; raises ManifestError when any reports an error."""
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    if errors:
        raise ManifestError(errors)
    return lines
