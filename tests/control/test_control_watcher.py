"""`watch`: real filesystem events (watchfiles) re-apply, prune and delete, and each change is logged once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from emulator.control.manifests import ManifestSync
from emulator.control.watcher import WatchedFiles, watch
from emulator.registry import Registry
from tests.control.test_control_manifests import RUNTIME, isvc

WATCHER = "emulator.control.watcher"


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def sync(registry: Registry) -> ManifestSync:
    return ManifestSync(registry, built_in_server_types=["mlserver"], storage_secret_name="storage-config")


async def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def watcher_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == WATCHER]


class Watching:
    def __init__(self, files: WatchedFiles):
        self.files = files
        self.stop = asyncio.Event()


@pytest.fixture
async def watching(sync: ManifestSync, tmp_path: Path, caplog: pytest.LogCaptureFixture
                   ) -> AsyncIterator[Callable[[list[Path]], Watching]]:
    caplog.set_level(logging.INFO, logger=WATCHER)
    tasks: list[tuple[asyncio.Task[None], Watching]] = []

    def start(paths: list[Path]) -> Watching:
        state = Watching(WatchedFiles(sync, paths))
        state.files.scan(initial=True)
        tasks.append((asyncio.create_task(watch(state.files, state.stop)), state))
        return state

    yield start
    for task, state in tasks:
        state.stop.set()
        await asyncio.wait_for(task, timeout=30)


async def started(caplog: pytest.LogCaptureFixture) -> None:
    await until(lambda: any(line.startswith("watching ") for line in watcher_lines(caplog)), "the watcher to start")
    await asyncio.sleep(0.5)  # watchfiles sets up its inotify watches after the task starts


async def test_a_watched_directory_follows_added_edited_and_removed_files(
        watching: Callable[[list[Path]], Watching], registry: Registry, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "rt.yaml").write_text(RUNTIME)
    watching([tmp_path])
    await started(caplog)
    added = tmp_path / "nested" / "a.yaml"

    added.parent.mkdir()
    added.write_text(isvc("a"))
    await until(lambda: registry.get("isvc", "a") is not None, "a to be created")
    added.write_text(isvc("a", "v2.joblib") + "---\n" + isvc("b"))
    await until(lambda: registry.get("isvc", "b") is not None, "b to be created")
    added.write_text(isvc("b"))
    await until(lambda: registry.get("isvc", "a") is None, "a to be pruned")
    added.unlink()
    await until(lambda: registry.get("isvc", "b") is None, "b to be deleted")

    lines = [line for line in watcher_lines(caplog) if not line.startswith("watching ")]
    assert lines == [
        f"{added} applied: inferenceservice.serving.kserve.io/a created",
        f"{added} applied: inferenceservice.serving.kserve.io/a configured, inferenceservice.serving.kserve.io/b "
        "created",
        f'{added} applied: inferenceservice.serving.kserve.io/b unchanged, inferenceservice.serving.kserve.io "a" '
        "deleted",
        f'{added} removed: inferenceservice.serving.kserve.io "b" deleted',
    ]
    assert registry.get("ClusterServingRuntime", "rt") is not None


async def test_a_watched_file_ignores_its_neighbours_and_survives_a_bad_edit(
        watching: Callable[[list[Path]], Watching], registry: Registry, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(isvc("a"))
    watching([path])
    await started(caplog)

    (tmp_path / "neighbour.yaml").write_text(isvc("neighbour"))
    path.write_text("kind: [")
    await until(lambda: any("invalid YAML" in line for line in watcher_lines(caplog)), "the error")
    path.write_text(isvc("a", "v2.joblib"))
    await until(lambda: any(" configured" in line for line in watcher_lines(caplog)), "the fix")

    assert registry.get("isvc", "neighbour") is None
    assert registry.get("isvc", "a").spec.predictor.model.storage.path == "v2.joblib"
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert errors == [f"{path}, document 0: invalid YAML at line 1, column 8: while parsing a flow node, expected the "
                      "node content, but found '<stream end>'; the objects it defined are left as they were"]


async def test_other_files_in_a_watched_directory_cause_no_rescan(
        watching: Callable[[list[Path]], Watching], registry: Registry, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "rt.yaml").write_text(RUNTIME)
    state = watching([tmp_path])
    rescans: list[float] = []
    rescan = state.files.rescan
    state.files.rescan = lambda: (rescans.append(time.monotonic()), rescan())[1]  # type: ignore[method-assign]
    await started(caplog)

    log_file = tmp_path / "cache" / "runtime.log"
    log_file.parent.mkdir()  # a new folder is rescanned once: a manifest may already be in it
    await asyncio.sleep(1.0)  # longer than the watcher's debounce
    before_logs = len(rescans)
    for line in range(10):
        with log_file.open("a") as out:
            out.write(f"line {line}\n")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    quiet = rescans[before_logs:]
    (tmp_path / "a.yaml").write_text(isvc("a"))
    await until(lambda: registry.get("isvc", "a") is not None, "the new manifest")

    assert quiet == []
    assert len(rescans) >= 1
