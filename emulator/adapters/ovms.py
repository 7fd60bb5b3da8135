"""ModelMesh's built-in OpenVINO Model Server adapter (modelmesh-runtime-adapter, model-mesh-ovms-adapter).

Loading a model = adding it to `<models>/model_config_list.json` (ovms_layout.py) and asking OVMS to reload that
file over its REST port (the manifest's `runtimeManagementPort`, 8888); the reload's answer holds each model's
state, AVAILABLE or the error OVMS met. Unloading drops the entry; OVMS forgets it at the next reload. Upstream
gathers requests into batches (100 ms to 3 s); here reloads are serialized, one per load.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx

from ..errors import ModelLoadError
from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..storage import PulledModel
from .base import RuntimeStatus
from .common import container_path, disk_size_estimate, purge_models_dir, remove_path, wait_until_ready
from .ovms_layout import model_config_list, write_ovms_layout
from .runtime_env import adapter_env
from .triton_layout import LayoutError

__all__ = ["CONFIG_FILE", "METHOD_INFOS", "MODELS_SUBDIR", "OVMSAdapter"]

MODELS_SUBDIR = "_ovms_models"
CONFIG_FILE = "model_config_list.json"
METHOD_INFOS = {
    "tensorflow.serving.PredictionService/Predict": (1, 1),
    "inference.GRPCInferenceService/ModelInfer": (1,),
    "inference.GRPCInferenceService/ModelMetadata": (1,),
}
RELOAD_TIMEOUT_S = 30.0
STAND_IN_MARK = "modelmesh-emulator stand-in"


class OVMSAdapter:
    def __init__(self, runtime: ServingRuntime, instance: RuntimeInstance, *, startup_timeout_s: float):
        self._runtime = runtime
        self._instance = instance
        self._startup_timeout_s = startup_timeout_s
        self._env = adapter_env(runtime)
        self._root = instance.models_dir / MODELS_SUBDIR
        self._config = instance.models_dir / CONFIG_FILE
        self._http = httpx.AsyncClient(base_url=f"http://{instance.ports.management}", timeout=RELOAD_TIMEOUT_S)
        self._models: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._serves_stand_in = False
        self.stand_ins: dict[str, str] = {}
        """Model id → `OpenVINO Model Server` for models on the emulator's stand-in (launchers/ovms_standin)."""
        self._write_config()  # OVMS needs the file to exist when it starts

    async def runtime_status(self) -> RuntimeStatus:
        await wait_until_ready(self._instance, self._runtime.metadata.name, self._config_answers,
                               self._startup_timeout_s)
        self._models.clear()  # UnloadAll: synced with OVMS at the next reload
        await asyncio.to_thread(purge_models_dir, self._instance.models_dir, MODELS_SUBDIR,
                                lambda _: False)
        await asyncio.to_thread(self._write_config)
        self.stand_ins.clear()
        self._serves_stand_in = await self._is_stand_in()
        return self._env.runtime_status(METHOD_INFOS)

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        target = self._root / model_id
        try:
            await asyncio.to_thread(write_ovms_layout, target, model_type, pulled.model_path,
                                    lambda path: container_path(self._instance, path))
        except (LayoutError, OSError) as exc:
            raise ModelLoadError(f"Failed to load Model due to adapter error: Error processing model/schema files "
                                 f"for model {model_id}: {exc}") from None
        async with self._lock:
            self._models[model_id] = container_path(self._instance, target)
            try:
                statuses = await self._reload()
                error = _load_error(statuses.get(model_id))
            except (httpx.HTTPError, ValueError) as exc:
                error = f"Failed to update model configuration with OVMS: {exc}"
            if error:
                self._models.pop(model_id, None)
                raise ModelLoadError(f"Failed to load model due to error: LoadModel errored: {error}")
        if self._serves_stand_in:
            self.stand_ins[model_id] = "OpenVINO Model Server"
        return disk_size_estimate(pulled, self._env.default_model_size)

    async def unload_model(self, model_id: str) -> None:
        self.stand_ins.pop(model_id, None)
        async with self._lock:
            self._models.pop(model_id, None)
            await asyncio.to_thread(self._write_config)
        await asyncio.to_thread(remove_path, self._root / model_id)

    async def close(self) -> None:
        await self._http.aclose()

    async def _is_stand_in(self) -> bool:
        """The emulator's stand-in names itself in KServe V2's server metadata (`GET /v2`)."""
        try:
            reply = await self._http.get("/v2", timeout=5.0)
            return reply.status_code == 200 and STAND_IN_MARK in str(reply.json().get("name", ""))
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    async def _config_answers(self) -> bool:
        return (await self._http.get("/v1/config", timeout=1.0)).status_code == 200

    async def _reload(self) -> dict[str, Any]:
        await asyncio.to_thread(self._write_config)
        reply = await self._http.post("/v1/config/reload")
        if reply.status_code not in (200, 201):
            # The reload's error names no model; the config status API has each model's state.
            reply = await self._http.get("/v1/config")
            if reply.status_code != 200:
                raise ValueError(f"Error response when getting the config: {reply.json().get('error')}")
        return reply.json()

    def _write_config(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        partial = self._config.with_name(CONFIG_FILE + ".tmp")
        partial.write_text(model_config_list(self._models))
        os.replace(partial, self._config)


def _load_error(status: dict[str, Any] | None) -> str | None:
    if not status:
        return "Expected model to load, but no status entry found in the config"
    version = (status.get("model_version_status") or [{}])[0]
    if version.get("state") == "AVAILABLE":
        return None
    detail = version.get("status") or {}
    return (f"OVMS model load failed. code: '{detail.get('error_code', '')}' "
            f"reason: '{detail.get('error_message', '')}'")
