"""Shared pydantic base classes: camelCase aliases, unknown fields ignored, object metadata."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["KubeModel", "ObjectMeta", "TopLevelObject"]

_LOCATION_FIELDS = {"source", "document"}


class KubeModel(BaseModel):
    """Base of every manifest fragment: camelCase in YAML, snake_case in Python, unknown fields ignored; each field
    takes only its own JSON type (no `true` for an int, no `"8080"` for a port), as the API server's strict decoding."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", strict=True)


_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")


def _subdomain_name(name: str) -> str:
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise ValueError(
            f"invalid name {name!r}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return name


def _label_name(name: str) -> str:
    if len(name) > 63 or not re.fullmatch(_DNS_LABEL, name):
        raise ValueError(
            f"invalid namespace {name!r}: a lowercase RFC 1123 label must consist of lower case alphanumeric "
            "characters or '-', and must start and end with an alphanumeric character"
        )
    return name


class ObjectMeta(KubeModel):
    name: Annotated[str, AfterValidator(_subdomain_name)]
    namespace: Annotated[str, AfterValidator(_label_name)] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class TopLevelObject(KubeModel):
    """A whole manifest. `source`/`document` say where it was read from; they take no part in equality."""

    api_versions: ClassVar[tuple[str, ...]] = ()
    """apiVersion values accepted for this kind (the first is the canonical one)."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    source: str | None = Field(default=None, exclude=True)
    document: int | None = Field(default=None, exclude=True)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str | None:
        return self.metadata.namespace

    @property
    def display_name(self) -> str:
        """`Kind "name"`, the way error messages name an object."""
        return f'{self.kind} "{self.metadata.name}"'

    def _comparable(self) -> dict[str, Any]:
        return self.model_dump(exclude=_LOCATION_FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TopLevelObject) or type(other) is not type(self):
            return NotImplemented
        return self._comparable() == other._comparable()
