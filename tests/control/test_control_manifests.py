"""ManifestSync and WatchedFiles: which file owns which object, and what a change on disk does to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.control.kube_status import AlreadyExistsError, NotFoundError
from emulator.control.manifests import ManifestSync
from emulator.control.watcher import WatchedFiles
from emulator.errors import SpecError
from emulator.registry import Registry

RUNTIME = """\
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata: {name: rt}
spec:
  supportedModelFormats: [{name: sklearn, autoSelect: true}]
  multiModel: true
  protocolVersions: [grpc-v2]
  grpcDataEndpoint: port:8001
  containers: [{name: mlserver, image: mlserver}]
  builtInAdapter: {serverType: mlserver, runtimeManagementPort: 8001}
"""


def isvc(name: str, path: str = "sklearn/mnist-svm.joblib") -> str:
    return f"""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}
spec:
  predictor:
    model:
      modelFormat: {{name: sklearn}}
      storage: {{key: localMinIO, path: {path}}}
"""


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def sync(registry: Registry) -> ManifestSync:
    return ManifestSync(registry, built_in_server_types=["mlserver"], storage_secret_name="storage-config")


def names(registry: Registry) -> list[str]:
    return [obj.metadata.name for obj in registry.list("isvc")]


def lines(changes: list) -> list[str]:
    return [line for change in changes for line in change.lines()]


def test_apply_reports_kubectl_lines(sync: ManifestSync) -> None:
    first = sync.apply(sync.parse_text(RUNTIME + "---\n" + isvc("a"), "a.yaml"))
    again = sync.apply(sync.parse_text(isvc("a", "other.joblib"), "a.yaml"))

    assert [o.line() for o in first] == ["clusterservingruntime.serving.kserve.io/rt created",
                                         "inferenceservice.serving.kserve.io/a created"]
    assert [o.line() for o in again] == ["inferenceservice.serving.kserve.io/a configured"]


def test_namespace_option_fills_and_must_agree(sync: ManifestSync) -> None:
    (obj,) = sync.parse_text(isvc("a"), "a.yaml", namespace="team")
    with pytest.raises(SpecError) as caught:
        sync.parse_text(isvc("b").replace("  name: b", "  name: b\n  namespace: other"), "b.yaml", namespace="team")

    assert obj.metadata.namespace == "team"
    assert 'the namespace from the provided object "other" does not match the namespace "team"' in str(caught.value)


def test_create_replace_delete_use_kubernetes_messages(sync: ManifestSync) -> None:
    (obj,) = sync.parse_text(isvc("a"), "a.yaml")
    sync.create(obj)
    with pytest.raises(AlreadyExistsError, match=r'inferenceservices\.serving\.kserve\.io "a" already exists'):
        sync.create(obj)
    sync.delete("InferenceService", "a", "modelmesh-serving")
    with pytest.raises(NotFoundError, match=r'inferenceservices\.serving\.kserve\.io "a" not found'):
        sync.replace(obj)
    with pytest.raises(NotFoundError):
        sync.delete("InferenceService", "a", "modelmesh-serving")


def test_a_file_that_drops_an_object_deletes_it(sync: ManifestSync, registry: Registry) -> None:
    sync.sync("/m/f.yaml", sync.parse_text(isvc("a") + "---\n" + isvc("b"), "f.yaml"))
    outcomes = sync.sync("/m/f.yaml", sync.parse_text(isvc("b"), "f.yaml"))

    assert [o.line() for o in outcomes] == ["inferenceservice.serving.kserve.io/b unchanged",
                                            'inferenceservice.serving.kserve.io "a" deleted']
    assert names(registry) == ["b"]


def test_an_object_another_file_or_the_api_took_over_is_not_deleted(sync: ManifestSync, registry: Registry) -> None:
    sync.sync("/m/one.yaml", sync.parse_text(isvc("shared") + "---\n" + isvc("mine"), "one.yaml"))
    sync.sync("/m/two.yaml", sync.parse_text(isvc("shared"), "two.yaml"))
    sync.apply(sync.parse_text(isvc("mine", "via-api.joblib"), "cli.yaml"))

    assert sync.forget("/m/one.yaml") == []
    assert names(registry) == ["mine", "shared"]


def test_watched_files_follow_edits_renames_and_removals(sync: ManifestSync, registry: Registry,
                                                         tmp_path: Path) -> None:
    files = WatchedFiles(sync, [tmp_path])
    (tmp_path / "rt.yaml").write_text(RUNTIME)
    (tmp_path / "a.yaml").write_text(isvc("a"))
    started = lines(files.scan(initial=True))
    unchanged = files.scan()
    (tmp_path / "a.yaml").write_text(isvc("a", "v2.joblib"))
    edited = lines(files.scan())
    (tmp_path / "a.yaml").rename(tmp_path / "renamed.yaml")
    renamed = lines(files.scan())
    (tmp_path / "renamed.yaml").unlink()
    removed = lines(files.scan())

    assert started == ["inferenceservice.serving.kserve.io/a created",
                       "clusterservingruntime.serving.kserve.io/rt created"]
    assert unchanged == []
    assert edited == ["inferenceservice.serving.kserve.io/a configured"]
    assert renamed == ["inferenceservice.serving.kserve.io/a unchanged"]
    assert removed == ['inferenceservice.serving.kserve.io "a" deleted']
    assert names(registry) == []


def test_a_bad_edit_is_reported_and_leaves_the_objects(sync: ManifestSync, registry: Registry,
                                                       tmp_path: Path) -> None:
    files = WatchedFiles(sync, [tmp_path / "a.yaml"])
    (tmp_path / "a.yaml").write_text(isvc("a"))
    files.scan(initial=True)
    (tmp_path / "a.yaml").write_text(isvc("a").replace("modelFormat: {name: sklearn}", "modelFormat: {name: [1]}"))

    (change,) = files.scan()

    assert change.event == "invalid"
    assert change.error == (f'{tmp_path / "a.yaml"}, document 0: InferenceService "a": field '
                            "spec.predictor.model.modelFormat.name: Input should be a valid string")
    assert registry.get("isvc", "a") is not None


def test_a_missing_path_is_reported_at_start(sync: ManifestSync, tmp_path: Path) -> None:
    files = WatchedFiles(sync, [tmp_path / "absent.yaml"])

    assert lines(files.scan(initial=True)) == [f"error: {tmp_path / 'absent.yaml'}: no such file or directory"]
    assert files.scan() == []
