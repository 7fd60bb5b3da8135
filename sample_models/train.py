"""Train the sample models into a local stand-in for ModelMesh's example S3 bucket.

Models are trained on scikit-learn's bundled 8x8 digits (no network). Files land in
``<out>/modelmesh-example-models/<key>``; ``--requests DIR`` also writes, per InferenceService, the V2 REST
request, the gRPC request (protobuf JSON, for grpcurl) and the outputs the trained model returns for it.

    python sample_models/train.py [--out DIR] [--force] [--requests sample_models/requests]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from mlserver.codecs import NumpyCodec
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

__all__ = ["BUCKET", "DIGIT", "SAMPLES", "SampleModel", "expected_outputs", "main", "train"]

HERE = Path(__file__).resolve().parent
BUCKET = "modelmesh-example-models"

# The 8x8 digit from ModelMesh's docs; it is sample 898 of load_digits, an 8.
DIGIT: list[float] = [
    0.0, 0.0, 1.0, 11.0, 14.0, 15.0, 3.0, 0.0, 0.0, 1.0, 13.0, 16.0, 12.0, 16.0, 8.0, 0.0,
    0.0, 8.0, 16.0, 4.0, 6.0, 16.0, 5.0, 0.0, 0.0, 5.0, 15.0, 11.0, 13.0, 14.0, 0.0, 0.0,
    0.0, 0.0, 2.0, 12.0, 16.0, 13.0, 0.0, 0.0, 0.0, 0.0, 0.0, 13.0, 16.0, 16.0, 6.0, 0.0,
    0.0, 0.0, 0.0, 16.0, 16.0, 16.0, 7.0, 0.0, 0.0, 0.0, 0.0, 11.0, 13.0, 12.0, 1.0, 0.0,
]  # fmt: skip


def _predict(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """What mlserver_sklearn.SKLearnModel returns by default."""
    return {"predict": model.predict(x)}


def _predict_with_confidence(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """What runtimes/custom-mnist/custom_model.py returns."""
    probabilities = model.predict_proba(x)
    return {
        "predict": model.classes_[probabilities.argmax(axis=1)],
        "confidence": probabilities.max(axis=1),
    }


@dataclass(frozen=True)
class SampleModel:
    key: str  # object key inside the bucket
    isvc_names: tuple[str, ...]  # the InferenceServices in sample_models/ that serve it
    build: Callable[[], ClassifierMixin]
    outputs: Callable[[Any, np.ndarray], dict[str, np.ndarray]]


SAMPLES: tuple[SampleModel, ...] = (
    SampleModel(
        key="sklearn/mnist-svm.joblib",
        isvc_names=("example-sklearn-mnist-svm",),
        build=lambda: SVC(gamma=0.001, random_state=0),
        outputs=_predict,
    ),
    SampleModel(
        key="custom/mnist-logreg.joblib",
        isvc_names=("example-custom-mnist", "example-custom-mnist-runtime"),
        build=lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0)),
        outputs=_predict_with_confidence,
    ),
)


def train(sample: SampleModel) -> ClassifierMixin:
    digits = load_digits()
    return sample.build().fit(digits.data, digits.target)


def expected_outputs(sample: SampleModel, model: Any) -> list[dict[str, Any]]:
    """The outputs a V2 server returns for DIGIT, encoded with MLServer's own NumPy codec."""
    x = np.array([DIGIT], dtype=np.float32)
    encoded = [NumpyCodec.encode_output(name, value) for name, value in sample.outputs(model, x).items()]
    return [{"name": o.name, "datatype": o.datatype, "shape": o.shape, "data": o.data.root} for o in encoded]


def _request_files(isvc: str, outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rest_input = {"name": "predict", "shape": [1, len(DIGIT)], "datatype": "FP32", "data": DIGIT}
    grpc_input = {
        "name": "predict",
        "datatype": "FP32",
        "shape": [1, len(DIGIT)],
        "contents": {"fp32_contents": DIGIT},
    }
    return {
        f"{isvc}.json": {"inputs": [rest_input]},
        f"{isvc}.grpc.json": {"model_name": isvc, "inputs": [grpc_input]},
        f"{isvc}.expected.json": {"outputs": outputs},
    }


def _is_fresh(path: Path) -> bool:
    return path.is_file() and path.stat().st_mtime > Path(__file__).stat().st_mtime


def _write_model(model: ClassifierMixin, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    joblib.dump(model, partial)
    os.replace(partial, path)


def _write_json(path: Path, content: dict[str, Any]) -> bool:
    text = json.dumps(content) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE / "bucket", metavar="DIR", help="storage root (default: bucket/)"
    )
    parser.add_argument("--force", action="store_true", help="retrain even if the model files are up to date")
    parser.add_argument(
        "--requests", type=Path, metavar="DIR", help="also write request/expected JSON files into DIR"
    )
    args = parser.parse_args(argv)

    for sample in SAMPLES:
        path = args.out / BUCKET / sample.key
        if args.force or not _is_fresh(path):
            model = train(sample)
            _write_model(model, path)
            print(f"wrote {path}")
        else:
            model = joblib.load(path) if args.requests else None
            print(f"up to date: {path}")
        if args.requests:
            args.requests.mkdir(parents=True, exist_ok=True)
            outputs = expected_outputs(sample, model)
            for isvc in sample.isvc_names:
                for name, content in _request_files(isvc, outputs).items():
                    if _write_json(args.requests / name, content):
                        print(f"wrote {args.requests / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
