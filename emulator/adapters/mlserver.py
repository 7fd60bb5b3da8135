"""ModelMesh's built-in MLServer adapter (modelmesh-runtime-adapter, model-mesh-mlserver-adapter).

Model files are laid out under `<models>/_mlserver_models/<model id>/` with a generated
`model-settings.json`, then loaded and unloaded over MLServer's gRPC model repository API.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import grpc

from ..errors import ModelLoadError, RuntimeStartError
from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..storage import PulledModel
from ..v2_protos import GRPCInferenceServiceStub, dataplane_pb2
from .base import MODEL_SIZE_MULTIPLIER, RuntimeStatus
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
_READY_POLL_S = 0.1


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
        await self._wait_ready()
        index = await self._server.RepositoryIndex(dataplane_pb2.RepositoryIndexRequest(ready=True))
        for model in index.models:
            await self._unload(model.name)
        self._purge_models_dir()
        metadata = await self._server.ServerMetadata(dataplane_pb2.ServerMetadataRequest())
        return RuntimeStatus(
            capacity_bytes=self._env.capacity_bytes,
            max_loading_concurrency=self._env.loading_concurrency,
            model_loading_timeout_ms=self._env.load_timeout_ms,
            default_model_size_bytes=self._env.default_model_size,
            runtime_version=metadata.version or self._env.runtime_version,
            method_infos=dict(METHOD_INFOS),
        )

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
        if pulled.disk_size_bytes <= 0:
            return self._env.default_model_size
        return int(pulled.disk_size_bytes * MODEL_SIZE_MULTIPLIER)

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

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        while True:
            if not self._instance.is_running():
                raise RuntimeStartError(self._start_failure("exited during startup"))
            try:
                reply = await self._server.ServerReady(dataplane_pb2.ServerReadyRequest(), timeout=1.0)
                if reply.ready:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeStartError(
                    self._start_failure(f"not ready after {self._startup_timeout_s:g}s")
                )
            await asyncio.sleep(_READY_POLL_S)

    def _start_failure(self, what: str) -> str:
        tail = self._instance.log_tail().rstrip()
        return (
            f"runtime {self._runtime.metadata.name!r} instance {self._instance.instance_id} {what}"
            + (f"; last log lines:\n{tail}" if tail else "")
        )

    def _purge_models_dir(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        for entry in self._root.iterdir():
            _remove(entry)
        for entry in self._instance.models_dir.iterdir():
            if entry.name != MODELS_SUBDIR:
                _remove(entry)

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
                    os.symlink(self._container_path(entry), target / entry.name)
        else:
            os.symlink(self._container_path(source), target / source.name)
            settings = {"name": model_id, "parameters": {"uri": f"{container_target}/{source.name}"}}
            implementation = IMPLEMENTATIONS.get(_format_name(model_type))
            if implementation:
                settings = {"implementation": implementation, **settings}
        if pulled.schema_path is not None:
            settings.update(_schema_tensors(pulled.schema_path))
        (target / "model-settings.json").write_text(json.dumps(settings, indent=2))

    def _container_path(self, host_path: Path) -> str:
        relative = host_path.relative_to(self._instance.models_dir)
        return f"{self._instance.container_models_dir}/{relative}"


def _format_name(model_type: str) -> str:
    return model_type.lower().split(":", 1)[0]


def _schema_tensors(schema_path: Path) -> dict[str, Any]:
    schema = json.loads(schema_path.read_text())
    return {key: schema[key] for key in ("inputs", "outputs") if key in schema}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

