"""Where a test's emulator finds model files: local stand-ins for S3 and PVCs, or an S3 endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import Settings
from ..storage import EMBEDDED_STORAGE_CONFIG

__all__ = ["LOCAL_MINIO_BUCKET", "EmulatorStorage"]

LOCAL_MINIO_BUCKET: str = EMBEDDED_STORAGE_CONFIG["localMinIO"]["bucket"]


@dataclass(frozen=True)
class EmulatorStorage:
    """`local_s3_root/<bucket>/<key>` stands in for S3 entries without an endpoint (the built-in `localMinIO`);
    `pvc_root/<claim>/<path>` holds PVCs; `s3_endpoint`, when set, is handed to the emulator's S3 storage."""

    local_s3_root: Path
    pvc_root: Path
    s3_endpoint: str | None = None

    def path(self, key: str, bucket: str = LOCAL_MINIO_BUCKET) -> Path:
        """The local file behind `storage: {key: localMinIO, path: <key>}` (parent directories created).

        With `s3_endpoint` set, `localMinIO` reads that endpoint instead: upload there.
        """
        target = self.local_s3_root / bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def pvc_path(self, claim: str, path: str) -> Path:
        """The local file behind `storageUri: pvc://<claim>/<path>` (parent directories created)."""
        target = self.pvc_root / claim / path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def settings_overrides(self) -> dict[str, Any]:
        overrides: dict[str, Any] = {"local_s3_root": self.local_s3_root, "pvc_root": self.pvc_root}
        if self.s3_endpoint:
            if "s3_endpoint" not in Settings.model_fields:
                raise ValueError(f"S3 endpoint {self.s3_endpoint!r} given, but this modelmesh-emulator has no "
                                 "s3_endpoint setting")
            overrides["s3_endpoint"] = self.s3_endpoint
        return overrides
