"""`serve FILE` with hostile manifests (an alias bomb, YAML nested 2000 deep) logs one clear error per file and
keeps serving; so do the file watcher and the management API when they meet the same files later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import Served, serve_process
from tests.spec.test_manifest_limits import ALIAS_BOMB, RUNTIME_HEAD, nested

pytestmark = pytest.mark.integration

RUNTIMES = "/apis/serving.kserve.io/v1alpha1/namespaces/modelmesh-serving/servingruntimes"
ALIAS_ERROR = "YAML aliases are not allowed in manifests (*a at line 9, column 12); write the value out in full"
DEPTH_ERROR = "mappings and lists are nested more than 100 levels deep (at line 8, column 107)"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    manifests = tmp_path_factory.mktemp("hostile")
    (manifests / "a-bomb.yaml").write_text(ALIAS_BOMB)
    (manifests / "b-deep.yaml").write_text(nested(2000))
    (manifests / "c-good.yaml").write_text(RUNTIME_HEAD.replace("name: rt", "name: good"))
    served = serve_process([str(manifests)], cwd=ROOT, cache_dir=tmp_path_factory.mktemp("hostile-cache"))
    yield served, manifests
    served.stop()


def test_serve_reports_each_hostile_file_once_and_applies_the_rest(hostile: tuple[Served, Path]) -> None:
    served, manifests = hostile

    errors = [line for line in served.lines if line.startswith("error: ")]
    assert errors == [f"error: {manifests / 'a-bomb.yaml'}, document 0: {ALIAS_ERROR}",
                      f"error: {manifests / 'b-deep.yaml'}, document 0: {DEPTH_ERROR}"]
    assert "servingruntime.serving.kserve.io/good created" in served.lines
    assert _good_runtime(served).status_code == 200


def test_the_api_refuses_the_same_manifests_and_keeps_serving(hostile: tuple[Served, Path]) -> None:
    served, _ = hostile
    answers = [httpx.post(f"{served.api_url}/emulator/v1/apply", content=text,
                          headers=served.headers | {"Content-Type": "application/yaml"}, verify=served.verify,
                          timeout=30)
               for text in (ALIAS_BOMB, nested(2000), "x: " + "[" * 100_000)]

    assert [answer.status_code for answer in answers] == [422, 422, 422]
    assert [answer.json()["message"] for answer in answers] == [
        f"request body, document 0: {ALIAS_ERROR}", f"request body, document 0: {DEPTH_ERROR}",
        "request body, document 0: mappings and lists are nested more than 100 levels deep (at line 1, column 103)"]
    assert served.process.poll() is None
    assert _good_runtime(served).status_code == 200


def test_a_watched_file_edited_into_a_bomb_is_reported_and_its_objects_kept(hostile: tuple[Served, Path]) -> None:
    served, manifests = hostile
    seen = len(served.lines)

    (manifests / "c-good.yaml").write_text(ALIAS_BOMB.replace("name: rt", "name: good"))

    served.wait_for(lambda line: f"{manifests / 'c-good.yaml'}, document 0: {ALIAS_ERROR}" in line, after=seen)
    assert served.process.poll() is None
    assert _good_runtime(served).status_code == 200


def _good_runtime(served: Served) -> httpx.Response:
    return httpx.get(f"{served.api_url}{RUNTIMES}/good", headers=served.headers, verify=served.verify)
