"""A real S3 endpoint for tests: moto's threaded server on a free 127.0.0.1 port, seeded over S3 itself.

Moto keeps buckets in process-wide state, so every server started here sees the same buckets; tests that need
their own contents use their own bucket names.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["QUICKSTART_ACCESS_KEY", "QUICKSTART_SECRET_KEY", "S3Server"]

QUICKSTART_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
QUICKSTART_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

logging.getLogger("werkzeug").setLevel(logging.WARNING)


class _TlsMotoServer:
    """ThreadedMotoServer has no TLS option: the same moto application behind werkzeug with an SSL context."""

    def __init__(self, port: int, context: ssl.SSLContext):
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app),
                                                   threaded=True, request_handler=MotoRequestHandler,
                                                   ssl_context=context)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-tls", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        return "127.0.0.1", self._server.server_port

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class S3Server:
    """`with S3Server() as s3: s3.seed(bucket, {...}); entry = s3.storage_entry()`."""

    def __init__(self, port: int = 0, *, bucket: str = "modelmesh-example-models", tls: ssl.SSLContext | None = None,
                 ca_file: Path | None = None):
        """`bucket` is the one `storage_entry()` names; with `tls`, serves HTTPS verified by the CA in `ca_file`."""
        self._port, self.bucket, self._tls, self._ca_file = port, bucket, tls, ca_file
        self._server: ThreadedMotoServer | _TlsMotoServer | None = None
        self.endpoint_url = ""

    def start(self) -> S3Server:
        if self._tls is None:
            server: ThreadedMotoServer | _TlsMotoServer = ThreadedMotoServer("127.0.0.1", self._port, verbose=False)
        else:
            server = _TlsMotoServer(self._port, self._tls)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"{'https' if self._tls else 'http'}://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _boto(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=QUICKSTART_ACCESS_KEY, aws_secret_access_key=QUICKSTART_SECRET_KEY,
                            verify=str(self._ca_file) if self._ca_file else None)

    def seed(self, bucket: str, objects: Mapping[str, bytes]) -> None:
        """Create `bucket` if needed and put `objects` (key → bytes); keys are stored exactly as given."""
        s3 = self._boto("s3")
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket)
        for key, body in dict(objects).items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)

    def seed_dir(self, bucket: str, root: Path, *, skip: tuple[str, ...] = ()) -> None:
        """Put every file under `root` (following symlinks) as `<relative path>`, except top-level names in skip."""
        files = {path.relative_to(root).as_posix(): path.read_bytes()
                 for path in sorted(root.rglob("*")) if path.is_file() and path.relative_to(root).parts[0] not in skip}
        self.seed(bucket, files)

    def storage_entry(self, **overrides: Any) -> dict[str, Any]:
        """The quickstart `localMinIO` storage-config entry, pointing at this server."""
        entry = {"type": "s3", "access_key_id": QUICKSTART_ACCESS_KEY, "secret_access_key": QUICKSTART_SECRET_KEY,
                 "endpoint_url": self.endpoint_url, "bucket": self.bucket, "region": "us-south"}
        if self._ca_file:
            entry["certificate"] = self._ca_file.read_text()
        return {**entry, **overrides}

    @contextmanager
    def authenticated(self) -> Iterator[tuple[str, str]]:
        """Make the server check credentials and signatures (moto's IAM auth) while inside; yields a valid key pair.

        Moto's auth switch is process-wide: it is turned off again on exit.
        """
        iam = self._boto("iam")
        user = f"puller-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self._set_auth_free_requests("0")
        try:
            yield key["AccessKeyId"], key["SecretAccessKey"]
        finally:
            self._set_auth_free_requests("inf")

    def _set_auth_free_requests(self, count: str) -> None:
        verify = ssl.create_default_context(cafile=self._ca_file) if self._ca_file else True
        reply = httpx.post(f"{self.endpoint_url}/moto-api/reset-auth", content=count.encode(), verify=verify)
        reply.raise_for_status()
