"""Placement's side of ModelMesh's own API (`mmesh.ModelMesh`): concrete models registered by id, vmodels
pointing at them, and their transitions, with ModelMesh's rules and error texts (ModelMesh.java
registerModel/deleteModel, VModelManager.java updateVModel/deleteVModel).

Models registered here live beside those of InferenceServices: same caches, same loading, same routing
(`mm-model-id` for a model, `mm-vmodel-id` or the request's model name for a vmodel). A vmodel of an
InferenceService (owner `isvc`) is changed only through its manifest: the emulator refuses to retarget or
delete it here, where upstream would let the call through until the controller's next reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from ..api_models import API_VMODEL_KIND, ApiModelInfo, api_registered_model
from ..errors import EmulatorError, InvalidArgumentError, ModelNotFoundError
from .model_state import ConcreteModel, ModelState

if TYPE_CHECKING:
    from .placement import VModel

__all__ = ["ApiError", "ApiModelRecord", "ApiModels"]

log = logging.getLogger(__name__)

_AGE_ON_ADD_S = 3600.0
"""ModelMesh's LASTUSED_AGE_ON_ADD_MS: a model added without loading counts as used this long ago (x6)."""


class ApiError(EmulatorError):
    """An error of the ModelMesh API with the gRPC code upstream answers."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.grpc_code = code


@dataclass
class ApiModelRecord:
    info: ApiModelInfo
    auto_delete: bool = False


def _initial_last_used(last_used_ms: int, load_now: bool) -> float:
    now = time.time()
    if last_used_ms > 0:
        return min(now, last_used_ms / 1000)
    return now - _AGE_ON_ADD_S * (1 if load_now else 6)


class ApiModels:
    """Mixin of `Placement`."""

    # -- concrete models -------------------------------------------------------------------------------

    def api_model_key(self, model_id: str) -> str | None:
        """The `ModelInfo.key` a model was registered with (handed to a runtime verbatim), or None."""
        record = self._api_models.get(model_id)
        return record.info.key if record is not None else None

    def concrete_model(self, model_id: str) -> ConcreteModel | None:
        return self._models.get(model_id)

    def api_models(self) -> list[tuple[ConcreteModel, ApiModelRecord]]:
        """The models registered through the API (not those of InferenceServices), by id."""
        return [(self._models[model_id], record) for model_id, record in sorted(self._api_models.items())
                if model_id in self._models]

    def api_vmodels(self) -> list[VModel]:
        """The vmodels made through the API (those of InferenceServices are objects of their own)."""
        return sorted((v for v in self._vmodels.values() if v.model.kind == API_VMODEL_KIND),
                      key=lambda vmodel: vmodel.model.name)

    async def register_model(self, model_id: str, info: ApiModelInfo, *, load_now: bool, sync: bool,
                             last_used_ms: int) -> ConcreteModel:
        _check_model_id(model_id)
        _check_type(info)
        last_used = _initial_last_used(last_used_ms, load_now)
        model = self._models.get(model_id)
        if model is None:
            model = self._add_api_model(model_id, info, auto_delete=False, last_used=last_used)
        elif self._info_of(model) != info:
            raise ApiError(grpc.StatusCode.ALREADY_EXISTS, "Model already exists with different attribute values")
        if load_now:
            await self._ensure_api_load(model, last_used, sync)
        return model

    def unregister_model(self, model_id: str) -> None:
        _check_model_id(model_id)
        model = self._models.get(model_id)
        if model is None:
            return
        if self._referents(model):
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"Model {model_id} has referents")
        self._api_models.pop(model_id, None)
        self._retire(model)

    async def ensure_loaded(self, model_id: str, last_used_ms: int, sync: bool) -> ConcreteModel:
        _check_model_id(model_id)
        model = self._models.get(model_id)
        if model is None:
            raise ModelNotFoundError("model not found")
        now = time.time()
        last_used = min(now, last_used_ms / 1000) if last_used_ms > 0 else now
        if last_used > model.last_used:
            model.last_used = last_used
            for copy in model.copies.values():
                copy.handle.cache.touch(model_id, last_used)
        await self._ensure_api_load(model, last_used, sync)
        return model

    # -- vmodels ---------------------------------------------------------------------------------------

    def api_vmodel(self, vmodel_id: str, owner: str | None) -> VModel | None:
        vmodel = self._vmodels.get((self._settings.namespace, vmodel_id))
        if vmodel is None or (owner is not None and vmodel.model.owner != owner):
            return None
        return vmodel

    async def set_vmodel(self, vmodel_id: str, target_id: str, *, owner: str | None, update_only: bool,
                         info: ApiModelInfo | None, auto_delete: bool, load_now: bool, force: bool, sync: bool,
                         expected_target_id: str | None) -> VModel:
        if not vmodel_id:
            raise InvalidArgumentError("Must provide vModelId")
        if not target_id:
            raise InvalidArgumentError(f"Must provide target modelId for vmodel {vmodel_id}")
        if info is not None:
            _check_type(info)
        key = (self._settings.namespace, vmodel_id)
        vmodel = self._vmodels.get(key)
        current_target = None
        if vmodel is not None:
            current_target = (vmodel.target or vmodel.active).model_id
        if expected_target_id is not None:
            if vmodel is None:
                if expected_target_id != target_id:
                    raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"vmodel {vmodel_id} not found")
            elif owner is not None and vmodel.model.owner != owner:
                raise ApiError(grpc.StatusCode.ALREADY_EXISTS,
                               f'vmodel {vmodel_id} already exists with different owner "{owner}"')
            elif expected_target_id != current_target and target_id != current_target:
                raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"Existing target model {current_target} does not match expected {expected_target_id}")
        target = self._models.get(target_id)
        if info is None and target is None:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Target model {target_id} not found")
        if info is not None and target is not None and self._info_of(target) != info:
            raise ApiError(grpc.StatusCode.ALREADY_EXISTS,
                           f"Target model {target_id} already exists with different attribute values")
        if vmodel is not None:
            if owner is not None and vmodel.model.owner != owner:
                raise ApiError(grpc.StatusCode.ALREADY_EXISTS,
                               f'vmodel {vmodel_id} already exists with different owner "{vmodel.model.owner}"')
            _check_api_vmodel(vmodel)
        elif update_only:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"vmodel {vmodel_id} not found")
        last_used = _initial_last_used(0, load_now)
        if target is None:
            assert info is not None
            target = self._add_api_model(target_id, info, auto_delete=auto_delete, last_used=last_used)
        if vmodel is None:
            vmodel = self._new_api_vmodel(key, target, owner or "")
            if load_now:
                await self._ensure_api_load(target, last_used, sync and info is not None)
            return vmodel
        return await self._retarget(vmodel, target, force=force, load_now=load_now, sync=sync,
                                    sync_load=sync and info is not None)

    def delete_vmodel(self, vmodel_id: str, owner: str | None) -> None:
        vmodel = self.api_vmodel(vmodel_id, owner)
        if vmodel is None:
            return
        _check_api_vmodel(vmodel)
        key = (self._settings.namespace, vmodel_id)
        del self._vmodels[key]
        for model in (vmodel.active, vmodel.target):
            if model is not None:
                self._release(model)
        waiting = self._registry.model(vmodel_id, self._settings.namespace)
        if waiting is not None:  # an InferenceService of that name, left alone until now, gets its vmodel
            self._set_vmodel(key, waiting)
        self._review_scale_to_zero()

    # -- internals -------------------------------------------------------------------------------------

    def _vmodel_taken_by_api(self, key: tuple[str, str], kind: str) -> bool:
        """An InferenceService (or Predictor) named like a vmodel made through the API leaves it alone: the
        controller's setVModel (owner `isvc`) fails as ModelMesh answers it, and the object stays Pending."""
        vmodel = self._vmodels.get(key)
        if vmodel is None or vmodel.model.kind != API_VMODEL_KIND:
            return False
        log.warning('%s %s: vmodel %s already exists with different owner "%s" (made through mmesh.ModelMesh); '
                    "delete that vmodel to serve this one", kind, key[1], key[1], vmodel.model.owner)
        return True

    def _new_api_vmodel(self, key: tuple[str, str], target: ConcreteModel, owner: str) -> VModel:
        from .placement import VModel  # placement imports this module

        registered = dataclasses.replace(target.model, name=key[1], kind=API_VMODEL_KIND, owner=owner)
        vmodel = VModel(registered, target)
        self._vmodels[key] = vmodel
        self._cancel_scale_downs_for(registered)
        return vmodel

    async def _retarget(self, vmodel: VModel, target: ConcreteModel, *, force: bool, load_now: bool,
                        sync: bool, sync_load: bool) -> VModel:
        """VModelManager's update: `sync` waits for a transition; without one, a load (`loadNow`, or to the
        active model's scale) is waited for only when the request created the target (`sync_load`)."""
        active, pending = vmodel.active, vmodel.target
        vmodel.model = dataclasses.replace(target.model, name=vmodel.model.name, kind=API_VMODEL_KIND,
                                           owner=vmodel.model.owner)
        if target is active:
            vmodel.target = None
            if pending is not None and pending is not active:
                self._release(pending)
            if load_now:
                await self._ensure_api_load(target, target.last_used, sync_load)
            return vmodel
        if pending is not target:
            vmodel.target = target
            if pending is not None:
                self._release(pending)
        copies = len(active.servable_copies())
        if force or copies == 0 or (copies == 1 and target.servable_copies()):
            vmodel.active, vmodel.target = target, None
            self._release(active)
            if load_now or copies:
                await self._ensure_api_load(target, active.last_used, sync_load)
            return vmodel
        # Transitioning: the target loads, and becomes active once loaded (placement's _complete_transition).
        await self._ensure_api_load(target, max(active.last_used, target.last_used), sync)
        return vmodel

    def _add_api_model(self, model_id: str, info: ApiModelInfo, *, auto_delete: bool,
                       last_used: float) -> ConcreteModel:
        registered = api_registered_model(model_id, info, self._settings.namespace)
        model = ConcreteModel(registered, last_used=last_used)
        self._models[model_id] = model
        self._api_models[model_id] = ApiModelRecord(info, auto_delete)
        return model

    def _info_of(self, model: ConcreteModel) -> ApiModelInfo:
        record = self._api_models.get(model.model_id)
        if record is not None:
            return record.info
        registered = model.model  # a model of an InferenceService: its type and path as the controller gives
        path = registered.predictor.storage_location().path if registered.predictor is not None else ""
        return ApiModelInfo.of(registered.type_string or "", path, "")

    def _referents(self, model: ConcreteModel) -> list[str]:
        return [vmodel.model.name for vmodel in self._vmodels.values()
                if vmodel.active is model or vmodel.target is model]

    def _keeps_registered(self, model: ConcreteModel) -> bool:
        """Whether a model placement retires stays registered: an API model does, unless it is auto-deleted
        (`autoDeleteTargetModel`) and no vmodel refers to it any more."""
        record = self._api_models.get(model.model_id)
        if record is None or self._models.get(model.model_id) is not model:
            return False
        if record.auto_delete and not self._referents(model):
            del self._api_models[model.model_id]
            return False
        return True

    def _release(self, model: ConcreteModel) -> None:
        self._retire(model)

    async def _ensure_api_load(self, model: ConcreteModel, last_used: float, sync: bool) -> None:
        task = model.load_task
        if task is None and not model.servable_copies():
            if model.state is ModelState.FAILED_TO_LOAD and not self._failure_expired(model):
                return
            model.last_used = max(model.last_used, last_used)
            task = self._start_load(model, requested=False)
        if sync and task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)


def _check_model_id(model_id: str) -> None:
    if not model_id:
        raise InvalidArgumentError("must provide non-empty modelId")


def _check_type(info: ApiModelInfo) -> None:
    if not info.type:
        raise InvalidArgumentError("Must provide non-empty model type string")


def _check_api_vmodel(vmodel: VModel) -> None:
    if vmodel.model.kind != API_VMODEL_KIND:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       f'vmodel {vmodel.model.name} belongs to {vmodel.model.kind} {vmodel.model.name!r} (owner '
                       f'"{vmodel.model.owner}"); change it through its manifest (the emulator\'s rule: ModelMesh\'s '
                       "controller would undo the change)")
