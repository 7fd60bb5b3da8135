"""TLS client contexts from storage-config PEM fields: `certificate` (CA bundle), `client_certificate`/`client_key`."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from ..errors import StorageError

__all__ = ["client_ssl_context"]


def client_ssl_context(certificate: str | None = None, client_certificate: str | None = None,
                       client_key: str | None = None) -> ssl.SSLContext:
    """Verifies servers against `certificate` when given (it replaces the system CAs, as upstream), else the system
    CAs; presents a client certificate when both halves are given."""
    try:
        context = ssl.create_default_context(cadata=certificate) if certificate else ssl.create_default_context()
    except (ssl.SSLError, ValueError):
        raise StorageError("failed to add certificate to CA pool") from None
    if client_key and not client_certificate:
        raise StorageError("missing required client certificate when client key is specified")
    if client_certificate and not client_key:
        raise StorageError("missing required client key when client certificate is specified")
    if client_certificate and client_key:
        _load_client_pair(context, client_certificate, client_key)
    return context


def _load_client_pair(context: ssl.SSLContext, certificate: str, key: str) -> None:
    # ssl loads key pairs from files only; they live in a private directory just long enough to be read.
    with tempfile.TemporaryDirectory(prefix="mmemu-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        for path, text in ((cert_file, certificate), (key_file, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, ValueError) as exc:
            raise StorageError(f"failed to parse client TLS key pair: {exc.__class__.__name__}") from None
