"""Build the puller with one provider per storage-config `type`, from settings."""

from __future__ import annotations

from ..settings import Settings
from .http import HttpProvider
from .local import LocalBucketProvider, PvcProvider
from .puller import Puller
from .retry import RetryPolicy
from .s3 import S3Defaults, S3Provider
from .unsupported import UnsupportedStorage

__all__ = ["build_puller"]


def build_puller(settings: Settings) -> Puller:
    retry = RetryPolicy(retries=settings.storage_retries, backoff_s=settings.storage_retry_backoff_s)
    defaults = None
    if settings.s3_endpoint:
        defaults = S3Defaults(settings.s3_endpoint, settings.s3_access_key_id,
                              settings.s3_secret_access_key.get_secret_value())
    return Puller({
        "s3": S3Provider(LocalBucketProvider(settings.local_s3_root.resolve()), retry=retry, defaults=defaults),
        "pvc": PvcProvider(settings.pvc_root.resolve(), allow_any_pvc=settings.allow_any_pvc),
        "http": HttpProvider(retry=retry),
        "gcs": UnsupportedStorage("Google Cloud Storage"),
        "azure": UnsupportedStorage("Azure Blob Storage"),
    })
