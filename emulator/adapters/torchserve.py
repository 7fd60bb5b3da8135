"""ModelMesh's built-in TorchServe adapter (modelmesh-runtime-adapter, model-mesh-torchserve-adapter).

The adapter writes TorchServe's config file `<models>/_torchserve_models/mmconfig.properties` as soon as it
exists (the upstream container waits for `$TS_CONFIG_FILE` before starting TorchServe), links each model's
`.mar` into that model store, and registers it over TorchServe's gRPC management API (7071). A model's size is
its workers' memory as DescribeModel reports it, plus 10%, else the `.mar` size x 2.75.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import grpc
from google.protobuf import empty_pb2

from .._generated.torchserve import inference_pb2_grpc, management_pb2, management_pb2_grpc
from ..errors import ModelLoadError
from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..storage import PulledModel
from .base import RuntimeStatus
from .common import container_path, purge_models_dir, remove_path, wait_until_ready
from .runtime_env import adapter_env

__all__ = ["CONFIG_FILE", "METHOD_INFOS", "MODELS_SUBDIR", "TorchServeAdapter", "config_properties", "mar_file_name"]

log = logging.getLogger(__name__)

MODELS_SUBDIR = "_torchserve_models"
CONFIG_FILE = "mmconfig.properties"
METHOD_INFOS = {
    "org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions": (1,),
    # Upstream lists KServe V2 too, "in the hope" TorchServe serves it over gRPC one day (pytorch/serve#1859).
    "inference.GRPCInferenceService/ModelInfer": (1,),
    "inference.GRPCInferenceService/ModelMetadata": (1,),
}
DEFAULT_SIZE_MULTIPLIER = 2.75
_SIZE_POLLS = 16


def config_properties(model_store: str) -> str:
    """The adapter's TorchServe configuration, as upstream writes it."""
    return f"""
enable_envvars_config=true
model_store={model_store}
metric_time_interval=10
# The REST inference_address is set to use a different port
# than its default 8080 which clashes with that used for modelmesh internal litelinks communication
inference_address=http://127.0.0.1:8083
# Recommended performance defaults - TBC, can be overriden by TC_ env vars
number_of_netty_threads=8
job_queue_size=512
"""


def mar_file_name(model_id: str) -> str:
    """`<id>.mar` with `\\` encoded as `\\\\` and `/` as `\\_`."""
    return model_id.replace("\\", "\\\\").replace("/", "\\_") + ".mar"


class TorchServeAdapter:
    def __init__(self, runtime: ServingRuntime, instance: RuntimeInstance, *, startup_timeout_s: float):
        self._runtime = runtime
        self._instance = instance
        self._startup_timeout_s = startup_timeout_s
        self._env = adapter_env(runtime)
        self._settings = _adapter_settings(runtime)
        self._store = instance.models_dir / MODELS_SUBDIR
        self._management_channel = grpc.aio.insecure_channel(instance.ports.management)
        self._management = management_pb2_grpc.ManagementAPIsServiceStub(self._management_channel)
        self._inference_channel = grpc.aio.insecure_channel(instance.ports.data)
        self._inference = inference_pb2_grpc.InferenceAPIsServiceStub(self._inference_channel)
        self._pulled: dict[str, PulledModel] = {}
        self._write_config()

    async def runtime_status(self) -> RuntimeStatus:
        await wait_until_ready(self._instance, self._runtime.metadata.name, self._healthy, self._startup_timeout_s)
        for name in await self._registered_models():
            await self._management.UnregisterModel(management_pb2.UnregisterModelRequest(model_name=name))
        await asyncio.to_thread(purge_models_dir, self._instance.models_dir, MODELS_SUBDIR,
                                lambda entry: not entry.name.endswith(".mar"))
        return self._env.runtime_status(METHOD_INFOS)

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        if pulled.schema_path is not None:
            log.info("model %s: ignoring its schema, not supported with torchserve", model_id)
        if pulled.model_path.is_dir():
            raise ModelLoadError(f"Model path is a directory, must be a MAR file: {pulled.model_path}")
        link = self._store / mar_file_name(model_id)
        try:
            await asyncio.to_thread(self._link, pulled.model_path, link)
        except OSError as exc:
            raise ModelLoadError(f"Error creating symlink: {exc}") from None
        self._pulled[model_id] = pulled
        try:
            reply = await self._management.RegisterModel(management_pb2.RegisterModelRequest(
                model_name=model_id, url=link.name, synchronous=True,
                initial_workers=max(1, self._env.limit_per_model_concurrency),
                batch_size=self._settings["REQUEST_BATCH_SIZE"],
                max_batch_delay=self._settings["MAX_BATCH_DELAY_SECS"],
            ))
        except grpc.aio.AioRpcError as exc:
            raise ModelLoadError(f"Failed to load model due to TorchServe register error: {exc.details()}") from None
        log.info("model %s: %s", model_id, reply.msg)
        return await self.model_size(model_id)

    async def model_size(self, model_id: str) -> int:
        """ModelMesh's `modelSize`: the workers' memory (+10%), else the `.mar` size x the size multiplier."""
        try:
            return await self._worker_memory(model_id)
        except (grpc.aio.AioRpcError, ValueError, LookupError) as exc:
            log.info("model %s: sizing from DescribeModel failed (%s); using the .mar size", model_id, exc)
        pulled = self._pulled.get(model_id)
        size = pulled.model_path.stat().st_size if pulled is not None and pulled.model_path.exists() else 0
        if size <= 0:
            return self._env.default_model_size
        return int(size * self._settings["MODELSIZE_MULTIPLIER"])

    async def unload_model(self, model_id: str) -> None:
        self._pulled.pop(model_id, None)
        try:
            await self._management.UnregisterModel(management_pb2.UnregisterModelRequest(model_name=model_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
        finally:
            await asyncio.to_thread(remove_path, self._store / mar_file_name(model_id))

    async def close(self) -> None:
        await self._management_channel.close()
        await self._inference_channel.close()

    def _write_config(self) -> None:
        self._store.mkdir(parents=True, exist_ok=True)
        config = self._store / CONFIG_FILE
        partial = config.with_name(CONFIG_FILE + ".tmp")
        partial.write_text(config_properties(container_path(self._instance, self._store)))
        os.replace(partial, config)  # atomic: TorchServe's container starts as soon as the file exists

    def _link(self, mar: Path, link: Path) -> None:
        remove_path(link)
        os.symlink(container_path(self._instance, mar), link)

    async def _healthy(self) -> bool:
        reply = await self._inference.Ping(empty_pb2.Empty(), timeout=1.0)
        return json.loads(reply.health).get("status") == "Healthy"

    async def _registered_models(self) -> list[str]:
        names: list[str] = []
        token = 0
        while True:
            reply = await self._management.ListModels(management_pb2.ListModelsRequest(limit=500,
                                                                                       next_page_token=token))
            page = json.loads(reply.msg)
            names.extend(model["modelName"] for model in page.get("models", []))
            token = page.get("nextPageToken") or 0
            if not token:
                return names

    async def _worker_memory(self, model_id: str) -> int:
        for attempt in range(1, _SIZE_POLLS + 2):
            reply = await self._management.DescribeModel(
                management_pb2.DescribeModelRequest(model_name=model_id, model_version="all"))
            described = json.loads(reply.msg)
            if not described:
                raise LookupError("DescribeModel response contained no model entries")
            workers = described[0].get("workers") or []
            if not workers:
                raise LookupError("DescribeModel response contained no model worker entries")
            memory = 0
            for worker in workers:
                if worker.get("memoryUsage", 0) <= 0:
                    break
                memory += worker["memoryUsage"]
            if memory > 0:
                return memory + memory // 10
            if attempt > _SIZE_POLLS:
                raise LookupError("No worker memory usage reported in DescribeModel responses")
            await asyncio.sleep(1.0)
        raise AssertionError("unreachable")


def _adapter_settings(runtime: ServingRuntime) -> dict[str, float]:
    """The TorchServe adapter's own env (builtInAdapter.env may set them): batching and the size multiplier."""
    values: dict[str, float] = {"REQUEST_BATCH_SIZE": 0, "MAX_BATCH_DELAY_SECS": 0,
                                "MODELSIZE_MULTIPLIER": DEFAULT_SIZE_MULTIPLIER}
    adapter = runtime.spec.built_in_adapter
    for var in adapter.env if adapter else []:
        if var.name in values and var.value:
            values[var.name] = float(var.value)
    return {name: value if name == "MODELSIZE_MULTIPLIER" else int(value) for name, value in values.items()}
