"""Regenerate emulator/_generated/torchserve/ from the .proto files inside the installed TorchServe.

TorchServe's wheel ships its gRPC protos in ts/frontend/model-server.jar. Run from the repository root with a
Python that has torchserve and grpcio-tools (1.67.1 keeps the stubs importable with protobuf >= 5.27 and
grpcio >= 1.67, as MLServer's own stubs require):

    python emulator/_generated/regenerate_torchserve.py
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

from grpc_tools import protoc

import ts

PACKAGE = Path("emulator/_generated/torchserve")
PROTOS = ("management.proto", "inference.proto")


def main() -> int:
    jar = Path(ts.__file__).parent / "frontend" / "model-server.jar"
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(jar) as archive:
        root = Path(tmp)
        (root / PACKAGE).mkdir(parents=True)
        for name in PROTOS:
            (root / PACKAGE / name).write_bytes(archive.read(f"proto/{name}"))
        archive.extract("google/rpc/status.proto", root / "include")
        args = ["protoc", f"-I{root}", f"-I{root / 'include'}", f"-I{Path(protoc.__file__).parent / '_proto'}",
                "--python_out=.", "--grpc_python_out=.", *(str(PACKAGE / name) for name in PROTOS)]
        return protoc.main(args)


if __name__ == "__main__":
    sys.exit(main())
