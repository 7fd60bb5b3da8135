"""ModelMesh's built-in MLServer adapter (modelmesh-runtime-adapter, model-mesh-mlserver-adapter).

Model files are laid out under `<models>/_mlserver_models/<model id>/` with a generated
`model-settings.json`, then loaded and unloaded over MLServer's gRPC model repository API.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import grpc

from ..errors import ModelLoadError
from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..storage import PulledModel
from ..v2_protos import GRPCInferenceServiceStub, dataplane_pb2
from .base import RuntimeStatus
from .common import container_path, disk_size_estimate, format_name, purge_models_dir, wait_until_ready
from .runtime_env import adapter_env

__all__ = ["IMPLEMENTATIONS", "MLServerAdapter"]

MODELS_SUBDIR = "_mlserver_models"
IMPLEMENTATIONS = {
    "lightgbm": "mlserver_lightgbm.LightGBMModel",
    "sklearn": "mlserver_sklearn.SKLearnModel",
    "xgboost": "mlserver_xgboost.XGBoostModel",
    "mllib": "mlserver-mllib.MLlibModel",
}
METHOD_INFOS = {
    "inference.GRPCInferenceService/ModelInfer": (1,),
    "inference.GRPCInferenceService/ModelMetadata": (1,),
}


class MLServerAdapter:
    def __init__(self, runtime: ServingRuntime, instance: RuntimeInstance, *, startup_timeout_s: float):
        self._runtime = runtime
        self._instance = instance
        self._startup_timeout_s = startup_timeout_s
        self._env = adapter_env(runtime)
        self._channel = grpc.aio.insecure_channel(instance.ports.management)
        self._server = GRPCInferenceServiceStub(self._channel)
        self._root = instance.models_dir / MODELS_SUBDIR
        self._container_root = f"{instance.container_models_dir}/{MODELS_SUBDIR}"

    async def runtime_status(self) -> RuntimeStatus:
        await wait_until_ready(self._instance, self._runtime.metadata.name, self._ready, self._startup_timeout_s)
        index = await self._server.RepositoryIndex(dataplane_pb2.RepositoryIndexRequest(ready=True))
        for model in index.models:
            await self._unload(model.name)
        await asyncio.to_thread(purge_models_dir, self._instance.models_dir, MODELS_SUBDIR)
        metadata = await self._server.ServerMetadata(dataplane_pb2.ServerMetadataRequest())
        return self._env.runtime_status(METHOD_INFOS, metadata.version)

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        target = self._root / model_id
        try:
            await asyncio.to_thread(self._write_model_dir, model_id, model_type, pulled, target)
        except OSError as exc:
            raise ModelLoadError(f"Failed to load Model due to adapter error: {exc}") from None
        try:
            await self._server.RepositoryModelLoad(
                dataplane_pb2.RepositoryModelLoadRequest(model_name=model_id)
            )
        except grpc.aio.AioRpcError as exc:
            raise ModelLoadError(f"Failed to load Model due to MLServer runtime error: {exc.details()}") from None
        return disk_size_estimate(pulled, self._env.default_model_size)

    async def unload_model(self, model_id: str) -> None:
        await self._unload(model_id)
        await asyncio.to_thread(shutil.rmtree, self._root / model_id, True)

    async def close(self) -> None:
        await self._channel.close()

    async def _unload(self, model_id: str) -> None:
        try:
            await self._server.RepositoryModelUnload(
                dataplane_pb2.RepositoryModelUnloadRequest(model_name=model_id)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise

    async def _ready(self) -> bool:
        return (await self._server.ServerReady(dataplane_pb2.ServerReadyRequest(), timeout=1.0)).ready

    def _write_model_dir(self, model_id: str, model_type: str, pulled: PulledModel, target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        source = pulled.model_path
        container_target = f"{self._container_root}/{model_id}"
        native_settings = source / "model-settings.json" if source.is_dir() else None
        if native_settings is not None and native_settings.is_file():
            settings = json.loads(native_settings.read_text())
            settings["name"] = model_id
            uri = settings.get("parameters", {}).get("uri")
            if uri:
                settings["parameters"]["uri"] = f"{container_target}/{uri.removeprefix('./')}"
            for entry in source.iterdir():
                if entry.name != "model-settings.json":
                    os.symlink(container_path(self._instance, entry), target / entry.name)
        else:
            os.symlink(container_path(self._instance, source), target / source.name)
            settings = {"name": model_id, "parameters": {"uri": f"{container_target}/{source.name}"}}
            implementation = IMPLEMENTATIONS.get(format_name(model_type))
            if implementation:
                settings = {"implementation": implementation, **settings}
        if pulled.schema_path is not None:
            settings.update(_schema_tensors(pulled.schema_path))
        (target / "model-settings.json").write_text(json.dumps(settings, indent=2))


def _schema_tensors(schema_path: Path) -> dict[str, Any]:
    schema = json.loads(schema_path.read_text())
    return {key: schema[key] for key in ("inputs", "outputs") if key in schema}

