"""The stand-in's gRPC APIs: KServe V2 (`inference.GRPCInferenceService`) and TensorFlow Serving's
`tensorflow.serving.PredictionService/Predict`, both validated as OVMS validates them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import openvino

from ...v2_protos import dataplane_pb2
from .models import LoadedModel, ModelManager, ServingError, numpy_dtype
from .tfs_protos import DT, PredictRequest, PredictResponse
from .validation import Received, as_array, check_inputs

__all__ = ["SERVER_NAME", "handlers"]

SERVER_NAME = "OpenVINO Model Server (modelmesh-emulator stand-in)"  # adapters/ovms.py looks for the mark
_V2_CONTENTS = {"FP32": "fp32_contents", "FP64": "fp64_contents", "INT8": "int_contents", "INT16": "int_contents",
                "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
                "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
                "BOOL": "bool_contents"}
_TF_DATATYPES = {"DT_FLOAT": "FP32", "DT_DOUBLE": "FP64", "DT_INT32": "INT32", "DT_UINT8": "UINT8",
                 "DT_INT16": "INT16", "DT_INT8": "INT8", "DT_INT64": "INT64", "DT_BOOL": "BOOL",
                 "DT_UINT16": "UINT16", "DT_HALF": "FP16", "DT_UINT32": "UINT32", "DT_UINT64": "UINT64"}
_DATATYPE_BY_DT = {DT[name]: datatype for name, datatype in _TF_DATATYPES.items()}
_DT_BY_DATATYPE = {datatype: DT[name] for name, datatype in _TF_DATATYPES.items()}
_TF_VALUES = {"FP32": "float_val", "FP64": "double_val", "INT32": "int_val", "INT16": "int_val", "INT8": "int_val",
              "UINT8": "int_val", "UINT16": "int_val", "INT64": "int64_val", "BOOL": "bool_val",
              "FP16": "half_val", "UINT32": "uint32_val", "UINT64": "uint64_val"}


def _run(model: LoadedModel, received: dict[str, Received]) -> dict[str, np.ndarray]:
    check_inputs(model, received)
    arrays = {}
    for spec in model.inputs:
        _, shape, data = received[spec.name]
        arrays[spec.name] = as_array(spec.name, shape, data if data is not None else b"", spec.dtype)
    return model.infer(arrays)


def _model_infer(models: ModelManager, request: Any) -> Any:
    model = models.get(request.model_name, int(request.model_version or 0))
    received: dict[str, Received] = {}
    for index, tensor in enumerate(request.inputs):
        if index < len(request.raw_input_contents):
            data: bytes | np.ndarray | None = request.raw_input_contents[index]
        else:
            field = _V2_CONTENTS.get(tensor.datatype)
            data = np.asarray(getattr(tensor.contents, field)) if field else None
        received[tensor.name] = (tensor.datatype, tuple(tensor.shape), data)
    outputs = _run(model, received)
    reply = dataplane_pb2.ModelInferResponse(model_name=model.name, model_version=str(model.version), id=request.id)
    for spec in model.outputs:
        array = np.ascontiguousarray(outputs[spec.name].astype(numpy_dtype(spec.datatype), copy=False))
        reply.outputs.add(name=spec.name, datatype=spec.datatype, shape=array.shape)
        reply.raw_output_contents.append(array.tobytes())
    return reply


def _model_metadata(models: ModelManager, request: Any) -> Any:
    model = models.get(request.name, int(request.version or 0))
    reply = dataplane_pb2.ModelMetadataResponse(name=model.name, versions=[str(model.version)], platform="OpenVINO")
    for spec in model.inputs:
        reply.inputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
    for spec in model.outputs:
        reply.outputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
    return reply


def _model_ready(models: ModelManager, request: Any) -> Any:
    try:
        models.get(request.name, int(request.version or 0))
    except ServingError:
        return dataplane_pb2.ModelReadyResponse(ready=False)
    return dataplane_pb2.ModelReadyResponse(ready=True)


def _predict(models: ModelManager, request: Any) -> Any:
    version = request.model_spec.version.value if request.model_spec.HasField("version") else None
    model = models.get(request.model_spec.name, version)
    received: dict[str, Received] = {}
    for name, tensor in request.inputs.items():
        datatype = _DATATYPE_BY_DT.get(tensor.dtype, f"DT_{tensor.dtype}")
        field = _TF_VALUES.get(datatype)
        values = getattr(tensor, field) if field else []
        data = tensor.tensor_content if tensor.tensor_content or not values else np.asarray(values)
        received[name] = (datatype, tuple(dim.size for dim in tensor.tensor_shape.dim), data)
    outputs = _run(model, received)
    reply = PredictResponse()
    reply.model_spec.name = model.name
    reply.model_spec.version.value = model.version
    for spec in model.outputs:
        if request.output_filter and spec.name not in request.output_filter:
            continue
        array = np.ascontiguousarray(outputs[spec.name].astype(numpy_dtype(spec.datatype), copy=False))
        tensor = reply.outputs[spec.name]
        tensor.dtype = _DT_BY_DATATYPE[spec.datatype]
        for size in array.shape:
            tensor.tensor_shape.dim.add(size=size)
        tensor.tensor_content = array.tobytes()
    return reply


def _handler(models: ModelManager, method: Callable[[ModelManager, Any], Any], request_type: Any,
             response_type: Any) -> grpc.RpcMethodHandler:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(models, request)
        except ServingError as exc:
            context.abort(grpc.StatusCode[exc.code], str(exc))

    return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=request_type.FromString,
                                               response_serializer=response_type.SerializeToString)


def handlers(models: ModelManager, is_ready: Callable[[], bool]) -> list[grpc.GenericRpcHandler]:
    pb = dataplane_pb2
    v2 = {
        "ModelInfer": _handler(models, _model_infer, pb.ModelInferRequest, pb.ModelInferResponse),
        "ModelMetadata": _handler(models, _model_metadata, pb.ModelMetadataRequest, pb.ModelMetadataResponse),
        "ModelReady": _handler(models, _model_ready, pb.ModelReadyRequest, pb.ModelReadyResponse),
        "ServerLive": _handler(models, lambda _m, _r: pb.ServerLiveResponse(live=True), pb.ServerLiveRequest,
                               pb.ServerLiveResponse),
        "ServerReady": _handler(models, lambda _m, _r: pb.ServerReadyResponse(ready=is_ready()),
                                pb.ServerReadyRequest, pb.ServerReadyResponse),
        "ServerMetadata": _handler(models, lambda _m, _r: pb.ServerMetadataResponse(
            name=SERVER_NAME, version=f"openvino {openvino.__version__}"), pb.ServerMetadataRequest,
            pb.ServerMetadataResponse),
    }
    tfs = {"Predict": _handler(models, _predict, PredictRequest, PredictResponse)}
    return [grpc.method_handlers_generic_handler("inference.GRPCInferenceService", v2),
            grpc.method_handlers_generic_handler("tensorflow.serving.PredictionService", tfs)]
