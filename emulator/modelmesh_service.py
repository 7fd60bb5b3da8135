"""`mmesh.ModelMesh` on 8033: ModelMesh's external management API (model-mesh.proto, ModelMeshApi.java),
served beside the inference pass-through. Messages in, placement_api.py's operations, ModelMesh's statuses out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import grpc

from ._generated.mmesh import model_mesh_pb2 as pb
from ._generated.mmesh import model_mesh_pb2_grpc as pb_grpc
from .api_models import ApiModelInfo
from .errors import EmulatorError, InvalidArgumentError
from .placement.model_state import ConcreteModel, ModelState

if TYPE_CHECKING:
    from .placement.placement import Placement, VModel

__all__ = ["SERVICE_NAME", "ModelMeshService", "model_status_info", "vmodel_status_info"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ModelMesh"].full_name

Status = pb.ModelStatusInfo.ModelStatus
T = TypeVar("T")


def model_status_info(model: ConcreteModel | None, *, status: int | None = None) -> pb.ModelStatusInfo:
    """ModelMesh's view of a concrete model; copies newest first."""
    if model is None:
        return pb.ModelStatusInfo(status=Status.NOT_FOUND)
    now_ms = int(time.time() * 1000)
    copies = [
        pb.ModelStatusInfo.ModelCopyInfo(location=copy.location,
                                         copyStatus=Status.LOADED if copy.loaded else Status.LOADING,
                                         time=int(copy.loaded_at * 1000) if copy.loaded else now_ms)
        for copy in sorted(model.copies.values(), key=lambda c: c.loaded_at or float("inf"), reverse=True)
    ]
    errors = []
    if model.servable_copies():
        found = Status.LOADED
    elif model.load_task is not None or model.state is ModelState.LOADING:
        found = Status.LOADING
    elif model.state is ModelState.FAILED_TO_LOAD and model.failure is not None:
        found = Status.LOADING_FAILED
        errors.append(model.failure.message)
        if model.failure.location:
            copies.append(pb.ModelStatusInfo.ModelCopyInfo(
                location=model.failure.location, copyStatus=Status.LOADING_FAILED,
                time=int(model.failure.time.timestamp() * 1000)))
    else:
        found = Status.NOT_LOADED
    return pb.ModelStatusInfo(status=found if status is None else status, errors=errors, modelCopyInfos=copies)


def vmodel_status_info(vmodel: VModel | None) -> pb.VModelStatusInfo:
    if vmodel is None:
        return pb.VModelStatusInfo()
    active, target = vmodel.active, vmodel.target
    info = pb.VModelStatusInfo(activeModelId=active.model_id, targetModelId=(target or active).model_id,
                               activeModelStatus=model_status_info(active), owner=vmodel.model.owner)
    if target is None:
        info.status = pb.VModelStatusInfo.DEFINED
        return info
    failed = target.state is ModelState.FAILED_TO_LOAD and not target.copies
    info.status = pb.VModelStatusInfo.TRANSITION_FAILED if failed else pb.VModelStatusInfo.TRANSITIONING
    # Loading of a target is always under way unless it failed (VModelManager.resolveTargetModelStatusInfo).
    info.targetModelStatus.CopyFrom(model_status_info(target, status=Status.LOADING_FAILED if failed
                                                      else Status.LOADING))
    return info


def _info(message: pb.ModelInfo) -> ApiModelInfo:
    return ApiModelInfo.of(message.type, message.path, message.key)


async def _answer(context: grpc.aio.ServicerContext, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except EmulatorError as exc:
        await context.abort(exc.grpc_code, exc.message)
        raise  # abort raises; this keeps type checkers satisfied


class ModelMeshService(pb_grpc.ModelMeshServicer):
    def __init__(self, placement: Placement):
        self._placement = placement

    async def registerModel(self, request: pb.RegisterModelRequest,
                            context: grpc.aio.ServicerContext) -> pb.ModelStatusInfo:
        async def call() -> pb.ModelStatusInfo:
            model = await self._placement.register_model(
                request.modelId, _info(request.modelInfo), load_now=request.loadNow,
                sync=request.loadNow and request.sync, last_used_ms=request.lastUsedTime)
            return model_status_info(model)

        return await _answer(context, call)

    async def unregisterModel(self, request: pb.UnregisterModelRequest,
                              context: grpc.aio.ServicerContext) -> pb.UnregisterModelResponse:
        async def call() -> pb.UnregisterModelResponse:
            self._placement.unregister_model(request.modelId)
            return pb.UnregisterModelResponse()

        return await _answer(context, call)

    async def getModelStatus(self, request: pb.GetStatusRequest,
                             context: grpc.aio.ServicerContext) -> pb.ModelStatusInfo:
        async def call() -> pb.ModelStatusInfo:
            if not request.modelId:
                raise InvalidArgumentError("must provide non-empty modelId")
            return model_status_info(self._placement.concrete_model(request.modelId))

        return await _answer(context, call)

    async def ensureLoaded(self, request: pb.EnsureLoadedRequest,
                           context: grpc.aio.ServicerContext) -> pb.ModelStatusInfo:
        async def call() -> pb.ModelStatusInfo:
            model = await self._placement.ensure_loaded(request.modelId, request.lastUsedTime, request.sync)
            return model_status_info(model)

        return await _answer(context, call)

    async def setVModel(self, request: pb.SetVModelRequest,
                        context: grpc.aio.ServicerContext) -> pb.VModelStatusInfo:
        async def call() -> pb.VModelStatusInfo:
            vmodel = await self._placement.set_vmodel(
                request.vModelId, request.targetModelId, owner=request.owner or None,
                update_only=request.updateOnly,
                info=_info(request.modelInfo) if request.HasField("modelInfo") else None,
                auto_delete=request.autoDeleteTargetModel, load_now=request.loadNow, force=request.force,
                sync=request.sync, expected_target_id=request.expectedTargetModelId or None)
            return vmodel_status_info(vmodel)

        return await _answer(context, call)

    async def deleteVModel(self, request: pb.DeleteVModelRequest,
                           context: grpc.aio.ServicerContext) -> pb.DeleteVModelResponse:
        async def call() -> pb.DeleteVModelResponse:
            self._placement.delete_vmodel(request.vModelId, request.owner or None)
            return pb.DeleteVModelResponse()

        return await _answer(context, call)

    async def getVModelStatus(self, request: pb.GetVModelStatusRequest,
                              context: grpc.aio.ServicerContext) -> pb.VModelStatusInfo:
        async def call() -> pb.VModelStatusInfo:
            return vmodel_status_info(self._placement.api_vmodel(request.vModelId, request.owner or None))

        return await _answer(context, call)
