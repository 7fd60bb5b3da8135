"""S3/MinIO connections from storage-config `s3` entries: validation, cached minio clients, readable errors."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from ..errors import StorageError
from .retry import TRANSIENT_HTTP_STATUSES, TransientStorageError
from .tls import client_ssl_context

__all__ = ["S3ClientCache", "S3Connection", "s3_error"]

_REQUIRED = ("access_key_id", "secret_access_key", "endpoint_url", "region")
_DENIED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                     "AuthorizationHeaderMalformed", "InvalidSecurity"})
_CONNECTION_OBJECT = re.compile(r"<[^>]*>: ")


@dataclass(frozen=True, repr=False)
class S3Connection:
    """Everything a client is built from; upstream caches clients by exactly these values."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    certificate: str = ""

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> S3Connection:
        values = {}
        for name in _REQUIRED:
            value = entry.get(name)
            if not isinstance(value, str):
                raise StorageError(f"unable to create repository of type 's3': "
                                   f"missing required string configuration '{name}'")
            values[name] = value
        certificate = entry.get("certificate")
        return cls(**values, certificate=certificate if isinstance(certificate, str) else "")

    @property
    def url(self) -> str:
        """`endpoint_url` with a scheme (https by default); an empty one means AWS S3, as with upstream's AWS SDK."""
        if not self.endpoint_url:
            return "https://s3.amazonaws.com"
        return self.endpoint_url if "://" in self.endpoint_url else f"https://{self.endpoint_url}"

    @property
    def endpoint(self) -> str:
        """The endpoint for messages: scheme and host only."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    def cache_key(self) -> str:
        fields = (self.endpoint_url, self.region, self.access_key_id, self.secret_access_key, self.certificate)
        return hashlib.sha256("\0".join(fields).encode()).hexdigest()

    def __repr__(self) -> str:
        return f"S3Connection({self.endpoint}, region={self.region!r})"


class S3ClientCache:
    """Path-style minio clients, one per distinct connection; urllib3's own retries are off (RetryPolicy retries)."""

    def __init__(self, *, max_clients: int = 32, connect_timeout_s: float = 10.0, read_timeout_s: float = 300.0):
        self._clients: OrderedDict[str, Minio] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_clients
        self._timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)

    def client(self, connection: S3Connection) -> Minio:
        key = connection.cache_key()
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._new_client(connection)
                if len(self._clients) > self._max:
                    self._clients.popitem(last=False)
            self._clients.move_to_end(key)
            return client

    def _new_client(self, connection: S3Connection) -> Minio:
        parts = urlsplit(connection.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise StorageError(f"endpoint_url '{connection.endpoint}{parts.path}' is not of the form "
                               "http(s)://host[:port]")
        secure = parts.scheme == "https"
        http = urllib3.PoolManager(
            timeout=self._timeout, maxsize=10, retries=False,
            ssl_context=client_ssl_context(connection.certificate or None) if secure else None,
        )
        client = Minio(parts.netloc.rpartition("@")[2], access_key=connection.access_key_id,
                       secret_key=connection.secret_access_key, secure=secure, region=connection.region or None,
                       http_client=http)
        client.disable_virtual_style_endpoint()
        return client


def s3_error(exc: Exception, doing: str, connection: S3Connection) -> StorageError:
    """A failure of minio (MinioException, ValueError) or urllib3 (HTTPError) as a StorageError naming what was
    being done; transient ones (unreachable, 5xx) as TransientStorageError."""
    where = f"unable to {doing} at {connection.endpoint}"
    if isinstance(exc, S3Error):
        status = exc.response.status if exc.response is not None else 0
        if exc.code == "NoSuchBucket":
            return StorageError(f"{where}: no such bucket")
        if exc.code in _DENIED or status == 403:
            return StorageError(f"{where}: access denied ({exc.code}: {exc.message}); check the entry's "
                                "access_key_id and secret_access_key")
        error = TransientStorageError if status in TRANSIENT_HTTP_STATUSES else StorageError
        return error(f"{where}: {exc.code}: {exc.message}")
    if isinstance(exc, ServerError | InvalidResponseError):
        status = exc.status_code if isinstance(exc, ServerError) else getattr(exc, "_code", 0)
        error = TransientStorageError if status in TRANSIENT_HTTP_STATUSES else StorageError
        return error(f"{where}: the server answered HTTP {status}")
    if isinstance(exc, urllib3.exceptions.SSLError):
        return StorageError(f"{where}: TLS failure ({_reason(exc)})")
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return TransientStorageError(f"{where}: endpoint unreachable ({_reason(exc)})")
    return StorageError(f"{where}: {exc}")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return _CONNECTION_OBJECT.sub("", str(reason)) or type(reason).__name__
