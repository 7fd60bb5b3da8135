"""Errors raised by spec objects (beyond emulator.errors.SpecError for malformed manifests)."""

from __future__ import annotations

from ..errors import InvalidArgumentError

__all__ = ["InvalidPredictorSpecError"]


class InvalidPredictorSpecError(InvalidArgumentError):
    """A well-formed InferenceService/Predictor that ModelMesh cannot serve (status InvalidSpec).

    Loading the manifest succeeds; the registry records the message as reason `InvalidPredictorSpec`.
    """

    reason = "InvalidPredictorSpec"
