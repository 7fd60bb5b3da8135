"""`type: http` storage: one file fetched with `GET <url>/<path>`, as upstream's http provider."""

from __future__ import annotations

import posixpath
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from ..errors import StorageError
from .resolve import ResolvedStorage, display_url
from .retry import TRANSIENT_HTTP_STATUSES, RetryPolicy, TransientStorageError
from .secrets import secret_values
from .tls import client_ssl_context

__all__ = ["HttpProvider", "parse_headers", "request_url"]

_PATH_SAFE = "/-._~!$&'()*+,;=:@"
_BODY_CHARS = 200


def request_url(base: str, path: str) -> str:
    """`base` with `path` joined onto its path as Go's `path.Join` does; the query string is kept.

    A storageUri `https://host/a/model.joblib?raw=true` arrives as that base URL and an empty path.
    """
    parts = urlsplit(base)
    joined = "/".join(p for p in (unquote(parts.path), path) if p)
    if joined:
        joined = posixpath.normpath(joined)
        joined = "/" + joined.lstrip("/") if joined.startswith("/") or parts.netloc else joined
    return urlunsplit((parts.scheme, parts.netloc, quote(joined, safe=_PATH_SAFE), parts.query, ""))


def parse_headers(value: Any) -> list[tuple[str, str]]:
    """The entry's `headers`: a map of name to a string or a list of strings."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise StorageError("could not parse 'headers' as HTTP headers: not a map")
    headers = []
    for name, values in value.items():
        for item in values if isinstance(values, list) else [values]:
            if not isinstance(item, str):
                raise StorageError(f"could not parse 'headers' as HTTP headers: header '{name}' is not a string "
                                   "or a list of strings")
            headers.append((str(name), item))
    return headers


class HttpProvider:
    """TLS verification is always on: against the entry's `certificate` when given, else the system CAs."""

    def __init__(self, *, retry: RetryPolicy, connect_timeout_s: float = 30.0, read_timeout_s: float = 300.0):
        self._retry = retry
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)

    def fetch(self, storage: ResolvedStorage, path: str, target: Path) -> None:
        entry = storage.entry
        base = entry.get("url")
        if not isinstance(base, str) or not base:
            raise StorageError("required configuration 'url' missing from command")
        url = request_url(base, path)
        shown = display_url(url)
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise StorageError(f"unable to download file from '{shown}': unsupported protocol scheme '{scheme}'")
        headers = parse_headers(entry.get("headers"))
        context = client_ssl_context(*(_string(entry, k) for k in ("certificate", "client_certificate", "client_key")))
        with httpx.Client(verify=context, timeout=self._timeout, follow_redirects=True) as client:
            self._retry.call(lambda: _download(client, url, headers, target, shown),
                             what=f"download of {shown}", secrets=secret_values(entry))


def _download(client: httpx.Client, url: str, headers: list[tuple[str, str]], target: Path, shown: str) -> None:
    where = f"unable to download file from '{shown}'"
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                body = response.read()[:_BODY_CHARS].decode(errors="replace").strip()
                error = TransientStorageError if response.status_code in TRANSIENT_HTTP_STATUSES else StorageError
                raise error(f"{where}: HTTP Status Code: {response.status_code}, Error: {body}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise StorageError(f"{where}: {exc}") from None
    except httpx.TransportError as exc:
        if _tls_failure(exc):
            raise StorageError(f"{where}: TLS failure ({exc})") from None
        raise TransientStorageError(f"{where}: {type(exc).__name__} ({exc})") from None


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _string(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) and value else None
