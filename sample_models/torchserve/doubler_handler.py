"""TorchServe handler: each request's `data` is a JSON list of numbers; the answer is the TorchScript model's
output for it (the sample model doubles its input)."""

import json
import os

import torch

_model = None


def handle(data, context):
    global _model
    if _model is None:
        properties = context.system_properties
        _model = torch.jit.load(os.path.join(properties["model_dir"], context.manifest["model"]["serializedFile"]))
    if data is None:  # TorchServe's load-time call
        return None
    answers = []
    for row in data:
        values = json.loads(row.get("data") or row.get("body"))
        answers.append(_model(torch.tensor(values, dtype=torch.float32)).tolist())
    return answers
