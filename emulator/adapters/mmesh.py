"""The `mmesh` adapter: for a ServingRuntime without `builtInAdapter`, whose container implements ModelMesh's
model-runtime SPI (`mmesh.ModelRuntime` on `grpcEndpoint`) itself. The emulator plays ModelMesh's side
(SidecarModelMesh.java) and, unless `storageHelper.disabled: true`, the puller's (model-serving-puller):

* startup: `runtimeStatus` polled every 2 s until READY (mmesh_status.py); its answer gives capacity, loading
  concurrency, load timeout, default model size, `methodInfos` and `allowAnyMethod`;
* load: `predictModelSize` (500 ms; UNIMPLEMENTED remembered, the default size used after), the pull into
  `<models>/<id>/` when the storage helper applies, `loadModel` with modelId / modelType / modelPath / modelKey
  as the puller passes them, and `modelSize` (30 s) when the load reported size 0;
* unload: `unloadModel` (NOT_FOUND counts as success), then the pulled files are removed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import grpc

from .._generated.mmesh import model_runtime_pb2 as spi
from .._generated.mmesh import model_runtime_pb2_grpc as spi_grpc
from ..errors import ModelLoadError
from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..storage import PulledModel, Puller
from .base import LoadRequest, RuntimeStatus
from .common import container_path, remove_path
from .mmesh_status import runtime_parameters, wait_for_model_server_start

__all__ = ["MmeshAdapter", "model_key"]

log = logging.getLogger(__name__)

PREDICT_SIZE_TIMEOUT_S = 0.5
MODEL_SIZE_TIMEOUT_S = 30.0


def model_key(request: LoadRequest, pulled: PulledModel | None, instance: RuntimeInstance) -> str:
    """`LoadModelRequest.modelKey`: the controller's key, or the puller's rewrite of it after a pull."""
    model_type: dict[str, Any] = {"name": request.format.name}
    if request.format.version is not None:
        model_type["version"] = request.format.version
    key: dict[str, Any] = {"model_type": model_type}
    if pulled is None and request.model_key is not None:
        return request.model_key
    if pulled is None:
        location = request.location
        if location.storage_key is not None:
            key["storage_key"] = location.storage_key
        if location.storage_params:
            key["storage_params"] = dict(location.storage_params)
        if location.schema_path:
            key["schema_path"] = location.schema_path
    else:
        key["disk_size_bytes"] = pulled.disk_size_bytes
        if pulled.schema_path is not None:
            key["schema_path"] = container_path(instance, pulled.schema_path)
    return json.dumps(key, separators=(",", ":"))


class MmeshAdapter:
    def __init__(self, runtime: ServingRuntime, instance: RuntimeInstance, *, startup_timeout_s: float):
        self._runtime = runtime
        self._instance = instance
        self._startup_timeout_s = startup_timeout_s
        helper = runtime.spec.storage_helper
        self.uses_storage_helper = not (helper is not None and helper.disabled)
        # Reconnect at least as often as runtimeStatus is polled, so a slow-starting runtime is seen when it listens.
        self._channel = grpc.aio.insecure_channel(instance.ports.management, options=[
            ("grpc.initial_reconnect_backoff_ms", 500), ("grpc.max_reconnect_backoff_ms", 2000)])
        self._stub = spi_grpc.ModelRuntimeStub(self._channel)
        self._predict_size_unimplemented = False
        self._status: RuntimeStatus | None = None

    @property
    def name(self) -> str:
        return self._runtime.metadata.name

    async def runtime_status(self) -> RuntimeStatus:
        reply = await wait_for_model_server_start(self._stub, self._instance, self.name, self._startup_timeout_s)
        self._status = runtime_parameters(reply, self.name)
        if self.uses_storage_helper:  # the puller's purge on READY: every model dir not prefixed "_"
            await asyncio.to_thread(_purge_pulled, self._instance)
        return self._status

    async def load_request(self, request: LoadRequest) -> int:
        model_path = request.location.path
        key = model_key(request, None, self._instance)
        await request.reserve(await self._predicted_size(request, model_path, key))
        pulled = None
        if self.uses_storage_helper:
            pulled = await request.pull()
            model_path = container_path(self._instance, pulled.model_path)
            key = model_key(request, pulled, self._instance)
        try:
            reply = await self._stub.loadModel(spi.LoadModelRequest(
                modelId=request.model_id, modelType=request.model_type, modelPath=model_path, modelKey=key))
        except grpc.aio.AioRpcError as exc:
            raise ModelLoadError(self._load_error(exc)) from None
        if reply.sizeInBytes > 0:
            return int(reply.sizeInBytes)
        try:
            sized = await self._stub.modelSize(spi.ModelSizeRequest(modelId=request.model_id),
                                               timeout=MODEL_SIZE_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            raise ModelLoadError(f"modelSize of {request.model_id} failed: {exc.code().name}: {exc.details()}"
                                 ) from None
        return int(sized.sizeInBytes)

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        """The built-in adapters' entry point; placement calls `load_request` for this adapter instead."""
        raise NotImplementedError("MmeshAdapter loads through load_request")

    async def unload_model(self, model_id: str) -> None:
        try:
            await self._stub.unloadModel(spi.UnloadModelRequest(modelId=model_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise ModelLoadError(f"Failed to unload model from runtime: {exc.code().name}: {exc.details()}"
                                     ) from None
        finally:
            if self.uses_storage_helper:
                await asyncio.to_thread(Puller.remove, model_id, self._instance.models_dir)

    def _load_error(self, exc: grpc.aio.AioRpcError) -> str:
        """The runtime's error as ModelMesh reports it: through the puller (Go's error text wrapped), or as is."""
        if not self.uses_storage_helper:
            return f"{exc.code().name}: {exc.details()}"
        return (f"Failed to load model due to model runtime error: rpc error: code = {_go_code(exc.code())} "
                f"desc = {exc.details()}")

    async def close(self) -> None:
        await self._channel.close()

    async def _predicted_size(self, request: LoadRequest, model_path: str, key: str) -> int:
        assert self._status is not None
        default = self._status.default_model_size_bytes
        if self._predict_size_unimplemented:
            return default
        try:
            reply = await self._stub.predictModelSize(spi.PredictModelSizeRequest(
                modelId=request.model_id, modelType=request.model_type, modelPath=model_path, modelKey=key),
                timeout=PREDICT_SIZE_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise ModelLoadError(f"predictModelSize of {request.model_id} failed: {exc.code().name}: "
                                     f"{exc.details()}") from None
            log.info("runtime %s does not implement predictModelSize; using the default model size", self.name)
            self._predict_size_unimplemented = True
            return default
        return int(reply.sizeInBytes) or default


def _purge_pulled(instance: RuntimeInstance) -> None:
    for entry in instance.models_dir.iterdir():
        if not entry.name.startswith("_"):
            remove_path(entry)


def _go_code(code: grpc.StatusCode) -> str:
    """grpc-go's name of a status code (`codes.Code.String()`): `InvalidArgument`, `Canceled`."""
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(word.capitalize() for word in code.name.split("_"))
