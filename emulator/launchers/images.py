"""Which image runs a ServingRuntime container: its `image_overrides` entry, the image itself, else a pull."""

from __future__ import annotations

import logging

import docker
import docker.errors
from docker.utils import parse_repository_tag

from ..errors import RuntimeStartError
from .upstream_images import kustomize_image

__all__ = ["BUILD_HINTS", "ImageResolver"]

log = logging.getLogger(__name__)

BUILD_HINTS = {
    "modelmesh-emulator/mlserver:1.7.1": "scripts/build-images.sh mlserver",
    "modelmesh-emulator/tritonserver:2.51": "scripts/build-images.sh triton",
    "custom-mnist-runtime:latest": "scripts/build-images.sh custom-mnist",
    "mmesh-example-runtime:latest": "scripts/build-images.sh emulator mmesh-example",
    "modelmesh-emulator:latest": "scripts/build-images.sh emulator",
}
"""How to build the images this project provides (docs/docker.md)."""


class ImageResolver:
    """An image with an `image_overrides` entry runs as its replacement when that is present locally, else as
    itself when present; it is never pulled, since the replacement exists to be built here. Any other image
    runs when present, and is pulled otherwise, as Kubernetes would."""

    def __init__(self, client: docker.DockerClient, overrides: dict[str, str]):
        self._client = client
        self._overrides = overrides

    def resolve(self, runtime_name: str, image: str) -> str:
        image = kustomize_image(image)
        replacement = self._overrides.get(image)
        for candidate in (replacement, image):
            if candidate and self._present(candidate):
                if candidate != image:
                    log.info("ServingRuntime %r: image %s runs as %s (image_overrides)", runtime_name, image,
                             candidate)
                return candidate
        if replacement and replacement != image:
            raise RuntimeStartError(
                f"ServingRuntime {runtime_name!r}: image {image!r} is not available: neither its replacement "
                f"{replacement!r} (image_overrides) nor the image itself is present in the Docker daemon. "
                f"{_build_hint(replacement, image)}"
            )
        try:
            self._pull(image)
        except docker.errors.DockerException as exc:
            cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RuntimeStartError(
                f"ServingRuntime {runtime_name!r}: image {image!r} is not present in the Docker daemon and "
                f"cannot be pulled ({cause}). {_build_hint(image, image)}"
            ) from None
        return image

    def _present(self, image: str) -> bool:
        try:
            self._client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        return True

    def _pull(self, image: str) -> None:
        repository, tag = parse_repository_tag(image)
        log.info("pulling image %s", image)
        self._client.images.pull(repository, tag=tag or "latest")


def _build_hint(missing: str, mapped: str) -> str:
    how = BUILD_HINTS.get(missing)
    build = f"Build it with `{how}`" if how else f"Build or pull {missing!r}"
    return (f"{build}, or map {mapped!r} to a local image with MMEMU_IMAGE_OVERRIDES='{{\"{mapped}\": \"IMAGE\"}}' "
            "(docs/docker.md).")
