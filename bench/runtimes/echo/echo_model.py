"""A runtime that does no work: it answers how many tensor elements it received (bench/payload.py).

The payload benchmark measures moving bytes through the router, not a model, so predict() only reads the shapes.
"""

from __future__ import annotations

import math

from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

__all__ = ["EchoSizeModel"]


class EchoSizeModel(MLModel):
    async def load(self) -> bool:
        self.ready = True
        return self.ready

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        elements = sum(math.prod(tensor.shape) for tensor in payload.inputs)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[ResponseOutput(name="elements", shape=[1], datatype="INT64", data=[elements])],
        )
