"""What was registered through ModelMesh's own API (`mmesh.ModelMesh` on 8033) rather than by a manifest:
concrete models and vmodels, as plain JSON-able dicts for the management API and `status`. Call it on the
emulator's event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..placement.model_state import ConcreteModel

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["modelmesh_registrations"]


def _state(model: ConcreteModel) -> str:
    return "Loaded" if model.servable_copies() else str(model.state)


def modelmesh_registrations(context: ApiContext) -> dict[str, Any]:
    placement = context.placement
    vmodels = placement.api_vmodels()
    models = [
        {
            "modelId": model.model_id, "type": record.info.type, "path": record.info.path or "",
            "state": _state(model), "instances": sorted(model.copies), "autoDelete": record.auto_delete,
            "vmodels": [v.model.name for v in vmodels if v.active is model or v.target is model],
            **({"lastFailureInfo": model.failure.to_status()} if model.failure is not None else {}),
        }
        for model, record in placement.api_models()
    ]
    views = [
        {"vModelId": vmodel.model.name, "owner": vmodel.model.owner, "activeModelId": vmodel.active.model_id,
         "targetModelId": (vmodel.target or vmodel.active).model_id, "activeModelState": _state(vmodel.active)}
        for vmodel in vmodels
    ]
    return {"kind": "ModelMeshRegistrations", "apiVersion": "emulator/v1", "models": models, "vmodels": views}
