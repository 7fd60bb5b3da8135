"""`infer NAME --json FILE`: a KServe V2 JSON request through the emulator's REST router (8008)."""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from pathlib import Path

import httpx

from ..client import CommandError
from ._common import client, command

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = command(
        commands, parents, "infer", run=run, help="send a V2 JSON inference request to a model",
        description="POST a KServe V2 JSON request to /v2/models/NAME/infer on the emulator's REST port, as "
                    "curl would, and print the response.")
    parser.add_argument("name", metavar="NAME", help="InferenceService or Predictor name (or a concrete model id)")
    parser.add_argument("--json", required=True, metavar="FILE", help="request body, or - for stdin")
    parser.add_argument("--cacert", metavar="FILE", default=os.environ.get("MMEMU_TLS_CA_FILE"),
                        help="CA certificate to verify the REST port's TLS certificate with, when it serves TLS "
                             "(default $MMEMU_TLS_CA_FILE, else the system's roots)")


def _body(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise CommandError(f'cannot read "{source}": {exc.strerror or exc}') from None


def run(args: argparse.Namespace) -> int:
    body = _body(args.json)
    with client(args) as api:
        rest_url = api.info().get("restUrl")
    if not rest_url:
        raise CommandError("the emulator's REST proxy is disabled (MMEMU_REST_PROXY_ENABLED=false)")
    url = f"{rest_url}/v2/models/{args.name}/infer"
    try:
        verify = ssl.create_default_context(cafile=args.cacert) if args.cacert else True
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=120,
                              verify=verify)
    except httpx.HTTPError as exc:
        untrusted = "CERTIFICATE_VERIFY" in str(exc)
        hint = " (pass the CA that signed its TLS certificate with --cacert)" if untrusted else ""
        raise CommandError(f"{url}: {exc}{hint}") from None
    try:
        reply = response.json()
    except ValueError:
        raise CommandError(f"{url} answered {response.status_code}: {response.text[:200]}") from None
    if response.is_error:
        raise CommandError(str(reply.get("message") or reply))
    print(json.dumps(reply, indent=2))
    return 0
