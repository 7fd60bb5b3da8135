"""Whether ModelMesh's rest-proxy could reach a TLS 8033, and the REST side's answers when it could not.

Upstream's rest-proxy dials `localhost:8033` over TLS (REST_PROXY_USE_TLS) with no client certificate, verifying the
server's certificate against the system roots only, unless `restProxy.skipVerify` (REST_PROXY_SKIP_VERIFY) is true.
So with `clientAuth: require` every REST request fails, and so it does with a certificate the system does not trust
and `skipVerify: false`: grpc-gateway answers 503 with the connection error. The emulator's REST side calls the data
plane in-process; it probes 8033 once at start as rest-proxy would connect, and reproduces that outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Sequence

import grpc

from ...errors import EmulatorError
from ..tls_config import TlsConfig

__all__ = ["RestProxyUnavailableError", "UnreachableDataPlane", "rest_proxy_refusal"]

_PROBE_TIMEOUT_S = 10.0
# OpenSSL's X509_V_ERR_* codes as Go's crypto/x509 words them
_GO_X509_TEXTS = {
    18: "certificate signed by unknown authority", 19: "certificate signed by unknown authority",
    20: "certificate signed by unknown authority", 21: "certificate signed by unknown authority",
    10: "certificate has expired or is not yet valid", 9: "certificate has expired or is not yet valid",
    62: "certificate is not valid for localhost",
}


class RestProxyUnavailableError(EmulatorError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503  # grpc-gateway's for UNAVAILABLE


class UnreachableDataPlane:
    """Stands in for the data plane behind the REST side when rest-proxy could not connect to 8033."""

    def __init__(self, reason: str):
        self.reason = reason

    async def call(self, method: str, request: bytes, metadata: Sequence[tuple[str, str | bytes]],
                   timeout: float | None = None) -> bytes:
        raise RestProxyUnavailableError(self.reason)


def _dial_host(host: str) -> str:
    try:
        return "127.0.0.1" if ipaddress.ip_address(host).is_unspecified else host
    except ValueError:
        return host


async def rest_proxy_refusal(tls: TlsConfig | None, host: str, grpc_port: int, skip_verify: bool) -> str | None:
    """grpc-gateway's error text when rest-proxy could not connect to 8033 with these settings; None when it could."""
    if tls is None:
        return None
    if tls.require_client_auth:
        return 'connection error: desc = "error reading server preface: remote error: tls: certificate required"'
    if skip_verify:
        return None
    context = ssl.create_default_context()  # the system roots, as rest-proxy's x509.SystemCertPool()
    context.set_alpn_protocols(["h2"])
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(_dial_host(host), grpc_port, ssl=context, server_hostname="localhost"),
            _PROBE_TIMEOUT_S)
    except ssl.SSLCertVerificationError as exc:
        return ('connection error: desc = "transport: authentication handshake failed: tls: failed to verify '
                f'certificate: x509: {_GO_X509_TEXTS.get(exc.verify_code, exc.verify_message)}"')
    except (OSError, TimeoutError) as exc:
        return f'connection error: desc = "transport: error while dialing: {exc}"'
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return None
