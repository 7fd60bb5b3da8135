"""pytest plugin `modelmesh_emulator`: an emulator per test session (or module, or test) with your YAML applied.

Loaded through the `pytest11` entry point once modelmesh-emulator is installed. It imports nothing heavy
until a fixture runs, so projects that never use the fixtures pay nothing. Every fixture can be overridden
in a conftest.py; docs/testing.md has a complete example.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..settings import Settings
    from .client import V2Client
    from .runner import EmulatorThread
    from .storage import EmulatorStorage

__all__ = ["emulator_scope"]

SCOPES = ("function", "module", "session")
LAUNCHERS = ("process", "docker", "auto")
_MARKERS = (
    "emulator_manifests(*paths): manifest files or directories (relative to the test file) that the `emulator` "
    "fixture applies for this test, module or class, after those of the `emulator_manifests` fixture",
    "emulator_docker: the test needs a Docker daemon; skipped with the reason when none answers",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("modelmesh-emulator", "modelmesh-emulator fixtures")
    group.addoption("--emulator-launcher", default=None, metavar="process|docker|auto",
                    help="how the emulator runs runtimes (default: ini emulator_launcher, MMEMU_LAUNCHER, else "
                         "process)")
    group.addoption("--emulator-scope", default=None, choices=SCOPES,
                    help="how long one emulator lives (default: ini emulator_scope, else session)")
    group.addoption("--emulator-s3-endpoint", default=None, metavar="URL",
                    help="S3 endpoint for the emulator's s3 storage (default: MMEMU_S3_ENDPOINT)")
    parser.addini("emulator_launcher", "how the emulator runs runtimes: process, docker or auto", default="")
    parser.addini("emulator_scope", "how long one emulator lives: function, module or session", default="session")


def _launcher(config: pytest.Config) -> str | None:
    """The launcher asked for by option, ini or MMEMU_LAUNCHER; None leaves the fixtures' default, process."""
    return config.getoption("emulator_launcher") or config.getini("emulator_launcher") or \
        os.environ.get("MMEMU_LAUNCHER") or None


def pytest_configure(config: pytest.Config) -> None:
    for marker in _MARKERS:
        config.addinivalue_line("markers", marker)
    launcher = _launcher(config)
    if launcher is not None and launcher not in LAUNCHERS:
        raise pytest.UsageError(f"--emulator-launcher={launcher}: choose one of {', '.join(LAUNCHERS)}")
    scope = config.getini("emulator_scope")
    if scope not in SCOPES:
        raise pytest.UsageError(f"ini emulator_scope={scope}: choose one of {', '.join(SCOPES)}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("emulator_docker") is not None:
        from .docker_check import docker_unavailable_reason

        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(reason)


def emulator_scope(fixture_name: str, config: pytest.Config) -> str:
    """The scope chosen by --emulator-scope / ini emulator_scope; usable as `@pytest.fixture(scope=emulator_scope)`."""
    return config.getoption("emulator_scope") or config.getini("emulator_scope")


@pytest.fixture(scope="session")
def emulator_storage(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> EmulatorStorage:
    """Where the emulator finds model files (an `EmulatorStorage`).

    Default: fresh temporary directories. Write a model with `emulator_storage.path("my/model.joblib")`: that
    is the file an InferenceService with `storage: {key: localMinIO, path: my/model.joblib}` loads. PVCs:
    `emulator_storage.pvc_path(claim, path)`. --emulator-s3-endpoint / MMEMU_S3_ENDPOINT hands an S3 endpoint
    to the emulator's s3 storage instead. Override it (session scope) to use a directory of your own, e.g.
    `EmulatorStorage(local_s3_root=Path("tests/bucket"), pvc_root=Path("tests/pvcs"))`.
    """
    from .storage import EmulatorStorage

    root = tmp_path_factory.mktemp("emulator-storage")
    endpoint = pytestconfig.getoption("emulator_s3_endpoint") or os.environ.get("MMEMU_S3_ENDPOINT") or None
    return EmulatorStorage(local_s3_root=root / "s3", pvc_root=root / "pvcs", s3_endpoint=endpoint)


@pytest.fixture(scope="session")
def emulator_settings(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config,
                      emulator_storage: EmulatorStorage) -> Settings:
    """The emulator's `Settings`: free ports, a temporary cache dir, `emulator_storage`'s directories, a 10 s
    stop grace, the launcher from --emulator-launcher (default process); other fields from MMEMU_* variables.

    Override it (session scope) to change fields: `return emulator_settings.model_copy(update={...})`.
    """
    from ..settings import Settings
    from .context import free_port_settings
    from .docker_check import launcher_choices

    values: dict[str, Any] = {**free_port_settings(), "cache_dir": tmp_path_factory.mktemp("emulator-cache"),
                              "runtime_stop_grace_s": 10.0}
    try:
        values.update(emulator_storage.settings_overrides())
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    # Not the Settings default `auto`: a suite must not change backends because a Docker daemon happens to run.
    launcher = _launcher(pytestconfig) or "process"
    if launcher in launcher_choices():
        values["launcher"] = launcher  # one this version lacks makes `emulator_instance` skip, with the reason
    return Settings(**values)


def _skip_unrunnable_launcher(launcher: str) -> None:
    from .docker_check import docker_unavailable_reason, launcher_choices

    choices = launcher_choices()
    if launcher not in choices:
        pytest.skip(f"this modelmesh-emulator has no {launcher} launcher (launchers: {', '.join(choices)})")
    reason = docker_unavailable_reason() if launcher == "docker" else None
    if reason:
        pytest.skip(f"--emulator-launcher=docker: {reason}")


@pytest.fixture(scope=emulator_scope)
def emulator_instance(emulator_settings: Settings, pytestconfig: pytest.Config) -> Iterator[EmulatorThread]:
    """The running emulator shared at --emulator-scope (default session), without the manifests of `emulator`.

    Started on free ports in a background thread; stopped, with every runtime it started, when the scope ends —
    whether its tests passed or failed. Tests use `emulator`; module- or session-scoped fixtures of your own
    request this one and call `emulator_instance.apply(*paths)`.
    """
    from .runner import EmulatorThread

    _skip_unrunnable_launcher(_launcher(pytestconfig) or emulator_settings.launcher)
    with EmulatorThread(emulator_settings) as emu:
        yield emu


@pytest.fixture
def emulator_manifests() -> list[str | Path]:
    """Manifest files or directories the `emulator` fixture applies (default: none).

    Override it in a conftest.py or test module, at any scope:
    `return [Path(__file__).parent / "manifests"]`. The marker `@pytest.mark.emulator_manifests(...)` adds
    more per test, class or module.
    """
    return []


def _marker_paths(request: pytest.FixtureRequest) -> list[Path]:
    base = request.path.parent
    markers = reversed(list(request.node.iter_markers("emulator_manifests")))  # module first, test last
    return [base / path for marker in markers for path in marker.args]


@pytest.fixture
def emulator(emulator_instance: EmulatorThread, emulator_manifests: list[str | Path] | str | Path,
             request: pytest.FixtureRequest) -> EmulatorThread:
    """The running emulator (an `EmulatorThread`) with `emulator_manifests` and marker manifests applied.

    Applying is `kubectl apply`: unchanged objects stay as they are (loaded models stay loaded), so a shared
    emulator costs each test only the YAML parse. A refused manifest fails the test with its file, document,
    field and cause. Then: `emulator.infer(name, {"input": array})` (gRPC; `infer_rest` for REST) returns
    NumPy outputs by name; `emulator.wait_for_state(name)` waits for Loaded (or raises with lastFailureInfo);
    `emulator.status(name)` is ModelMesh's status; `emulator.apply_text(yaml)`, `emulator.delete(kind, name)`.
    """
    from .errors import ManifestError

    given = [emulator_manifests] if isinstance(emulator_manifests, str | Path) else list(emulator_manifests)
    refused = None
    try:
        emulator_instance.apply(*given, *_marker_paths(request))
    except ManifestError as exc:
        refused = exc
    if refused is not None:  # failing outside `except` keeps "during handling of…" out of the report
        pytest.fail(f"modelmesh-emulator refused a manifest:\n{refused}", pytrace=False)
    return emulator_instance


@pytest.fixture
def emulator_client(emulator: EmulatorThread) -> V2Client:
    """A `V2Client` bound to the emulator: `.infer`, `.infer_rest`, `.stub`, `.http`."""
    return emulator.client


@pytest.fixture
def emulator_grpc(emulator: EmulatorThread) -> Any:
    """MLServer's generated KServe V2 `GRPCInferenceServiceStub` on the emulator's gRPC port (8033's stand-in)."""
    return emulator.client.stub


@pytest.fixture
def emulator_rest(emulator: EmulatorThread) -> Any:
    """An `httpx.Client` whose base_url is the emulator's REST port (8008's stand-in): `post("/v2/models/…")`."""
    return emulator.client.http
