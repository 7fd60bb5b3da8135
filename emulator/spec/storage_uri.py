"""`storageUri` → (model path, storage parameters), as modelmesh-serving `processInferenceServiceStorage`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["StorageUriTarget", "UnsupportedStorageUriSchemeError", "parse_storage_uri"]

_AZURE_BLOB_HOST_SUFFIX = "blob.core.windows.net"
_BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})[^%]{0,2}")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class UnsupportedStorageUriSchemeError(ValueError):
    def __init__(self, scheme: str):
        super().__init__(f"unsupported storageUri scheme {scheme}")
        self.scheme = scheme


@dataclass(frozen=True)
class StorageUriTarget:
    path: str
    parameters: dict[str, str] = field(default_factory=dict, hash=False)


def _check_parsable(uri: str) -> None:
    """Reject what Go's url.Parse rejects (its error texts), which Python's urlsplit lets through."""
    if _CONTROL_CHARACTER.search(uri):
        raise ValueError(f'parse "{uri}": net/url: invalid control character in URL')
    before_query = uri.split("?", 1)[0].split("#", 1)[0]
    bad_escape = _BAD_PERCENT_ESCAPE.search(before_query)
    if bad_escape:
        raise ValueError(f'parse "{uri}": invalid URL escape "{bad_escape.group()}"')


def parse_storage_uri(uri: str) -> StorageUriTarget:
    """Split a storageUri into model path and implied parameters.

    Raises UnsupportedStorageUriSchemeError, or ValueError with Go's URL parse error text.
    """
    _check_parsable(uri)
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]  # Go's URL.Host excludes user info
    path = unquote(parts.path)
    scheme = parts.scheme
    if scheme == "pvc":
        return StorageUriTarget(path.removeprefix("/"), {"type": "pvc", "name": host})
    if scheme == "s3":
        return StorageUriTarget(path.removeprefix("/"), {"type": "s3", "bucket": host})
    if scheme == "gs":
        return StorageUriTarget(path.removeprefix("/"), {"type": "gcs", "bucket": host})
    if scheme in ("http", "https"):
        if host.endswith(_AZURE_BLOB_HOST_SUFFIX):
            container, _, blob_path = path.removeprefix("/").partition("/")
            account = host.split(".", 1)[0]
            parameters = {"type": "azure", "container": container, "account_name": account}
            return StorageUriTarget(blob_path, parameters)
        # Upstream passes the whole URI as the base URL and an empty model path.
        return StorageUriTarget("", {"type": "http", "url": uri})
    raise UnsupportedStorageUriSchemeError(scheme)
