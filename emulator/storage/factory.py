"""Build the puller with one provider per storage-config `type`, from settings."""

from __future__ import annotations

from ..settings import Settings
from .local import LocalBucketProvider, PvcProvider
from .puller import Puller

__all__ = ["build_puller"]


def build_puller(settings: Settings) -> Puller:
    return Puller({
        "s3": LocalBucketProvider(settings.local_s3_root.resolve()),
        "pvc": PvcProvider(settings.pvc_root.resolve()),
    })
