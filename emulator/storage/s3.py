"""`type: s3` storage: an object or a prefix pulled from S3/MinIO with the minio client, as upstream's s3 provider."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio
from minio.error import MinioException

from ..errors import StorageError
from .confine import join_inside, relative_path
from .puller import StorageProvider
from .resolve import ResolvedStorage
from .retry import RetryPolicy
from .s3_client import S3ClientCache, S3Connection, s3_error
from .secrets import secret_values

__all__ = ["S3Defaults", "S3Object", "S3Provider", "object_target", "wanted_object"]

log = logging.getLogger(__name__)

_CLIENT_ERRORS = (MinioException, urllib3.exceptions.HTTPError, ValueError)
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, repr=False)
class S3Defaults:
    """The emulator's own endpoint and keys (settings), for `s3` entries that name no `endpoint_url`."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def fill(self, entry: dict[str, object]) -> dict[str, object]:
        defaults = {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key,
                    "region": self.region}
        return {**defaults, **entry, "endpoint_url": self.endpoint_url}


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int


def wanted_object(key: str, size: int, prefix: str) -> bool:
    """Upstream's filter: no 0-byte or `/`-terminated "directory" keys; `models/m` matches `models/m` and
    `models/m/...`, never `models/m2`."""
    if size == 0 or key.endswith("/"):
        return False
    return prefix.endswith("/") or key == prefix or key.startswith(prefix + "/")


def object_target(target: Path, prefix: str, key: str) -> Path:
    """Local file for `key`: `target` itself for the object named by `prefix`, else the rest of the key under it."""
    relative = key[len(prefix):]
    if not relative:
        return target
    return join_inside(target, relative_path(relative, f"object key {key!r}"))


class S3Provider:
    """Entries with `endpoint_url` pull over S3. Entries without one pull from the emulator's default endpoint
    when settings give one, else from `local` (the local-directory stand-in behind the embedded `localMinIO`)."""

    def __init__(self, local: StorageProvider, *, retry: RetryPolicy, defaults: S3Defaults | None = None,
                 clients: S3ClientCache | None = None, concurrency: int = 10,
                 progress_min_bytes: int = 64 << 20):
        self._local = local
        self._retry = retry
        self._defaults = defaults
        self._clients = clients or S3ClientCache()
        self._concurrency = concurrency
        self._progress_min_bytes = progress_min_bytes

    def fetch(self, storage: ResolvedStorage, path: str, target: Path) -> None:
        entry = storage.entry
        if entry.get("endpoint_url") is None:
            if self._defaults is None:
                self._local.fetch(storage, path, target)
                return
            entry = self._defaults.fill(entry)
        connection = S3Connection.from_entry(entry)
        bucket = entry.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise StorageError("required configuration 'bucket' missing from command")
        client = self._clients.client(connection)
        secrets = secret_values(entry)
        objects = self._retry.call(lambda: self._list(client, connection, bucket, path),
                                   what=f"listing s3://{bucket}/{path} at {connection.endpoint}", secrets=secrets)
        if not objects:
            raise StorageError(f"no objects found for path '{path}' in bucket '{bucket}' at {connection.endpoint}")
        jobs = [(obj, object_target(target, path, obj.key)) for obj in objects]

        def download(obj: S3Object, dest: Path) -> None:
            self._retry.call(lambda: self._download(client, connection, bucket, obj, dest),
                             what=f"download of s3://{bucket}/{obj.key}", secrets=secrets)

        _run_all(download, jobs, self._concurrency)

    @staticmethod
    def _list(client: Minio, connection: S3Connection, bucket: str, prefix: str) -> list[S3Object]:
        try:
            listed = list(client.list_objects(bucket, prefix=prefix, recursive=True))
        except _CLIENT_ERRORS as exc:
            raise s3_error(exc, f"list objects in bucket '{bucket}'", connection) from None
        return [S3Object(o.object_name, o.size or 0) for o in listed
                if o.object_name is not None and wanted_object(o.object_name, o.size or 0, prefix)]

    def _download(self, client: Minio, connection: S3Connection, bucket: str, obj: S3Object, dest: Path) -> None:
        doing = f"download object '{obj.key}' from bucket '{bucket}'"
        dest.parent.mkdir(parents=True, exist_ok=True)
        progress = _Progress(f"s3://{bucket}/{obj.key}", obj.size, self._progress_min_bytes)
        try:
            response = client.get_object(bucket, obj.key)
        except _CLIENT_ERRORS as exc:
            raise s3_error(exc, doing, connection) from None
        try:
            with open(dest, "wb") as out:
                for chunk in response.stream(_CHUNK_BYTES):
                    out.write(chunk)
                    progress.advance(len(chunk))
        except urllib3.exceptions.HTTPError as exc:
            raise s3_error(exc, doing, connection) from None
        finally:
            response.close()
            response.release_conn()


def _run_all(download: Callable[[S3Object, Path], None], jobs: list[tuple[S3Object, Path]], concurrency: int) -> None:
    if len(jobs) == 1:
        download(*jobs[0])
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs)), thread_name_prefix="s3-download") as pool:
        futures = [pool.submit(download, obj, dest) for obj, dest in jobs]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


class _Progress:
    """Logs a large download's start and each quarter done."""

    def __init__(self, name: str, total: int, min_bytes: int):
        self._name, self._total, self._done, self._quarter = name, total, 0, 1
        self._enabled = total > 0 and total >= min_bytes
        if self._enabled:
            log.info("downloading %s (%.1f MiB)", name, total / (1 << 20))

    def advance(self, count: int) -> None:
        self._done += count
        while self._enabled and self._quarter <= 4 and self._done * 4 >= self._quarter * self._total:
            log.info("downloading %s: %d%% (%.1f of %.1f MiB)", self._name, self._quarter * 25,
                     self._done / (1 << 20), self._total / (1 << 20))
            self._quarter += 1
