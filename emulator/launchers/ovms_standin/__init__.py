"""A stand-in for OpenVINO Model Server (OVMS), which has no package outside its image: the `openvino` runtime
from PyPI behind the parts of OVMS that ModelMesh and its clients use, run by the process launcher for the
ovms-1.x ServingRuntime with the container's own arguments (`--port`, `--rest_port`, `--config_path`, ...):

* the config file (`model_config_list`) read again on `POST /v1/config/reload`, each model's state on
  `GET /v1/config` (what the ovms adapter speaks: emulator/adapters/ovms.py);
* KServe V2 gRPC (ModelInfer, ModelMetadata, ModelReady, ServerReady/Live, ServerMetadata) and TensorFlow
  Serving's `PredictionService/Predict`, with OVMS's validation messages.

`python -m emulator.launchers.ovms_standin --help`; docs/runtimes.md says what differs from OVMS.
"""

__all__: list[str] = []
