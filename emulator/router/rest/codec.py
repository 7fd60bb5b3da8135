"""JSON ↔ KServe V2 protobuf, the way ModelMesh's rest-proxy converts (kserve/rest-proxy proxy/*.go).

Requests: `data` goes into the typed `contents` field of the datatype; nested arrays are accepted when their
bracket count fits the shape (the element count is left to the runtime, as upstream); parameters become
bool / int64 (numbers truncated) / string InferParameters. Responses: Go encoding/json of rest-proxy's
RESTResponse (empty fields omitted, map keys sorted, floats in Go's shortest form, BYTES always base64 with
`content_type: base64`); `raw_output_contents` are decoded little-endian. Metadata: protojson with
EmitUnpopulated=false (int64 shapes as strings). Error texts follow the Go ones.
"""

from __future__ import annotations

from .request import infer_request_from_json
from .response import infer_response_to_json, model_metadata_to_json
from .types import RestCodecError, RestMarshalError

__all__ = [
    "RestCodecError",
    "RestMarshalError",
    "infer_request_from_json",
    "infer_response_to_json",
    "model_metadata_to_json",
]
