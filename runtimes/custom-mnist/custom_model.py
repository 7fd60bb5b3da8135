"""A custom MLServer runtime for ModelMesh: a joblib-saved scikit-learn classifier with its confidence.

Outputs: ``predict`` (INT64, the most probable class) and ``confidence`` (FP64, that class's probability).
MLServer finds this class through ``MLSERVER_MODEL_IMPLEMENTATION=custom_model.CustomMNISTModel``.
"""

from __future__ import annotations

from typing import Any

import joblib
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, NumpyRequestCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

__all__ = ["WELLKNOWN_MODEL_FILENAMES", "CustomMNISTModel"]

# Looked for when the model's uri is a directory.
WELLKNOWN_MODEL_FILENAMES = ["model.joblib", "model.pkl", "model.pickle"]


class CustomMNISTModel(MLModel):
    _model: Any

    async def load(self) -> bool:
        model_uri = await get_model_uri(self._settings, wellknown_filenames=WELLKNOWN_MODEL_FILENAMES)
        model = joblib.load(model_uri)
        if not hasattr(model, "predict_proba"):
            raise MLServerError(
                f"{self.name}: {type(model).__name__} in {model_uri} has no predict_proba; "
                "this runtime needs a probabilistic classifier"
            )
        self._model = model
        self.ready = True
        return self.ready

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        features = self.decode_request(payload, default_codec=NumpyRequestCodec)
        probabilities = self._model.predict_proba(features)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                NumpyCodec.encode_output("predict", self._model.classes_[probabilities.argmax(axis=1)]),
                NumpyCodec.encode_output("confidence", probabilities.max(axis=1)),
            ],
        )
