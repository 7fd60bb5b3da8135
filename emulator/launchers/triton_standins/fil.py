"""Stand-in for Triton's `fil` (Forest Inference Library) backend: XGBoost and LightGBM models run by the
`xgboost` and `lightgbm` packages (CPU) in Triton's Python backend. Installed as `<backend directory>/fil/model.py`
beside standin_model.py.

As the FIL backend: `parameters.model_type` is `xgboost` (binary), `xgboost_json`, `xgboost_ubj` or `lightgbm`
(text), the file is `xgboost.model`, `xgboost.json`, `xgboost.ubj` or `model.txt` unless `default_model_filename`
names it; one input (rows x features, FP32), one output: with `output_class` true the class (or, with
`predict_proba` true, every class's probability), else the model's score for each row.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin_model import StandInModel

__all__ = ["TritonPythonModel"]

_FILE_NAMES = {"xgboost": "xgboost.model", "xgboost_json": "xgboost.json", "xgboost_ubj": "xgboost.ubj",
               "lightgbm": "model.txt"}


def _parameter(config: dict[str, Any], key: str, default: str = "") -> str:
    return str(config.get("parameters", {}).get(key, {}).get("string_value", default)).strip()


def _model_type(config: dict[str, Any]) -> str:
    model_type = _parameter(config, "model_type")
    if model_type not in _FILE_NAMES:
        raise ValueError(f"parameters.model_type {model_type!r} is not one of {', '.join(_FILE_NAMES)} "
                         "(treelite_checkpoint has no stand-in)")
    return model_type


class TritonPythonModel(StandInModel):
    BACKEND = "fil"
    LIBRARY = "xgboost / lightgbm"

    @classmethod
    def model_file(cls, version_dir: Path, config: dict[str, Any]) -> Path:
        return version_dir / (config.get("default_model_filename") or _FILE_NAMES[_model_type(config)])

    def load(self, path: Path, config: dict[str, Any]) -> None:
        model_type = _model_type(config)
        self.output_class = _parameter(config, "output_class", "true").lower() == "true"
        self.predict_proba = _parameter(config, "predict_proba", "false").lower() == "true"
        threshold = _parameter(config, "threshold", "0.5")
        self.threshold = float(threshold or 0.5)
        if model_type == "lightgbm":
            import lightgbm

            self.LIBRARY = f"lightgbm {lightgbm.__version__}"
            booster = lightgbm.Booster(model_file=str(path))
            self.score = lambda rows: booster.predict(rows)
        else:
            import xgboost

            self.LIBRARY = f"xgboost {xgboost.__version__}"
            booster = xgboost.Booster(model_file=str(path))
            booster.set_param({"nthread": 1})  # one CPU thread per model instance: many models share the host
            self.score = lambda rows: booster.predict(xgboost.DMatrix(rows))

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        (rows,) = inputs.values()
        rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        scores = np.asarray(self.score(rows))
        if not self.output_class:
            return [scores.reshape(len(rows), -1)]
        # binary: the score is the positive class's probability
        probabilities = np.stack([1 - scores, scores], axis=1) if scores.ndim == 1 else scores
        if self.predict_proba:
            return [probabilities]
        if scores.ndim == 1:
            return [(scores > self.threshold).astype(np.float32).reshape(len(rows), 1)]
        return [probabilities.argmax(axis=1).astype(np.float32).reshape(len(rows), 1)]
