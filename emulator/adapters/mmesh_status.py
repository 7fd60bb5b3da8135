"""Startup of a runtime that speaks `mmesh.ModelRuntime` itself: ModelMesh's `waitForModelServerStart`
(SidecarModelMesh.java) — poll `runtimeStatus` every 2 s within one overall deadline (180 s upstream,
`runtime_startup_timeout_s` here), then turn the READY answer into the instance's parameters."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from .._generated.mmesh import model_runtime_pb2 as spi
from .._generated.mmesh import model_runtime_pb2_grpc as spi_grpc
from ..errors import RuntimeStartError
from ..launchers import RuntimeInstance
from .base import RuntimeStatus

__all__ = ["POLL_INTERVAL_S", "runtime_parameters", "wait_for_model_server_start"]

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 2.0
_UNIT_SIZE = 8192
_MIN_LOAD_TIMEOUT_MS = 100


async def wait_for_model_server_start(stub: spi_grpc.ModelRuntimeStub, instance: RuntimeInstance,
                                      runtime_name: str, timeout_s: float,
                                      poll_interval_s: float = POLL_INTERVAL_S) -> spi.RuntimeStatusResponse:
    """The READY `RuntimeStatusResponse`, or RuntimeStartError with ModelMesh's text for each way startup fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not instance.is_running():  # the emulator's addition: upstream's pod would crash-loop instead
            raise RuntimeStartError(_with_log(instance, f"runtime {runtime_name!r} instance {instance.instance_id} "
                                                        "exited during startup"))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeStartError(_with_log(
                instance, f"Model server container did not start after {timeout_s:g} seconds"))
        try:
            reply = await stub.runtimeStatus(spi.RuntimeStatusRequest(), timeout=remaining)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise RuntimeStartError("Model server container does not implement mmesh.ModelRuntime interface"
                                        ) from None
            if code == grpc.StatusCode.UNAVAILABLE:
                log.info("runtime %s: Waiting for Model Server process to become available...", runtime_name)
            elif code != grpc.StatusCode.DEADLINE_EXCEEDED:
                log.warning("runtime %s: runtimeStatus failed (%s: %s); retrying", runtime_name, code.name,
                            exc.details())
        else:
            if reply.status == spi.RuntimeStatusResponse.READY:
                log.info("runtime %s: Model Server returned READY status on channel %s", runtime_name,
                         instance.ports.management)
                return reply
            if reply.status != spi.RuntimeStatusResponse.STARTING:
                name = spi.RuntimeStatusResponse.Status.Name(reply.status) \
                    if reply.status in spi.RuntimeStatusResponse.Status.values() else str(reply.status)
                raise RuntimeStartError(
                    f"Model Server reported failing or unrecognized status during startup: {name}")
        await asyncio.sleep(max(0.0, min(poll_interval_s, deadline - time.monotonic())))


def runtime_parameters(reply: spi.RuntimeStatusResponse, runtime_name: str) -> RuntimeStatus:
    """The instance parameters a READY answer gives, checked as ModelMesh checks them before it starts."""
    default_size = reply.defaultModelSizeInBytes
    capacity = reply.capacityInBytes
    problems = []
    if reply.maxLoadingConcurrency < 1:
        problems.append(f"maxLoadingConcurrency {reply.maxLoadingConcurrency} is less than 1")
    if reply.modelLoadingTimeoutMs < _MIN_LOAD_TIMEOUT_MS:
        problems.append(f"modelLoadingTimeoutMs {reply.modelLoadingTimeoutMs} is less than {_MIN_LOAD_TIMEOUT_MS}")
    if default_size < _UNIT_SIZE:
        problems.append(f"defaultModelSizeInBytes {default_size} is less than one {_UNIT_SIZE}-byte unit")
    minimum = max(2 * default_size, min(512 * 1024 * 1024, 10 * default_size))
    if capacity < minimum:
        problems.append(f"capacityInBytes {capacity} is less than max(2 x default model size, "
                        f"min(512MiB, 10 x default model size)) = {minimum}")
    if problems:
        raise RuntimeStartError(f"runtime {runtime_name!r}: runtimeStatus answered READY with invalid parameters: "
                                + "; ".join(problems))
    log.info("runtime %s: Reported capacity of %dMiB, default model size of %dKiB, load timeout %dms, "
             "loading concurrency %d", runtime_name, capacity // 2**20, default_size // 1024,
             reply.modelLoadingTimeoutMs, reply.maxLoadingConcurrency)
    method_infos = {method: tuple(info.idInjectionPath) for method, info in reply.methodInfos.items()}
    return RuntimeStatus(
        capacity_bytes=capacity,
        max_loading_concurrency=reply.maxLoadingConcurrency,
        model_loading_timeout_ms=reply.modelLoadingTimeoutMs,
        default_model_size_bytes=default_size,
        runtime_version=reply.runtimeVersion,
        method_infos=method_infos,
        # "will default to being effectively true if the methodInfos map is empty"
        allow_any_method=reply.allowAnyMethod or not method_infos,
        limit_model_concurrency=reply.limitModelConcurrency,
    )


def _with_log(instance: RuntimeInstance, message: str) -> str:
    tail = instance.log_tail().rstrip()
    return message + (f"; last log lines:\n{tail}" if tail else "")
