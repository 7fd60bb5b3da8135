"""ModelMesh's triton-2.x runtime, its manifest unchanged from ../shared, run by the docker launcher in the local
Triton image (docker/triton.Dockerfile: the real `tritonserver` of nvidia-pytriton), serving the Python-backend
samples of sample_models/triton_models.py through the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import numpy as np
import pytest
import yaml

from emulator.errors import RuntimeStartError
from emulator.launchers.docker_labels import LABEL_RUNTIME
from emulator.launchers.images import ImageResolver
from emulator.placement.runtime_pool import RuntimeHandle
from emulator.settings import Settings
from emulator.testing import EmulatorThread, InferError
from tests.adapters.test_triton import A, B, assert_add_sub_answers_over_grpc_and_rest, isvc_yaml, triton_models
from tests.conftest import UPSTREAM_EXAMPLES
from tests.docker_support import docker_client_or_skip, require_images
from tests.model_status import eventually, wait_until_settled
from tests.sample_buckets import sample_bucket

MANIFEST = UPSTREAM_EXAMPLES / "testdata" / "config" / "runtimes" / "triton-2.x.yaml"
UPSTREAM_IMAGE = "nvcr.io/nvidia/tritonserver:23.04-py3"
LOCAL_IMAGE = "modelmesh-emulator/tritonserver:2.51"
GIB = 1024**3


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    if not MANIFEST.is_file():
        pytest.skip(f"{MANIFEST} is not present")
    client = docker_client_or_skip()
    require_images(client, [LOCAL_IMAGE])
    yield client
    client.close()


@pytest.fixture(scope="module")
def triton_bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_bucket(tmp_path_factory, "triton_models")


@pytest.fixture(scope="module")
def triton(client: docker.DockerClient, make_settings: Callable[..., Settings],
           triton_bucket: Path) -> Iterator[EmulatorThread]:
    settings = make_settings(launcher="docker", local_s3_root=triton_bucket)
    assert settings.image_overrides[UPSTREAM_IMAGE] == LOCAL_IMAGE, "the default override"
    with EmulatorThread(settings) as emu:
        emu.apply(MANIFEST)
        emu.apply_text(isvc_yaml("add-sub", "triton/add-sub"))
        emu.apply_text(isvc_yaml("broken", "triton/broken"))
        yield emu


def _handle(emu: EmulatorThread) -> RuntimeHandle:
    handles = emu.call(lambda: [h for h in emu.emulator.pool.handles() if h.runtime.metadata.name == "triton-2.x"])
    assert len(handles) == 1
    return handles[0]


@pytest.mark.docker
@pytest.mark.integration
def test_python_backend_model_infers_over_grpc_and_rest_in_the_local_image(triton: EmulatorThread) -> None:
    assert_add_sub_answers_over_grpc_and_rest(triton)  # READY is asked of the Triton in the container


@pytest.mark.docker
@pytest.mark.integration
def test_the_container_runs_the_manifests_command_resources_and_labels(triton: EmulatorThread,
                                                                        client: docker.DockerClient) -> None:
    triton.client.infer("add-sub", {"INPUT0": A, "INPUT1": B})
    handle = _handle(triton)
    attrs = client.containers.get(handle.instance.container_id).attrs
    manifest = yaml.safe_load(MANIFEST.read_text())["spec"]["containers"][0]

    assert manifest["image"] == "tritonserver-2:replace"
    assert attrs["Config"]["Image"] == LOCAL_IMAGE, "kustomize name → nvcr.io image → image_overrides"
    assert attrs["Config"]["Entrypoint"] == manifest["command"] == ["/bin/sh"]
    assert attrs["Config"]["Cmd"] == manifest["args"]  # `exec tritonserver --model-repository=...`, unchanged
    assert attrs["State"]["Running"]
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    image_env = dict(item.split("=", 1) for item in client.images.get(LOCAL_IMAGE).attrs["Config"]["Env"])
    assert "env" not in manifest and env == image_env, "the manifest sets no env, and the emulator adds none"
    assert env["PATH"].startswith("/opt/tritonserver/bin:")
    host_config = attrs["HostConfig"]
    assert host_config["Memory"] == host_config["MemorySwap"] == 1 * GIB  # limits.memory 1Gi, no swap
    assert host_config["NanoCpus"] == min(5, client.info()["NCPU"]) * 10**9, "limits.cpu 5, at most the host's"
    assert host_config["CpuShares"] == 512  # requests.cpu 500m
    assert host_config["CapDrop"] == ["ALL"]
    assert attrs["Config"]["Labels"][LABEL_RUNTIME] == "triton-2.x"
    assert attrs["Config"]["Labels"]["name"] == "modelmesh-serving-triton-2.x"
    assert list(host_config["PortBindings"]) == ["8001/tcp"]  # grpcDataEndpoint = runtimeManagementPort
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/models"]["Source"] == str(handle.instance.models_dir)
    assert (handle.instance.models_dir / "_triton_models").is_dir(), "made by the manifest's own `mkdir -p`"


@pytest.mark.docker
@pytest.mark.integration
def test_a_model_that_fails_in_the_container_is_failed_to_load_with_tritons_message(
        triton: EmulatorThread) -> None:
    status = wait_until_settled(triton, "broken")["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["message"].startswith("Failed to load Model due to Triton runtime error:")
    assert "this sample model is broken on purpose" in status["lastFailureInfo"]["message"]
    with pytest.raises(InferError) as caught:
        triton.client.infer("broken", {"INPUT0": A, "INPUT1": B})
    assert "broken on purpose" in caught.value.details()


@pytest.mark.docker
@pytest.mark.integration
def test_deleting_the_inference_service_unloads_the_model_from_the_container(triton: EmulatorThread) -> None:
    triton.apply_text(isvc_yaml("short-lived", "triton/add-sub"))
    concrete = triton.client.infer("short-lived", {"INPUT0": A, "INPUT1": B}).model_name
    models_dir = _handle(triton).instance.models_dir
    assert triton_models(triton)[concrete] == "READY"
    assert (models_dir / "_triton_models" / concrete).is_dir()

    triton.call(lambda: triton.emulator.registry.delete("InferenceService", "short-lived"))

    assert eventually(lambda: triton_models(triton).get(concrete) != "READY")
    assert eventually(lambda: not (models_dir / "_triton_models" / concrete).exists())
    with pytest.raises(InferError):
        triton.client.infer("short-lived", {"INPUT0": A, "INPUT1": B})
    np.testing.assert_allclose(triton.client.infer("add-sub", {"INPUT0": A, "INPUT1": B})["OUTPUT0"], A + B)


class _NoImages:
    """A Docker client whose daemon has no image and cannot pull."""

    class images:  # as docker.DockerClient.images
        @staticmethod
        def get(name: str) -> None:
            raise docker.errors.ImageNotFound(name)


def test_without_the_local_image_the_error_names_the_images_and_how_to_build_it() -> None:
    overrides = Settings.model_fields["image_overrides"].default
    resolver = ImageResolver(_NoImages(), overrides)  # type: ignore[arg-type]

    with pytest.raises(RuntimeStartError) as caught:
        resolver.resolve("triton-2.x", "tritonserver-2:replace")

    message = str(caught.value)
    assert message.startswith(f"ServingRuntime 'triton-2.x': image '{UPSTREAM_IMAGE}' is not available")
    assert f"'{LOCAL_IMAGE}' (image_overrides)" in message
    assert "Build it with `scripts/build-images.sh triton`" in message
