"""A custom runtime with no built-in adapter: it speaks ModelMesh's model-runtime SPI (`mmesh.ModelRuntime`)
itself, modelled on ModelMesh's own test runtime (ExampleModelRuntime.java), and serves KServe V2 inference.

A model is a JSON file `{"weights": [w0, w1, ...], "bias": b, "size_bytes": N}`: ModelInfer answers one FP64
output `y` = Σ wᵢ·xᵢ + b per row of the FP32 input. `size_bytes` (optional) is the memory the model says it
takes; without it `loadModel` answers size 0 and ModelMesh asks `modelSize`, which measures the file.

Environment (all optional):
  EXAMPLE_HOST (127.0.0.1; 0.0.0.0 in a container)
  EXAMPLE_MGMT_PORT (8085: mmesh.ModelRuntime), EXAMPLE_DATA_PORT (8001: inference)
  EXAMPLE_STARTUP_S        seconds runtimeStatus answers STARTING before READY (1.0)
  EXAMPLE_STATUS           what runtimeStatus answers after that: READY, STARTING (never ready) or FAILING
  EXAMPLE_SPI              "false": no mmesh.ModelRuntime service at all (UNIMPLEMENTED)
  EXAMPLE_CAPACITY_BYTES   capacityInBytes (MODEL_SERVER_MEM_REQ_BYTES minus 64 MiB, else 256 MiB)
  EXAMPLE_DEFAULT_MODEL_SIZE_BYTES (1 MiB), EXAMPLE_LOADING_CONCURRENCY (2), EXAMPLE_LOAD_TIMEOUT_MS (30000)
  EXAMPLE_PREDICT_SIZE_BYTES  answer predictModelSize with this; unset: UNIMPLEMENTED (the RPC is optional)
  EXAMPLE_METHOD_INFOS     "svc/Method=1,2;other/Method=" (as ExampleModelRuntime's RS_METHOD_INFOS); default
                           ModelInfer and ModelMetadata with idInjectionPath [1]
  EXAMPLE_ALLOW_ANY        "true": allowAnyMethod
  EXAMPLE_MODELS_ROOT      where a relative modelPath is read from when no storage helper pulled it (this folder)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

from emulator._generated.mmesh import model_runtime_pb2 as spi
from emulator._generated.mmesh import model_runtime_pb2_grpc as spi_grpc
from emulator.v2_protos import dataplane_pb2 as v2

log = logging.getLogger("example-runtime")

_MIB = 1024 * 1024
_V2 = "inference.GRPCInferenceService"
_MAX_MODEL_FILE_BYTES = 16 * _MIB


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _method_infos(spec: str) -> dict[str, list[int]]:
    infos: dict[str, list[int]] = {}
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        method, _, path = entry.partition("=")
        infos[method.strip()] = [int(number) for number in path.split(",") if number.strip()]
    return infos


class LinearModel:
    def __init__(self, path: Path):
        if path.is_dir():
            candidates = sorted(path.glob("*.json"))
            if not candidates:
                raise ValueError(f"no .json model file in {path}")
            path = candidates[0]
        if path.stat().st_size > _MAX_MODEL_FILE_BYTES:
            raise ValueError(f"model file {path} is larger than {_MAX_MODEL_FILE_BYTES} bytes")
        spec = json.loads(path.read_text())
        self.weights = [float(w) for w in spec["weights"]]
        self.bias = float(spec.get("bias", 0.0))
        self.declared_size = int(spec.get("size_bytes", 0))
        self.file_size = path.stat().st_size

    def predict(self, values: list[float], rows: int) -> list[float]:
        width = len(self.weights)
        if rows * width != len(values):
            raise ValueError(f"expected shape [{rows}, {width}], got {len(values)} values")
        return [sum(w * x for w, x in zip(self.weights, values[r * width:(r + 1) * width], strict=True)) + self.bias
                for r in range(rows)]


class Models:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded: dict[str, LinearModel] = {}

    def get(self, model_id: str, context: grpc.ServicerContext) -> LinearModel:
        with self.lock:
            model = self.loaded.get(model_id)
        if model is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Model {model_id} not found")
        return model


class ModelRuntime(spi_grpc.ModelRuntimeServicer):
    def __init__(self, models: Models):
        self._models = models
        self._ready_at = time.monotonic() + float(os.environ.get("EXAMPLE_STARTUP_S", "1.0"))
        self._final_status = os.environ.get("EXAMPLE_STATUS", "READY").upper()
        self._root = Path(os.environ.get("EXAMPLE_MODELS_ROOT") or Path(__file__).resolve().parent)

    def runtimeStatus(self, request, context):
        status = "STARTING" if time.monotonic() < self._ready_at else self._final_status
        if status != "READY":
            return spi.RuntimeStatusResponse(status=spi.RuntimeStatusResponse.Status.Value(status))
        with self._models.lock:  # runtimeStatus is called only at (ModelMesh's) startup: purge what is loaded
            self._models.loaded.clear()
        mem_request = _env_int("MODEL_SERVER_MEM_REQ_BYTES", 0)
        capacity = _env_int("EXAMPLE_CAPACITY_BYTES", mem_request - 64 * _MIB if mem_request else 256 * _MIB)
        default_infos = f"{_V2}/ModelInfer=1;{_V2}/ModelMetadata=1"
        infos = _method_infos(os.environ.get("EXAMPLE_METHOD_INFOS", default_infos))
        return spi.RuntimeStatusResponse(
            status=spi.RuntimeStatusResponse.READY,
            capacityInBytes=capacity,
            maxLoadingConcurrency=_env_int("EXAMPLE_LOADING_CONCURRENCY", 2),
            modelLoadingTimeoutMs=_env_int("EXAMPLE_LOAD_TIMEOUT_MS", 30000),
            defaultModelSizeInBytes=_env_int("EXAMPLE_DEFAULT_MODEL_SIZE_BYTES", _MIB),
            runtimeVersion="example-0.1",
            methodInfos={method: spi.RuntimeStatusResponse.MethodInfo(idInjectionPath=path)
                         for method, path in infos.items()},
            allowAnyMethod=os.environ.get("EXAMPLE_ALLOW_ANY", "").lower() == "true",
        )

    def loadModel(self, request, context):
        path = Path(request.modelPath)
        if not path.is_absolute():
            path = self._root / path
        try:
            model = LinearModel(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot load model {request.modelId}: {exc}")
        with self._models.lock:
            self._models.loaded[request.modelId] = model
        log.info("loaded %s (type %s, path %s, key %s)", request.modelId, request.modelType, request.modelPath,
                 request.modelKey)
        return spi.LoadModelResponse(sizeInBytes=model.declared_size)

    def unloadModel(self, request, context):
        with self._models.lock:
            found = self._models.loaded.pop(request.modelId, None)
        if found is not None:
            log.info("unloaded %s", request.modelId)
        return spi.UnloadModelResponse()

    def predictModelSize(self, request, context):
        predicted = os.environ.get("EXAMPLE_PREDICT_SIZE_BYTES")
        if not predicted:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "predictModelSize is not implemented")
        return spi.PredictModelSizeResponse(sizeInBytes=int(predicted))

    def modelSize(self, request, context):
        model = self._models.get(request.modelId, context)
        return spi.ModelSizeResponse(sizeInBytes=model.file_size * 10)


def _model_id(request_name: str, context: grpc.ServicerContext) -> str:
    """The id ModelMesh injected into the request, else its `mm-model-id` header (as ExampleModelRuntime)."""
    if request_name:
        return request_name
    headers = dict(context.invocation_metadata())
    return headers.get("mm-model-id", "")


def _inference_handlers(models: Models) -> grpc.GenericRpcHandler:
    def model_infer(request: v2.ModelInferRequest, context: grpc.ServicerContext) -> v2.ModelInferResponse:
        model_id = _model_id(request.model_name, context)
        model = models.get(model_id, context)
        if len(request.inputs) != 1 or len(request.inputs[0].shape) != 2:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected one input of shape [rows, features]")
        tensor = request.inputs[0]
        values = list(tensor.contents.fp32_contents or tensor.contents.fp64_contents)
        try:
            outputs = model.predict(values, int(tensor.shape[0]))
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        output = v2.ModelInferResponse.InferOutputTensor(
            name="y", datatype="FP64", shape=[len(outputs)], contents=v2.InferTensorContents(fp64_contents=outputs))
        return v2.ModelInferResponse(model_name=model_id, id=request.id, outputs=[output])

    def model_metadata(request: v2.ModelMetadataRequest, context: grpc.ServicerContext) -> v2.ModelMetadataResponse:
        model_id = _model_id(request.name, context)
        model = models.get(model_id, context)
        tensor = v2.ModelMetadataResponse.TensorMetadata
        return v2.ModelMetadataResponse(
            name=model_id, platform="example-linear",
            inputs=[tensor(name="x", datatype="FP32", shape=[-1, len(model.weights)])],
            outputs=[tensor(name="y", datatype="FP64", shape=[-1])])

    def server_live(request: v2.ServerLiveRequest, context: grpc.ServicerContext) -> v2.ServerLiveResponse:
        return v2.ServerLiveResponse(live=True)

    def unary(function, request_type, response_type):  # type: ignore[no-untyped-def]
        return grpc.unary_unary_rpc_method_handler(function, request_deserializer=request_type.FromString,
                                                   response_serializer=response_type.SerializeToString)

    return grpc.method_handlers_generic_handler(_V2, {
        "ModelInfer": unary(model_infer, v2.ModelInferRequest, v2.ModelInferResponse),
        "ModelMetadata": unary(model_metadata, v2.ModelMetadataRequest, v2.ModelMetadataResponse),
        "ServerLive": unary(server_live, v2.ServerLiveRequest, v2.ServerLiveResponse),
    })


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # In a container the ports are published from outside its network namespace, so loopback would not do.
    host = os.environ.get("EXAMPLE_HOST") or ("0.0.0.0" if Path("/.dockerenv").exists() else "127.0.0.1")
    models = Models()
    management = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    if os.environ.get("EXAMPLE_SPI", "true").lower() != "false":
        spi_grpc.add_ModelRuntimeServicer_to_server(ModelRuntime(models), management)
    management.add_insecure_port(f"{host}:{_env_int('EXAMPLE_MGMT_PORT', 8085)}")
    data = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    data.add_generic_rpc_handlers((_inference_handlers(models),))
    data.add_insecure_port(f"{host}:{_env_int('EXAMPLE_DATA_PORT', 8001)}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    management.start()
    data.start()
    log.info("serving mmesh.ModelRuntime on %s:%s and %s on %s:%s", host, os.environ.get("EXAMPLE_MGMT_PORT", 8085),
             _V2, host, os.environ.get("EXAMPLE_DATA_PORT", 8001))
    stopped.wait()
    management.stop(1.0).wait()
    data.stop(1.0).wait()


if __name__ == "__main__":
    main()
