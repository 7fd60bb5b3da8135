"""`serve`'s manifest files: applied at start, then re-applied, pruned or deleted as they change on disk.

Each change event triggers a rescan of every PATH, so renames, editors' atomic saves and removed
directories all come out right; a file whose bytes did not change is not re-applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from ..errors import SpecError
from ..spec import MANIFEST_SUFFIXES, manifest_files
from .manifests import ManifestSync, Outcome

__all__ = ["FileChange", "WatchedFiles", "watch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileChange:
    path: str
    event: str
    """applied, removed or invalid."""
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None

    def lines(self) -> list[str]:
        if self.error is not None:
            return [f"error: {self.error}"]
        return [outcome.line() for outcome in self.outcomes]

    def log(self) -> None:
        if self.error is not None:
            log.error("%s; the objects it defined are left as they were", self.error)
            return
        changes = ", ".join(self.lines()) or "nothing to change"
        level = logging.ERROR if any(outcome.error for outcome in self.outcomes) else logging.INFO
        log.log(level, "%s %s: %s", self.path, self.event, changes)


class WatchedFiles:
    """The manifest files under `paths` and the digest of what was last read from each."""

    def __init__(self, sync: ManifestSync, paths: Sequence[Path]):
        self.paths = [Path(path) for path in paths]
        self._sync = sync
        self._digests: dict[Path, str] = {}
        self._shown: dict[Path, str] = {}

    def scan(self, *, initial: bool = False) -> list[FileChange]:
        """Apply new and changed files, delete what removed files defined; one FileChange per file."""
        changes: list[FileChange] = []
        current: dict[Path, Path] = {}
        for path in manifest_files(self.paths):
            if path.is_file():
                current[path.resolve()] = path
            elif initial:
                changes.append(FileChange(str(path), "invalid", error=f"{path}: no such file or directory"))
        for resolved, path in current.items():
            change = self._reload(resolved, path)
            if change is not None:
                changes.append(change)
        for resolved in [known for known in self._digests if known not in current]:
            del self._digests[resolved]
            shown = self._shown.pop(resolved)
            changes.append(FileChange(shown, "removed", self._sync.forget(str(resolved))))
        return changes

    def _reload(self, resolved: Path, path: Path) -> FileChange | None:
        try:
            with open(path, "rb") as file:  # an oversized file is refused by parse_file: no need to read it all
                digest = hashlib.sha256(file.read(self._sync.max_manifest_bytes + 1)).hexdigest()
        except OSError:
            return None  # gone again before we read it; the next scan treats it as removed
        if self._digests.get(resolved) == digest:
            return None
        self._digests[resolved], self._shown[resolved] = digest, str(path)
        try:
            manifests = self._sync.parse_file(path)
        except SpecError as exc:
            return FileChange(str(path), "invalid", error=exc.message)
        return FileChange(str(path), "applied", self._sync.sync(str(resolved), manifests))

    def rescan(self) -> None:
        for change in self.scan():
            change.log()


async def watch(files: WatchedFiles, stop: asyncio.Event) -> None:
    """Rescan `files` after every change under their paths until `stop` is set."""
    directories = sorted({path.resolve() for path in files.paths if path.is_dir()})
    parents = sorted({path.resolve().parent for path in files.paths if not path.is_dir()} - set(directories))
    watched_files = {path.resolve() for path in files.paths if not path.is_dir()}
    groups = [
        (directories, True, _manifest_change),
        ([parent for parent in parents if parent.is_dir()], False, lambda _, path: Path(path) in watched_files),
    ]
    watchers = [_watch(roots, recursive, only, files, stop) for roots, recursive, only in groups if roots]
    if not watchers:
        return
    log.info("watching %s for changes", ", ".join(str(path) for path in files.paths))
    await asyncio.gather(*watchers)


def _manifest_change(change: watchfiles.Change, path: str) -> bool:
    """Changes that can alter what a directory applies: its YAML files, removed folders that held some, and new
    folders (a file written into one before the watch reaches it sends no event of its own)."""
    if Path(path).suffix in MANIFEST_SUFFIXES or change == watchfiles.Change.deleted:
        return True
    return change == watchfiles.Change.added and Path(path).is_dir()


async def _watch(roots: list[Path], recursive: bool, only: Callable[[watchfiles.Change, str], bool],
                 files: WatchedFiles, stop: asyncio.Event) -> None:
    try:
        async for _ in watchfiles.awatch(*roots, recursive=recursive, stop_event=stop, debounce=400,
                                         watch_filter=only):
            try:
                files.rescan()
            except Exception:  # a bug in one reload must not end watching
                log.exception("reloading manifests failed")
    except Exception:
        log.exception("stopped watching %s; restart serve to follow changes again", ", ".join(map(str, roots)))
