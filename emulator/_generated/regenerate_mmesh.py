"""Regenerate emulator/_generated/mmesh/ from ModelMesh's own protos kept beside the stubs.

`model-runtime.proto` (the `mmesh.ModelRuntime` SPI a custom runtime serves) and `model-mesh.proto` (the
external `mmesh.ModelMesh` API on 8033) are copied unchanged from kserve/modelmesh `src/main/proto/current/`
(Apache-2.0; commits 0140079db94c and 50c8214fdf47). Run from the repository root with a Python that has
grpcio-tools 1.67.1 (the version the TorchServe stubs were made with, importable with protobuf >= 5.27 and
grpcio >= 1.67):

    python emulator/_generated/regenerate_mmesh.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

PACKAGE = Path("emulator/_generated/mmesh")
PROTOS = ("model-runtime.proto", "model-mesh.proto")


def main() -> int:
    args = ["protoc", "-I.", f"-I{Path(protoc.__file__).parent / '_proto'}",
            "--python_out=.", "--grpc_python_out=.", *(str(PACKAGE / name) for name in PROTOS)]
    return protoc.main(args)


if __name__ == "__main__":
    sys.exit(main())
