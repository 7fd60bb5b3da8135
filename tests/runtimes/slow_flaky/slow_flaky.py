"""A test runtime whose loads can be slow or fail: its model file is JSON
`{"load_delay_s": float, "fail_first_load_marker": path}` (the first load fails and creates the marker,
which lives outside the model directory because failed loads remove it); predict returns the input's sum."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class SlowFlakyModel(MLModel):
    async def load(self) -> bool:
        path = Path(await get_model_uri(self._settings))
        behaviour = json.loads(path.read_text())
        await asyncio.sleep(behaviour.get("load_delay_s", 0))
        marker = behaviour.get("fail_first_load_marker")
        if marker and not Path(marker).exists():
            Path(marker).touch()
            raise RuntimeError("first load fails on purpose")
        self.ready = True
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        total = sum(float(NumpyCodec.decode_input(tensor).sum()) for tensor in payload.inputs)
        return InferenceResponse(model_name=self.name,
                                 outputs=[NumpyCodec.encode_output("sum", np.array([total]))])
