"""Providers backed by local directories: the S3 stand-in (no endpoint) and PersistentVolumeClaims."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import StorageError
from .confine import directory_name, join_inside, relative_path
from .resolve import ResolvedStorage

__all__ = ["LocalBucketProvider", "PvcProvider", "copy_object_or_prefix"]


def copy_object_or_prefix(source: Path, target: Path, *, link: bool = False) -> None:
    """Copy a file, or a directory tree (a "prefix"), to `target`; with `link`, symlink instead."""
    if not source.exists():
        raise StorageError(f"no objects found for path '{source.name}'")
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        os.symlink(source, target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=False)
    else:
        shutil.copyfile(source, target)


class LocalBucketProvider:
    """`type: s3` entries with no `endpoint_url`: the bucket is the directory `<root>/<bucket>`."""

    def __init__(self, root: Path):
        self.root = root

    def fetch(self, storage: ResolvedStorage, path: str, target: Path) -> None:
        bucket = storage.entry.get("bucket")
        if not bucket:
            raise StorageError("no bucket given (storage entry, storage.parameters or s3:// URI)")
        if not isinstance(bucket, str):
            raise StorageError(f"bucket of {storage.origin('bucket')} must be a string")
        name = directory_name(bucket, "bucket", "the local S3 directory", storage.origin("bucket"))
        bucket_dir = join_inside(self.root, name)
        if not bucket_dir.is_dir():
            raise StorageError(f"bucket {bucket!r} does not exist in the local S3 directory {self.root}")
        source = join_inside(bucket_dir, relative_path(path, "storage path", "the bucket"))
        if not source.exists():
            raise StorageError(f"no objects found for path '{path}' in bucket {bucket!r}")
        copy_object_or_prefix(source, target)


class PvcProvider:
    """`type: pvc` entries: claim `name` is the directory `<root>/<name>`; files are symlinked, not copied.

    As in ModelMesh, a claim is mounted only when a `pvc` entry of the storage-config names it, unless
    `allow_any_pvc` (`allowAnyPVC`) is set.
    """

    def __init__(self, root: Path, *, allow_any_pvc: bool = False):
        self.root = root
        self.allow_any_pvc = allow_any_pvc

    def fetch(self, storage: ResolvedStorage, path: str, target: Path) -> None:
        claim = storage.entry.get("name")
        if not claim or not isinstance(claim, str):
            raise StorageError("required configuration 'name' missing from command")
        if not self.allow_any_pvc and claim not in storage.pvc_claims:
            raise StorageError(
                f"PersistentVolumeClaim '{claim}' is not mounted: no pvc entry of the storage-config names it "
                f"(named: {', '.join(sorted(storage.pvc_claims)) or 'none'}) and allowAnyPVC is off"
            )
        if not self.root.is_dir():
            raise StorageError(f"the PVC mount base '{self.root}' doesn't exist")
        name = directory_name(claim, "PersistentVolumeClaim name", "the PVC directory", storage.origin("name"))
        claim_dir = join_inside(self.root, name)
        if not claim_dir.is_dir():
            raise StorageError(f"PersistentVolumeClaim '{claim}' not found (no directory {claim_dir})")
        source = join_inside(claim_dir, relative_path(path, "storage path", "the PersistentVolumeClaim"))
        if not source.exists():
            raise StorageError(f"unable to access model local path '{path}' in PersistentVolumeClaim '{claim}'")
        # Linked as named, not resolved: a launcher that mounts the claim at its own path makes the link work there.
        copy_object_or_prefix(source, target, link=True)
