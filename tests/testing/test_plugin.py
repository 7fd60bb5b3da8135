"""The pytest plugin as users get it: outside projects run by `pytester` in a subprocess, through the entry point."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from emulator.testing import EmulatorThread
from emulator.testing.tensors import DATATYPES
from tests.v2_client import expected_outputs, rest_request

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "testing.md"
README = ROOT / "README.md"
_TITLED_BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
_QUIET = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestDeprecationWarning", "--strict-markers")
_NO_DOCKER = "unix:///nonexistent/docker.sock"


def docs_example(pytester: pytest.Pytester, source: Path = DOCS) -> list[str]:
    """Write every ```lang title="path"``` block of `source` into the project; returns the paths."""
    blocks = _TITLED_BLOCK.findall(source.read_text())
    for path, text in blocks:
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return [path for path, _ in blocks]


def run(pytester: pytest.Pytester, *args: str, timeout: float = 300) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*_QUIET, *args, timeout=timeout)


def runtimes_started_under(path: Path) -> list[str]:
    """Command lines of live processes that mention `path` (the runtimes an emulator started under it)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmdline = proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "mlserver" in cmdline and str(path) in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", _NO_DOCKER)


# -- the documented example, and what users see when something is wrong ----------------------------------


@pytest.mark.integration
def test_docs_example_runs_green_from_an_outside_project(pytester: pytest.Pytester) -> None:
    written = docs_example(pytester)

    result = run(pytester, "-v")
    script = pytester.run(sys.executable, str(pytester.path / "try_scale.py"), timeout=120)

    assert {"runtime/scale_model.py", "tests/conftest.py", "tests/test_scale.py", "try_scale.py"} <= set(written)
    result.assert_outcomes(passed=5)
    assert script.ret == 0, script.stderr.str()
    assert script.outlines[-1] == "[[2.5 5. ]]"
    assert runtimes_started_under(pytester.path) == []


@pytest.mark.integration
def test_readme_example_runs_green_on_the_docs_runtime(pytester: pytest.Pytester) -> None:
    docs_example(pytester)
    (pytester.path / "tests" / "test_scale.py").unlink()
    written = docs_example(pytester, README)
    readme_tests = re.findall(r"^def (test_\w+)", (pytester.path / "tests" / "test_scale.py").read_text(), re.MULTILINE)

    result = run(pytester, "-v", "tests")

    assert written == ["tests/conftest.py", "tests/test_scale.py"]
    result.assert_outcomes(passed=len(readme_tests))
    assert all(f"test_scale.py::{name} PASSED" in result.stdout.str() for name in readme_tests)


WRONG_AND_FAILING = '''
import numpy as np
import pytest

from emulator.testing import ModelStateError

BROKEN = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: broken, annotations: {serving.kserve.io/deploymentMode: ModelMesh}}
spec: {predictor: {model: {modelFormat: {name: scale}, storage: {key: localMinIO, path: scale/missing.json}}}}
"""


def test_wrong_expectation(emulator):
    assert emulator.infer("scale", {"x": np.array([[1.0, 2.0]])})["scaled"].tolist() == [[2.0, 4.0]]


def test_load_failure_carries_last_failure_info(emulator):
    emulator.apply_text(BROKEN)

    with pytest.raises(ModelStateError) as caught:
        emulator.wait_for_state("broken", timeout=60)

    failure = caught.value.status["modelStatus"]["lastFailureInfo"]
    assert failure["reason"] == "ModelLoadFailed"
    assert "scale/missing.json" in failure["message"]
    assert "lastFailureInfo" in str(caught.value)
'''

RECORD_EMULATORS = """
import os
import pytest

@pytest.fixture(autouse=True)
def record_emulator(request):
    yield
    if "emulator" in request.fixturenames:
        emu = request.getfixturevalue("emulator_instance")
        with open(os.path.join(os.environ["EMULATORS"], os.environ["PYTEST_XDIST_WORKER"]), "a") as log:
            log.write(f"{emu.grpc_address} {emu.rest_url} {emu.emulator.work_dir}\\n")
"""


@pytest.mark.integration
def test_parallel_workers_isolated_and_a_wrong_expectation_shows_a_diff(pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    docs_example(pytester)
    pytester.path.joinpath("tests", "test_more.py").write_text(WRONG_AND_FAILING)
    pytester.makeconftest(RECORD_EMULATORS)
    emulators = pytester.mkdir("emulators")
    monkeypatch.setenv("EMULATORS", str(emulators))

    result = run(pytester, "-n", "2", "--dist", "loadfile")

    result.assert_outcomes(passed=6, failed=1)
    output = result.stdout.str()
    assert "E       assert [[2.5, 5.0]] == [[2.0, 4.0]]\n" in output  # fnmatch would read [[…]] as a class
    assert "At index 0 diff: [2.5, 5.0] != [2.0, 4.0]" in output
    assert "emulator/testing/" not in output
    per_worker = {log.name: set(log.read_text().splitlines()) for log in emulators.iterdir()}
    assert sorted(per_worker) == ["gw0", "gw1"]
    assert all(len(seen) == 1 for seen in per_worker.values()), per_worker  # one emulator per worker session
    (gw0,), (gw1,) = per_worker.values()
    assert not set(gw0.split()) & set(gw1.split())  # own gRPC port, REST port and cache dir
    assert runtimes_started_under(pytester.path) == []


GOOD_MANIFEST = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: good
  annotations: {serving.kserve.io/deploymentMode: ModelMesh}
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storage: {key: localMinIO, path: good.joblib}
"""
BAD_MANIFEST = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: bad
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storage: {key: localMinIO, path: [not, a, string]}
"""


def test_a_broken_manifest_fails_with_file_document_and_field(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("manifests").mkdir()
    pytester.path.joinpath("manifests", "ok.yaml").write_text("")
    pytester.path.joinpath("manifests", "bad.yaml").write_text(GOOD_MANIFEST + "---\n" + BAD_MANIFEST)
    pytester.makepyfile(test_bad="""
        import pytest

        @pytest.mark.emulator_manifests("manifests")
        def test_uses_it(emulator):
            pass

        def test_does_not(emulator):
            pass
    """)

    result = run(pytester)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_uses_it*",
        "modelmesh-emulator refused a manifest:",
        f"{pytester.path}/manifests/bad.yaml, document 1: InferenceService \"bad\": "
        "field spec.predictor.model.storage.path: *",
    ])
    output = result.stdout.str()
    assert "Traceback" not in output and "During handling" not in output
    assert not re.search(r"emulator/\S+\.py:\d+: in ", output), output


# -- options, markers and what the plugin costs ---------------------------------------------------------


def test_docker_marker_skips_with_the_reason(pytester: pytest.Pytester, no_docker: None) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.emulator_docker
        def test_needs_docker():
            pass
    """)

    result = run(pytester, "-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED *no Docker daemon answers at {_NO_DOCKER}*"])


def test_docker_launcher_without_a_daemon_skips_emulator_tests(pytester: pytest.Pytester, no_docker: None) -> None:
    pytester.makepyfile("def test_it(emulator):\n    pass\n")

    result = run(pytester, "-rs", "--emulator-launcher", "docker")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED *--emulator-launcher=docker: no Docker daemon answers at {_NO_DOCKER}*"])


def test_an_unknown_launcher_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it():\n    pass\n")

    result = run(pytester, "--emulator-launcher", "podman")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--emulator-launcher=podman: choose one of process, docker, auto*"])


def test_markers_are_registered_and_options_documented(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.emulator_manifests()

        @pytest.mark.emulator_manifests()
        def test_marked(emulator):
            assert emulator.apply_paths([]) == []
    """)

    result = run(pytester)
    markers = pytester.runpytest_subprocess("--markers")
    usage = pytester.runpytest_subprocess("--help")

    result.assert_outcomes(passed=1)
    markers.stdout.fnmatch_lines(["@pytest.mark.emulator_manifests(*paths)*", "@pytest.mark.emulator_docker*"])
    usage.stdout.fnmatch_lines(["*--emulator-launcher=process|docker|auto*", "*--emulator-scope=*",
                                "*--emulator-s3-endpoint=URL*"])


SCOPE_PROBE = """
import json, os

def record(emulator):
    with open(os.environ["SCOPE_LOG"], "a") as log:
        log.write(json.dumps([emulator.grpc_address, emulator.rest_url]) + "\\n")

def test_one(emulator):
    record(emulator)

def test_two(emulator):
    record(emulator)
"""


@pytest.mark.parametrize(("scope", "emulators"), [(None, 1), ("module", 1), ("function", 2)])
def test_scope_option_decides_how_many_emulators_start(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                         scope: str | None, emulators: int) -> None:
    log = pytester.path / "scope.log"
    monkeypatch.setenv("SCOPE_LOG", str(log))
    pytester.makepyfile(test_scope=SCOPE_PROBE)

    result = run(pytester, *(["--emulator-scope", scope] if scope else []))

    result.assert_outcomes(passed=2)
    assert len(set(log.read_text().splitlines())) == emulators


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    heavy = ("grpc", "mlserver", "fastapi", "uvicorn", "pydantic", "pydantic_settings", "numpy", "docker", "httpx")
    code = ("import sys, emulator.testing.plugin; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip() == "[]"


# -- the same start and stop outside pytest -------------------------------------------------------------


def _isvc(name: str, model_format: str) -> str:
    return (f"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {name}\n"
            "  annotations: {serving.kserve.io/deploymentMode: ModelMesh}\nspec:\n  predictor:\n    model:\n"
            f"      modelFormat: {{name: {model_format}}}\n      storage: {{key: localMinIO, path: m.json}}\n")


def test_serve_stops_again_when_a_manifest_is_refused(tmp_path: Path) -> None:
    from emulator.testing import ManifestError, serve

    (tmp_path / "bad.yaml").write_text(BAD_MANIFEST)
    before = {t.ident for t in threading.enumerate()}

    with pytest.raises(ManifestError) as caught, serve(tmp_path / "bad.yaml", free_ports=True,
                                                        cache_dir=tmp_path / "cache"):
        pass

    assert caught.value.messages == [f"{tmp_path}/bad.yaml, document 0: InferenceService \"bad\": field "
                                     "spec.predictor.model.storage.path: Input should be a valid string"]
    assert {t.ident for t in threading.enumerate()} <= before


def test_serve_waits_for_a_state_and_reports_the_failure(tmp_path: Path) -> None:
    from emulator.testing import ModelStateError, serve

    (tmp_path / "isvc.yaml").write_text(_isvc("orphan", "no-such-format"))

    with serve(tmp_path / "isvc.yaml", free_ports=True, cache_dir=tmp_path / "cache") as emu:
        with pytest.raises(ModelStateError) as caught:
            emu.wait_for_state("orphan", timeout=30)
        failed = emu.wait_for_state("orphan", "FailedToLoad", timeout=1)
        with pytest.raises(ModelStateError, match=r"no InferenceService or Predictor 'nope' .*\(applied: orphan\)"):
            emu.status("nope")
        address = emu.grpc_address

    assert "NoSupportingRuntime" in str(caught.value)
    assert failed["modelStatus"]["lastFailureInfo"]["reason"] == "NoSupportingRuntime"
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        assert sock.connect_ex((host, int(port))) != 0  # stopped: nothing listens any more


async def test_serve_async_runs_on_the_callers_loop(tmp_path: Path) -> None:
    from emulator.testing import ModelStateError, serve_async, wait_for_state_async

    (tmp_path / "isvc.yaml").write_text(_isvc("orphan", "no-such-format"))

    async with serve_async(tmp_path / "isvc.yaml", free_ports=True, cache_dir=tmp_path / "cache") as emu:
        with pytest.raises(ModelStateError, match="NoSupportingRuntime"):
            await wait_for_state_async(emu, "orphan", timeout=30)
        assert emu.grpc_port != 0 and emu.rest_port != 0


def test_package_exports_are_objects_not_submodules() -> None:
    import importlib
    import pkgutil
    import types

    import emulator.testing as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")

    assert [name for name in package.__all__ if isinstance(getattr(package, name), types.ModuleType)] == []


# -- the helpers in-process, on the project's own sample models (tests/conftest.py points the fixtures at them) --


@pytest.mark.integration
@pytest.mark.parametrize("isvc", ["example-sklearn-mnist-svm", "example-custom-mnist"])
def test_infer_helpers_decode_the_sample_answers(emulator: EmulatorThread, isvc: str) -> None:
    (tensor,) = rest_request(isvc)["inputs"]
    pixels = np.array(tensor["data"], dtype=np.float32).reshape(tensor["shape"])

    by_grpc = emulator.infer(isvc, {tensor["name"]: pixels})
    by_rest = emulator.infer_rest(isvc, {tensor["name"]: pixels})

    assert by_grpc.model_name == by_rest.model_name
    assert by_grpc.model_name.startswith(f"{isvc}__isvc-")
    for expected in expected_outputs(isvc):
        want = np.array(expected["data"]).reshape(expected["shape"])
        for result in (by_grpc, by_rest):
            assert result[expected["name"]].dtype == DATATYPES[expected["datatype"]][0]
            np.testing.assert_allclose(result[expected["name"]], want, rtol=1e-6)
    assert emulator.wait_for_state(isvc, timeout=60)["modelStatus"]["states"]["activeModelState"] == "Loaded"
