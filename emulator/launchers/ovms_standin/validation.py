"""A request's tensors checked against the model as OVMS checks them, with OVMS's status texts
(src/status.cpp: INVALID_MISSING_INPUT, INVALID_NO_OF_INPUTS, INVALID_PRECISION, INVALID_NO_OF_SHAPE_DIMENSIONS,
INVALID_SHAPE, INVALID_CONTENT_SIZE)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .models import LoadedModel, ServingError

__all__ = ["Received", "as_array", "check_inputs"]

Received = tuple[str, tuple[int, ...], bytes | np.ndarray | None]
"""What a request carries for one input: its datatype, its shape, and its data (None: not given yet)."""


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ",".join(str(dim) for dim in shape) + ")"


def check_inputs(model: LoadedModel, received: Mapping[str, Received]) -> None:
    for spec in model.inputs:
        if spec.name not in received:
            raise ServingError("INVALID_ARGUMENT", "Missing input with specific name",
                               f"Required input: {spec.name}")
    if len(received) != len(model.inputs):
        raise ServingError("INVALID_ARGUMENT", "Invalid number of inputs",
                           f"Expected: {len(model.inputs)}; Actual: {len(received)}")
    for spec in model.inputs:
        datatype, shape, _ = received[spec.name]
        if datatype != spec.datatype:
            raise ServingError("INVALID_ARGUMENT", "Invalid input precision",
                               f"Expected: {spec.datatype}; Actual: {datatype}; input name: {spec.name}")
        if len(shape) != len(spec.shape):
            raise ServingError("INVALID_ARGUMENT", "Invalid number of shape dimensions",
                               f"Expected: {_shape(spec.shape)}; Actual: {_shape(shape)}; input name: {spec.name}")
        if any(want not in (-1, got) for want, got in zip(spec.shape, shape, strict=True)):
            raise ServingError("INVALID_ARGUMENT", "Invalid input shape",
                               f"Expected: {_shape(spec.shape)}; Actual: {_shape(shape)}; input name: {spec.name}")


def as_array(name: str, shape: tuple[int, ...], data: bytes | np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The input's values as an array of `shape`; a size that does not fit is OVMS's INVALID_CONTENT_SIZE."""
    array = np.frombuffer(data, dtype=dtype) if isinstance(data, bytes) else np.asarray(data, dtype=dtype)
    expected = int(np.prod(shape)) if shape else 1
    if array.size != expected:
        raise ServingError("INVALID_ARGUMENT", "Invalid content size of tensor proto",
                           f"Expected: {expected * dtype.itemsize} bytes; Actual: {array.size * dtype.itemsize} "
                           f"bytes; input name: {name}")
    return array.reshape(shape)
