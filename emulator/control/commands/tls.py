"""`tls init`: a development CA, server and client certificates for TLS and mTLS on 8033 and 8008."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..client import UsageError
from ..tls_files import make_tls_files

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "tls", parents=parents, help="make a development CA and certificates for TLS on 8033/8008",
        description="`tls init DIR`: write ca.crt/ca.key (a new CA), tls.crt/tls.key (the server certificate, "
                    "for modelmesh-serving, modelmesh-serving.NAMESPACE, localhost, 127.0.0.1, ::1, 0.0.0.0 and "
                    "each --san) and client.crt/client.key (a client certificate for clientAuth require), keys in "
                    "PKCS#8 as ModelMesh needs, then print the settings that serve with them. For development only: "
                    "keep ca.key private, or delete it.")
    parser.add_argument("action", choices=["init"], help="what to do (init: make the files)")
    parser.add_argument("directory", type=Path, help="directory to write the files to (made if missing)")
    parser.add_argument("--san", action="append", default=[], metavar="NAME",
                        help="another DNS name or IP address of the server certificate (repeatable)")
    parser.add_argument("-n", "--namespace", default="modelmesh-serving",
                        help="namespace in the name modelmesh-serving.NAMESPACE (default: modelmesh-serving)")
    parser.add_argument("--days", type=int, default=365, help="validity of the certificates in days (default 365)")
    parser.add_argument("--force", action="store_true", help="replace files already in DIRECTORY")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise UsageError(f"--days must be at least 1, got {args.days}")
    files = make_tls_files(args.directory, namespace=args.namespace, extra_names=args.san, days=args.days,
                           overwrite=args.force)
    directory = files.directory.resolve()
    print(f"wrote ca.crt, ca.key, tls.crt, tls.key, client.crt, client.key to {directory}")
    print(f"server certificate names: {', '.join(files.names)}")
    print("serve with TLS (add MMEMU_TLS_CLIENT_AUTH=require for mutual TLS):")
    for name, file in (("MMEMU_TLS_CERT_FILE", "tls.crt"), ("MMEMU_TLS_KEY_FILE", "tls.key"),
                       ("MMEMU_TLS_CA_FILE", "ca.crt")):
        print(f"  export {name}={shlex.quote(str(directory / file))}")
    print("  export MMEMU_REST_PROXY_SKIP_VERIFY=true  # REST reaches 8033 as ModelMesh's rest-proxy: verifying "
          "with the system's roots unless skipVerify (docs/tls.md)")
    print("clients trust ca.crt, e.g. grpcurl -cacert ca.crt ... / curl --cacert ca.crt https://localhost:8008/...")
    return 0
