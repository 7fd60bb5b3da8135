"""ModelMesh's built-in Triton adapter (modelmesh-runtime-adapter, model-mesh-triton-adapter).

Models are laid out under `<models>/_triton_models/<model id>/` (triton_layout.py), the directory Triton was
started on (`--model-repository=/models/_triton_models --model-control-mode=explicit`), then loaded and unloaded
with Triton's gRPC repository API on the management port (KServe V2 and its repository extension: the
messages of v2_protos.py, which Triton's match on the wire).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil

import grpc
from google.protobuf import wrappers_pb2

from ..errors import ModelLoadError
from ..launchers import RuntimeInstance
from ..launchers.triton_standins import STAND_INS
from ..spec import ServingRuntime
from ..storage import PulledModel
from ..v2_protos import GRPCInferenceServiceStub, dataplane_pb2
from .base import RuntimeStatus
from .common import container_path, disk_size_estimate, purge_models_dir, wait_until_ready
from .runtime_env import adapter_env
from .triton_layout import LayoutError, write_triton_layout
from .triton_model_config import model_config_pb2

__all__ = ["METHOD_INFOS", "MODELS_SUBDIR", "TritonAdapter"]

log = logging.getLogger(__name__)

MODELS_SUBDIR = "_triton_models"
METHOD_INFOS = {
    "inference.GRPCInferenceService/ModelInfer": (1,),
    "inference.GRPCInferenceService/ModelMetadata": (1,),
}


class TritonAdapter:
    def __init__(self, runtime: ServingRuntime, instance: RuntimeInstance, *, startup_timeout_s: float):
        self._runtime = runtime
        self._instance = instance
        self._startup_timeout_s = startup_timeout_s
        self._env = adapter_env(runtime)
        self._channel = grpc.aio.insecure_channel(instance.ports.management)
        self._server = GRPCInferenceServiceStub(self._channel)
        self._root = instance.models_dir / MODELS_SUBDIR
        # Triton's ModelConfig RPC (not in v2_protos): ModelConfigRequest has ModelMetadataRequest's fields, and
        # ModelConfigResponse's only field (1, the config) reads as a BytesValue's bytes.
        self._model_config = self._channel.unary_unary(
            "/inference.GRPCInferenceService/ModelConfig",
            request_serializer=dataplane_pb2.ModelMetadataRequest.SerializeToString,
            response_deserializer=lambda data: model_config_pb2.ModelConfig.FromString(
                wrappers_pb2.BytesValue.FromString(data).value),
        )
        self.stand_ins: dict[str, str] = {}
        """Model id → what the emulator's stand-in serving it stands in for (`Triton's onnxruntime backend`)."""

    async def runtime_status(self) -> RuntimeStatus:
        await wait_until_ready(self._instance, self._runtime.metadata.name, self._ready, self._startup_timeout_s)
        index = await self._server.RepositoryIndex(dataplane_pb2.RepositoryIndexRequest(ready=True))
        for model in index.models:
            await self._unload(model.name)
        await asyncio.to_thread(purge_models_dir, self._instance.models_dir, MODELS_SUBDIR)
        version = ""
        with contextlib.suppress(grpc.aio.AioRpcError):  # upstream logs a warning and keeps RUNTIME_VERSION
            version = (await self._server.ServerMetadata(dataplane_pb2.ServerMetadataRequest())).version
        return self._env.runtime_status(METHOD_INFOS, version)

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        target = self._root / model_id
        try:
            await asyncio.to_thread(write_triton_layout, target, model_type, pulled.model_path, pulled.schema_path,
                                    lambda path: container_path(self._instance, path))
        except (LayoutError, OSError) as exc:
            raise ModelLoadError(f"Failed to load Model due to adapter error: Error processing model/schema files "
                                 f"for model {model_id}: {exc}") from None
        try:
            await self._server.RepositoryModelLoad(dataplane_pb2.RepositoryModelLoadRequest(model_name=model_id))
        except grpc.aio.AioRpcError as exc:
            raise ModelLoadError(f"Failed to load Model due to Triton runtime error: {exc.details()}") from None
        await self._note_stand_in(model_id)
        return disk_size_estimate(pulled, self._env.default_model_size)

    async def unload_model(self, model_id: str) -> None:
        self.stand_ins.pop(model_id, None)
        await self._unload(model_id)
        await asyncio.to_thread(shutil.rmtree, self._root / model_id, True)

    async def close(self) -> None:
        await self._channel.close()

    async def _note_stand_in(self, model_id: str) -> None:
        """A model whose backend is a Python-based one named like a real backend runs on the emulator's stand-in."""
        try:
            config = await self._model_config(dataplane_pb2.ModelMetadataRequest(name=model_id), timeout=10.0)
        except grpc.aio.AioRpcError:
            return
        if config.runtime == "model.py" and config.backend in STAND_INS:
            self.stand_ins[model_id] = f"Triton's {config.backend} backend"
            log.warning("runtime %s: model %s runs on the emulator's stand-in for Triton's %s backend (Triton's "
                        "Python backend with %s), not on Triton's own; see docs/runtimes.md",
                        self._runtime.metadata.name, model_id, config.backend, STAND_INS[config.backend])

    async def _ready(self) -> bool:
        reply = await self._server.ServerReady(dataplane_pb2.ServerReadyRequest(), timeout=1.0)
        return reply.ready

    async def _unload(self, model_id: str) -> None:
        try:
            await self._server.RepositoryModelUnload(dataplane_pb2.RepositoryModelUnloadRequest(model_name=model_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:  # Triton answers OK for unknown models; NOT_FOUND tolerated
                raise
