"""The image names of ModelMesh's runtime manifests, resolved as its kustomization does.

Upstream's `config/runtimes/*.yaml` name placeholder images (`mlserver-1:replace`) that
`config/runtimes/kustomization.yaml` rewrites (`images: - name: mlserver-1, newName: seldonio/mlserver,
newTag: "1.3.2"`). The emulator applies the same rewrite to any container image before anything else, so
the manifests load unchanged; `image_overrides` then maps the real image to a local one if the user wants.
"""

from __future__ import annotations

__all__ = ["UPSTREAM_IMAGES", "kustomize_image"]

UPSTREAM_IMAGES: dict[str, str] = {
    "tritonserver-2": "nvcr.io/nvidia/tritonserver:23.04-py3",
    "mlserver-1": "seldonio/mlserver:1.3.2",
    "ovms-1": "openvino/model_server:2022.2",
    "torchserve-0": "pytorch/torchserve:0.7.1-cpu",
}
"""kustomize `images:` entries: image name → `newName:newTag`."""


def kustomize_image(image: str) -> str:
    """`mlserver-1:replace` → `seldonio/mlserver:1.3.2`, as kustomize rewrites a matching image name (any tag);
    other images unchanged."""
    reference = image.partition("@")[0]
    tagged = ":" in reference.rsplit("/", 1)[-1]  # a `:` before the last `/` is a registry's port
    name = reference.rpartition(":")[0] if tagged else reference
    return UPSTREAM_IMAGES.get(name, image)
