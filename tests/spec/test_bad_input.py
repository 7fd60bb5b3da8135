"""Bad input gets a clear error, the server stays up, and nothing already loaded is lost."""

from __future__ import annotations

import grpc
import pytest

from emulator.errors import SpecError
from emulator.testing import EmulatorThread
from tests.model_status import wait_until_settled
from tests.v2_client import expected_outputs, grpc_infer, grpc_request

pytestmark = pytest.mark.integration

SKLEARN = "example-sklearn-mnist-svm"


def _isvc(name: str, model: str) -> str:
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations:
    serving.kserve.io/deploymentMode: ModelMesh
spec:
  predictor:
    model:
{model}
"""


@pytest.fixture(scope="module")
def loaded_before(served: EmulatorThread) -> str:
    """The sklearn sample's concrete id once it serves; every test checks it is still the one serving."""
    return grpc_infer(served.grpc_address, grpc_request(SKLEARN)).model_name


@pytest.fixture(autouse=True)
def still_serving(served: EmulatorThread, loaded_before: str):
    yield
    response = grpc_infer(served.grpc_address, grpc_request(SKLEARN))
    assert response.model_name == loaded_before
    assert list(response.outputs[0].contents.int64_contents) == expected_outputs(SKLEARN)[0]["data"]
    copy = served.call(lambda: served.emulator.placement.vmodel(SKLEARN, "modelmesh-serving").active)
    assert copy.loads == 1, "the loaded model must never have been unloaded and reloaded"


def test_malformed_yaml_names_file_document_and_line(served: EmulatorThread) -> None:
    with pytest.raises(SpecError) as caught:
        served.apply_text("kind: InferenceService\nmetadata: {name: x\n", source="broken.yaml")

    assert "broken.yaml" in caught.value.message
    assert "document 0" in caught.value.message
    assert "line" in caught.value.message


def test_unknown_kind_lists_what_is_supported(served: EmulatorThread) -> None:
    with pytest.raises(SpecError) as caught:
        served.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", source="cm.yaml")

    assert "ConfigMap" in caught.value.message
    assert "InferenceService" in caught.value.message


def test_a_bad_file_in_a_directory_is_reported_and_the_rest_applies(served: EmulatorThread, tmp_path) -> None:
    (tmp_path / "a-bad.yaml").write_text("kind: [\n")
    (tmp_path / "b-good.yaml").write_text(_isvc("dir-good", """      modelFormat: {name: sklearn}
      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}"""))

    lines = served.apply_paths([tmp_path])

    assert any(line.startswith("error:") and "a-bad.yaml" in line for line in lines), lines
    assert "inferenceservice/dir-good created" in lines
    assert wait_until_settled(served, "dir-good")["modelStatus"]["states"]["activeModelState"] == "Loaded"
    served.delete("isvc", "dir-good")


@pytest.mark.parametrize(
    ("name", "model", "reason", "message", "has_location"),
    [
        ("unknown-format", "      modelFormat: {name: no-such-format}\n"
                           "      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}",
         "NoSupportingRuntime", "No ServingRuntime supports specified model type and/or protocol", False),
        ("unknown-runtime", "      modelFormat: {name: sklearn}\n      runtime: no-such-runtime\n"
                            "      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}",
         "RuntimeNotRecognized", "Specified runtime name not recognized", False),
        ("missing-key", "      modelFormat: {name: sklearn}\n"
                        "      storage: {key: no-such-key, path: sklearn/mnist-svm.joblib}",
         "ModelLoadFailed", "Did not find storage config for key no-such-key", True),
        ("missing-file", "      modelFormat: {name: sklearn}\n"
                         "      storage: {key: localMinIO, path: sklearn/no-such-file.joblib}",
         "ModelLoadFailed", "no objects found for path 'sklearn/no-such-file.joblib'", True),
        ("bucket-escape", "      modelFormat: {name: sklearn}\n"
                          "      storage: {key: localMinIO, path: x, parameters: {bucket: ../elsewhere}}",
         "ModelLoadFailed", "Failed to pull model from storage due to error: bucket '../elsewhere' (from the "
                            "model's storage parameters or storageUri) escapes the local S3 directory", True),
        ("uri-escape", "      modelFormat: {name: sklearn}\n      storageUri: s3://../elsewhere/x",
         "ModelLoadFailed", "bucket '..' (from the model's storage parameters or storageUri) escapes the local S3 "
                            "directory ('..' is not allowed)", True),
    ],
)
def test_models_that_cannot_load_fail_with_modelmesh_reasons(
        served: EmulatorThread, name: str, model: str, reason: str, message: str, has_location: bool) -> None:
    served.apply_text(_isvc(name, model), source=f"{name}.yaml")

    status = wait_until_settled(served, name)
    request = grpc_request(SKLEARN)
    request.model_name = name
    with pytest.raises(grpc.RpcError) as caught:
        grpc_infer(served.grpc_address, request)
    served.delete("isvc", name)

    model_status = status["modelStatus"]
    assert model_status["states"] == {"activeModelState": "FailedToLoad", "targetModelState": ""}
    assert model_status["lastFailureInfo"]["reason"] == reason
    assert message in model_status["lastFailureInfo"]["message"]
    assert ("location" in model_status["lastFailureInfo"]) == has_location
    assert status["conditions"][0] == {"type": "PredictorReady", "status": "False"}
    assert message in caught.value.details()


def test_deleting_a_model_makes_it_unknown(served: EmulatorThread) -> None:
    served.apply_text(_isvc("short-lived", """      modelFormat: {name: sklearn}
      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}"""))
    request = grpc_request(SKLEARN)
    request.model_name = "short-lived"
    assert list(grpc_infer(served.grpc_address, request).outputs[0].contents.int64_contents) == [8]

    served.delete("isvc", "short-lived")

    with pytest.raises(grpc.RpcError) as caught:
        grpc_infer(served.grpc_address, request)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_invalid_predictor_specs_are_reported_per_model(served: EmulatorThread) -> None:
    both = """      modelFormat: {name: sklearn}
      storageUri: s3://modelmesh-example-models/sklearn/mnist-svm.joblib
      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}"""
    served.apply_text(_isvc("invalid-one", both))
    served.apply_text(_isvc("invalid-two", both))

    statuses = [wait_until_settled(served, name)["modelStatus"] for name in ("invalid-one", "invalid-two")]
    served.delete("isvc", "invalid-one")
    served.delete("isvc", "invalid-two")

    for status in statuses:
        assert status["transitionStatus"] == "InvalidSpec"
        assert status["lastFailureInfo"]["reason"] == "InvalidPredictorSpec"
        assert "cannot have both" in status["lastFailureInfo"]["message"]
