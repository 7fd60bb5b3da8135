"""The kinds the emulator reads, their models, and the names kubectl users type for them."""

from __future__ import annotations

from ..errors import InvalidArgumentError
from .isvc import InferenceService
from .predictor import Predictor
from .runtime import ServingRuntime
from .secret import StorageConfigSecret

__all__ = ["MODEL_BY_KIND", "SUPPORTED_KINDS", "Manifest", "resolve_kind"]

Manifest = ServingRuntime | InferenceService | Predictor | StorageConfigSecret

MODEL_BY_KIND: dict[str, type[Manifest]] = {
    "ClusterServingRuntime": ServingRuntime,
    "InferenceService": InferenceService,
    "Predictor": Predictor,
    "Secret": StorageConfigSecret,
    "ServingRuntime": ServingRuntime,
}
SUPPORTED_KINDS = tuple(MODEL_BY_KIND)

_KIND_BY_NAME = {name.lower(): kind for kind in MODEL_BY_KIND for name in (kind, kind + "s")} | {
    "isvc": "InferenceService",
    "isvcs": "InferenceService",
}


def resolve_kind(name: str) -> str:
    """Canonical kind for a kind name, plural or short name (`isvc`, `servingruntimes`, `Predictor`...)."""
    kind = _KIND_BY_NAME.get(name.lower().split(".", 1)[0])
    if kind is None:
        raise InvalidArgumentError(
            f'unknown resource type "{name}" (known: {", ".join(sorted(_KIND_BY_NAME))})'
        )
    return kind
