"""ModelMesh's request routing, transport-neutral: find the model id, make it servable, forward raw bytes.

Model id resolution follows ModelMesh's dataplane config (`rpcConfigs` + `allowOtherRpcs`): the vmodel id is
read from the request bytes for known methods, else from the `mm-vmodel-id` / `mm-model-id` headers.
Forwarding strips `mm-*`, `grpc-*`, `content-type` and `user-agent` headers, adds `mm-model-id`, and
rewrites the model-name field to the concrete id where the runtime asks for it (`idInjectionPath`).
"""

from __future__ import annotations

import base64
import binascii
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from ..errors import EmulatorError, InvalidArgumentError, UnsupportedError
from ..metrics import Metrics
from ..placement.model_state import LoadedCopy
from ..placement.placement import Placement
from ..placement.runtime_pool import RuntimeHandle
from .payload_processors import PayloadProcessors
from .payload_records import PayloadRecord
from .wire import WireFormatError, read_string_field, replace_string_field

__all__ = ["ID_EXTRACTION_PATHS", "STREAMING_METHODS", "DataPlane", "MessageTooLargeError", "RuntimeCallError",
           "check_message_size"]

ID_EXTRACTION_PATHS: dict[str, tuple[int, ...]] = {
    "inference.GRPCInferenceService/ModelInfer": (1,),
    "inference.GRPCInferenceService/ModelMetadata": (1,),
    "tensorflow.serving.PredictionService/Predict": (1, 1),
    "org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions": (1,),
}
STREAMING_METHODS = frozenset({"inference.GRPCInferenceService/ModelStreamInfer"})
_STRIPPED_PREFIXES = ("mm-", "grpc-", "tas-")
_STRIPPED_HEADERS = frozenset({"content-type", "user-agent", "te"})
Metadata = Sequence[tuple[str, str | bytes]]


class RuntimeCallError(EmulatorError):
    """The runtime answered with an error: passed through with its own code, ModelMesh-style description."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str):
        super().__init__(f"{method}: {code.name}: {details}")
        self.grpc_code = code
        self.http_status = 0  # set by the REST router from the gRPC code


class MessageTooLargeError(EmulatorError):
    """A request message over `grpcMaxMessageSizeBytes`, with ModelMesh's (grpc-java's) text; HTTP 429 on REST."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


def check_message_size(size: int, limit: int) -> None:
    """Raise MessageTooLargeError when `size` bytes exceed `limit` (negative: unlimited, as for grpc core)."""
    if 0 <= limit < size:
        raise MessageTooLargeError(f"gRPC message exceeds maximum size {limit}: {size}")


class DataPlane:
    def __init__(self, placement: Placement, namespace: str, metrics: Metrics | None = None,
                 payloads: PayloadProcessors | None = None):
        self._placement = placement
        self._namespace = namespace
        self._metrics = metrics
        self._payloads = payloads
        # one multicallable per runtime instance and known method (configured or declared by the runtime), made on
        # first use and dropped with the instance's handle; other method names are client-chosen, so never cached
        self._callables: weakref.WeakKeyDictionary[RuntimeHandle, dict[str, grpc.aio.UnaryUnaryMultiCallable]] = (
            weakref.WeakKeyDictionary())

    async def call(self, method: str, request: bytes, metadata: Metadata,
                   timeout: float | None = None) -> bytes:
        """Forward a unary call (`method` like `inference.GRPCInferenceService/ModelInfer`) and return the reply."""
        if self._metrics is None and self._payloads is None:
            return await self._call(method, request, metadata, timeout, _Timing())
        timing = _Timing()
        code, reply = "OK", b""
        try:
            reply = await self._call(method, request, metadata, timeout, timing)
            return reply
        except EmulatorError as exc:
            code = exc.grpc_code.name
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL.name
            raise
        finally:
            if self._metrics is not None:
                self._metrics.observe_request(method if timing.known_method else None, code,
                                              (time.perf_counter() - timing.started) * 1000, len(request),
                                              len(reply), timing.invoke_ms)
            if self._payloads is not None:  # as ModelMesh: the request record once the call returns, then the reply
                call_id = self._payloads.new_id()
                self._payloads.submit(PayloadRecord(call_id, timing.model_id, method, metadata, request, None))
                self._payloads.submit(PayloadRecord(call_id, timing.model_id, method, (),  # no runtime headers here
                                                    reply if code == "OK" else None, code))

    async def _call(self, method: str, request: bytes, metadata: Metadata, timeout: float | None,
                    timing: _Timing) -> bytes:
        if method.startswith("mmesh.ModelRuntime/"):
            raise UnsupportedError(f"Method not found or not permitted: {method}")
        timing.known_method = method in ID_EXTRACTION_PATHS
        copy = await self._resolve(method, request, metadata)
        timing.model_id = copy.model_id
        status = copy.handle.status
        timing.known_method = timing.known_method or method in status.method_infos
        if not status.allow_any_method and method not in status.method_infos:
            raise UnsupportedError(f"Method not found or not permitted: {method}")
        outgoing = _forward_metadata(metadata, copy.model_id)
        for attempt in range(2):
            payload = self._inject_id(method, request, copy)
            invoked = time.perf_counter()
            try:
                return await self._callable(copy.handle, method)(
                    payload, metadata=outgoing, timeout=timeout
                )
            except grpc.aio.AioRpcError as exc:
                if attempt == 0 and _model_vanished(exc):
                    self._placement.invalidate(copy)
                    copy = await self._placement.route_concrete(copy.model_id)
                    timing.model_id = copy.model_id
                    continue
                raise RuntimeCallError(method, exc.code(), exc.details() or "") from None
            finally:
                timing.invoke_ms = (time.perf_counter() - invoked) * 1000
        raise AssertionError("unreachable")

    def _callable(self, handle: RuntimeHandle, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
        if method not in ID_EXTRACTION_PATHS and method not in handle.status.method_infos:
            return handle.data_channel.unary_unary(f"/{method}")
        by_method = self._callables.get(handle)
        if by_method is None:
            by_method = self._callables[handle] = {}
        rpc = by_method.get(method)
        if rpc is None:  # registered: gRPC core interns the method once instead of on every call
            rpc = by_method[method] = handle.data_channel.unary_unary(f"/{method}", _registered_method=True)
        return rpc

    async def _resolve(self, method: str, request: bytes, metadata: Metadata) -> LoadedCopy:
        path = ID_EXTRACTION_PATHS.get(method)
        if path is not None:
            vmodel_id = _read_id(method, request, path)
            if vmodel_id:
                return await self._placement.route(vmodel_id, self._namespace)
        headers = _model_headers(metadata)
        model_ids, vmodel_ids = headers.get("mm-model-id", []), headers.get("mm-vmodel-id", [])
        if model_ids and vmodel_ids:
            raise InvalidArgumentError("must include only one of model id and vmodel id")
        if vmodel_ids:
            if not vmodel_ids[0]:
                raise InvalidArgumentError("provided vmodel-id header must be non-empty")
            return await self._placement.route(vmodel_ids[0], self._namespace)
        if model_ids:
            if not model_ids[0]:
                raise InvalidArgumentError("must provide non-empty modelId")
            return await self._placement.route_concrete(model_ids[0])
        raise InvalidArgumentError("must include mm-model-id header")

    @staticmethod
    def _inject_id(method: str, request: bytes, copy: LoadedCopy) -> bytes:
        path = copy.handle.status.method_infos.get(method)
        if not path:
            return request
        try:
            return replace_string_field(request, path, copy.model_id)
        except WireFormatError as exc:
            raise _malformed(method, exc) from None


@dataclass
class _Timing:
    started: float = field(default_factory=time.perf_counter)
    invoke_ms: float | None = None
    known_method: bool = False  # metrics label the method by name only when it is known (bounded label values)
    model_id: str | None = None  # the concrete id the call resolved to, for payload records


def _malformed(method: str, exc: WireFormatError) -> InvalidArgumentError:
    # The emulator's own answer: upstream's ProtoSplicer throws and grpc-java answers UNKNOWN without the cause.
    return InvalidArgumentError(f"malformed {method.rpartition('/')[2]} request: {exc}")


def _read_id(method: str, request: bytes, path: tuple[int, ...]) -> str | None:
    try:
        return read_string_field(request, path)
    except WireFormatError as exc:
        raise _malformed(method, exc) from None


def _binary_header(name: str, value: str | bytes) -> str:
    # The emulator's own answer: upstream decodes with replacement characters, then finds no such model (NOT_FOUND).
    try:
        raw = value if isinstance(value, bytes) else base64.b64decode(value)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidArgumentError(f"header {name} must be base64-encoded UTF-8") from None


def _model_headers(metadata: Metadata) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in metadata:
        name = key.lower()
        if name in ("mm-vmodel-id-bin", "mm-model-id-bin"):
            found.setdefault(name.removesuffix("-bin"), []).append(_binary_header(name, value))
        elif name in ("mm-vmodel-id", "mm-model-id", "tas-model-id"):
            text = value.decode() if isinstance(value, bytes) else value
            found.setdefault("mm-model-id" if name == "tas-model-id" else name, []).append(text)
    return found


def _forward_metadata(metadata: Metadata, model_id: str) -> list[tuple[str, str | bytes]]:
    kept: list[tuple[str, str | bytes]] = [
        (key, value) for key, value in metadata
        if not key.lower().startswith(_STRIPPED_PREFIXES) and key.lower() not in _STRIPPED_HEADERS
    ]
    if model_id.isascii():
        kept.append(("mm-model-id", model_id))
    kept.append(("mm-model-id-bin", model_id.encode("utf-8")))
    return kept


def _model_vanished(exc: grpc.aio.AioRpcError) -> bool:
    details = (exc.details() or "").lower()
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return True
    return exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAVAILABLE) and (
        "not found" in details or "unknown model" in details
    )
