"""Where a ServingRuntime applied through the management API finds its code (process launcher).

A manifest file's runtime names its source folder relative to the file (`modelmesh-emulator/source: .`); one sent
by kubectl has no file. `MMEMU_IMAGE_SOURCES` maps its container image to a local folder instead, written into the
annotation as an absolute path. Without a mapping, a relative annotation resolves against serve's working
directory (launchers/process.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..launchers.process import SOURCE_ANNOTATION
from ..spec import Manifest, ServingRuntime

__all__ = ["with_image_source"]


def with_image_source(obj: Manifest, image_sources: Mapping[str, Path]) -> Manifest:
    """`obj` with its source annotation set from `image_sources` when it is a runtime whose image is mapped and
    whose annotation is absent or relative."""
    if not isinstance(obj, ServingRuntime) or not image_sources:
        return obj
    given = obj.metadata.annotations.get(SOURCE_ANNOTATION)
    if given and Path(given).is_absolute():
        return obj
    folder = next((image_sources[c.image] for c in obj.spec.containers if c.image in image_sources), None)
    if folder is None:
        return obj
    annotations = obj.metadata.annotations | {SOURCE_ANNOTATION: str(Path(folder).resolve())}
    obj.metadata = obj.metadata.model_copy(update={"annotations": annotations})
    return obj
