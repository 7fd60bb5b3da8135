"""The OVMS stand-in's request checks, in OVMS's order and words, without a server: a model's declared tensors
against what a request carries; and TensorFlow Serving's messages on the wire."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.launchers.ovms_standin.models import LoadedModel, ServingError, TensorSpec
from emulator.launchers.ovms_standin.tfs_protos import DT, PredictRequest
from emulator.launchers.ovms_standin.validation import as_array, check_inputs

MNIST = LoadedModel("mnist", 1, compiled=None, inputs=[TensorSpec("Input3", "FP32", (1, 1, 28, 28))],
                    outputs=[TensorSpec("Plus214_Output_0", "FP32", (1, 10))])
DYNAMIC = LoadedModel("dyn", 1, compiled=None, inputs=[TensorSpec("x", "INT64", (-1, 3))], outputs=[])


@pytest.mark.parametrize(("received", "text"), [
    ({}, "Missing input with specific name - Required input: Input3"),
    ({"Input3": ("FP32", (1, 1, 28, 28), None), "extra": ("FP32", (1,), None)},
     "Invalid number of inputs - Expected: 1; Actual: 2"),
    ({"Input3": ("INT32", (1, 1, 28, 28), None)},
     "Invalid input precision - Expected: FP32; Actual: INT32; input name: Input3"),
    ({"Input3": ("FP32", (28, 28), None)},
     "Invalid number of shape dimensions - Expected: (1,1,28,28); Actual: (28,28); input name: Input3"),
    ({"Input3": ("FP32", (1, 1, 2999, 1), None)},
     "Invalid input shape - Expected: (1,1,28,28); Actual: (1,1,2999,1); input name: Input3"),
])
def test_a_request_that_does_not_fit_the_model_is_refused_with_ovms_text(received: dict, text: str) -> None:
    with pytest.raises(ServingError) as caught:
        check_inputs(MNIST, received)

    assert caught.value.code == "INVALID_ARGUMENT"
    assert str(caught.value) == text


def test_a_dynamic_dimension_takes_any_size_and_the_content_must_fill_the_shape() -> None:
    check_inputs(DYNAMIC, {"x": ("INT64", (5, 3), None)})
    array = as_array("x", (5, 3), np.arange(15, dtype=np.int64).tobytes(), np.dtype(np.int64))

    assert array.shape == (5, 3)
    with pytest.raises(ServingError, match=r"^Invalid content size of tensor proto - Expected: 120 bytes; "
                                           r"Actual: 112 bytes; input name: x$"):
        as_array("x", (5, 3), np.arange(14, dtype=np.int64).tobytes(), np.dtype(np.int64))


def test_predict_requests_keep_their_fields_on_the_wire() -> None:
    request = PredictRequest()
    request.model_spec.name = "mnist"
    request.model_spec.version.value = 3
    request.inputs["Input3"].dtype = DT["DT_FLOAT"]
    request.inputs["Input3"].tensor_shape.dim.add(size=2)
    request.inputs["Input3"].float_val.extend([0.5, 1.5])

    decoded = PredictRequest.FromString(request.SerializeToString())

    assert decoded.model_spec.name == "mnist"
    assert decoded.model_spec.version.value == 3
    assert decoded.inputs["Input3"].dtype == 1
    assert [dim.size for dim in decoded.inputs["Input3"].tensor_shape.dim] == [2]
    assert list(decoded.inputs["Input3"].float_val) == [0.5, 1.5]
