"""TLS of 8033 and 8008 as modelmesh-serving's `tls.secretName` / `tls.clientAuth` set it up: the Secret's
`tls.crt`, `tls.key` and optional `ca.crt`, read from files, checked at start with errors that say what is wrong.

ModelMesh (netty) accepts `MM_TLS_CLIENT_AUTH` values NONE, OPTIONAL, REQUIRE (any case). grpcio cannot request a
client certificate without requiring it, so `optional` serves as `none` here (no certificate is asked for).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from ..errors import SpecError

__all__ = ["CLIENT_AUTH_VALUES", "TlsConfig", "TlsConfigError", "load_tls_config"]

log = logging.getLogger(__name__)

CLIENT_AUTH_VALUES = ("NONE", "OPTIONAL", "REQUIRE")
_MAX_PEM_BYTES = 1024 * 1024
_CERT, _KEY, _CA = "MMEMU_TLS_CERT_FILE (tls.crt)", "MMEMU_TLS_KEY_FILE (tls.key)", "MMEMU_TLS_CA_FILE (ca.crt)"


class TlsConfigError(SpecError):
    """The TLS files or settings cannot serve: the message names the file or setting and the cause."""


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    cert_pem: bytes
    key_pem: bytes
    trust_pem: bytes | None
    """Roots client certificates must chain to (tls.crt, then ca.crt, as MM_TLS_TRUST_CERT_PATH); None: no client
    certificate is asked for."""
    client_auth: str
    """NONE, OPTIONAL or REQUIRE."""

    @property
    def require_client_auth(self) -> bool:
        return self.client_auth == "REQUIRE"


def _read(path: Path, setting: str, what: str) -> bytes:
    try:
        if path.stat().st_size > _MAX_PEM_BYTES:
            raise TlsConfigError(f"{setting}: {path} is over {_MAX_PEM_BYTES} bytes: not a PEM {what}")
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsConfigError(f"{setting}: {what} file {path} does not exist") from None
    except OSError as exc:
        raise TlsConfigError(f"{setting}: cannot read {what} file {path}: {exc.strerror or exc}") from None


def _certificates(pem: bytes, path: Path, setting: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise TlsConfigError(f"{setting}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    now = datetime.datetime.now(datetime.UTC)
    for certificate in certificates:
        subject = certificate.subject.rfc4514_string() or "(empty subject)"
        if certificate.not_valid_after_utc < now:
            raise TlsConfigError(f"{setting}: certificate {subject!r} in {path} expired at "
                                 f"{certificate.not_valid_after_utc.isoformat()}")
        if certificate.not_valid_before_utc > now:
            raise TlsConfigError(f"{setting}: certificate {subject!r} in {path} is not valid before "
                                 f"{certificate.not_valid_before_utc.isoformat()}")
    return certificates


def _check_key(key_pem: bytes, path: Path, certificate: x509.Certificate) -> None:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TlsConfigError(f"{_KEY}: private key {path} is encrypted; ModelMesh's tls.key must not be "
                             "(decrypt it: openssl pkcs8 -topk8 -nocrypt -in KEY -out tls.key)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsConfigError(f"{_KEY}: {path} holds no PEM private key") from None
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    if public != expected:
        raise TlsConfigError(f"{_KEY}: private key {path} does not match the certificate in {_CERT}")
    if b"-----BEGIN PRIVATE KEY-----" not in key_pem:
        log.warning(_KEY + ": %s is not PKCS#8 (-----BEGIN PRIVATE KEY-----): the emulator accepts it, "
                    "ModelMesh (netty) refuses it; convert it: openssl pkcs8 -topk8 -nocrypt -in %s -out tls.key",
                    path, path)


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    return [*extension.get_values_for_type(x509.DNSName),
            *(str(address) for address in extension.get_values_for_type(x509.IPAddress))]


def _check_names(certificate: x509.Certificate, path: Path, host: str) -> None:
    """Warn when clients on this machine cannot verify the certificate for the name they dial."""
    names = _names(certificate)
    wanted = ["localhost", "127.0.0.1"]
    try:
        if not ipaddress.ip_address(host).is_unspecified:
            wanted.append(host)
    except ValueError:
        wanted.append(host)
    missing = [name for name in dict.fromkeys(wanted) if name not in names]
    if missing:
        log.warning(_CERT + ": certificate %s has subject alternative names %s, none for %s: clients that "
                    "verify it will refuse the connection (x509: certificate is not valid for ...); make one with "
                    "`modelmesh-emulator tls init`", path, names or "(none)", ", ".join(missing))


def load_tls_config(cert_file: Path | None, key_file: Path | None, ca_file: Path | None, client_auth: str,
                    host: str) -> TlsConfig | None:
    """The TLS configuration from the settings, or None when TLS is off (no certificate file set)."""
    client_auth = client_auth.strip().upper() or "NONE"
    if client_auth not in CLIENT_AUTH_VALUES:
        raise TlsConfigError(f"MMEMU_TLS_CLIENT_AUTH (tls.clientAuth): invalid value {client_auth!r}, must be one of "
                             f"{', '.join(CLIENT_AUTH_VALUES)} (any case)")
    if cert_file is None and key_file is None:
        if client_auth != "NONE" or ca_file is not None:
            raise TlsConfigError(f"TLS client-auth set to {client_auth} without other required TLS config "
                                 f"({_CERT} and {_KEY})")
        return None
    if cert_file is None or key_file is None:
        missing = _CERT if cert_file is None else _KEY
        raise TlsConfigError(f"TLS secret is missing tls.crt and/or tls.key: {missing} is not set")
    cert_pem = _read(cert_file, _CERT, "certificate")
    key_pem = _read(key_file, _KEY, "private key")
    certificates = _certificates(cert_pem, cert_file, _CERT)
    _check_key(key_pem, key_file, certificates[0])
    _check_names(certificates[0], cert_file, host)
    trust_pem = None
    if client_auth == "REQUIRE":
        trust_pem = cert_pem
        if ca_file is not None:
            ca_pem = _read(ca_file, _CA, "CA certificate")
            _certificates(ca_pem, ca_file, _CA)
            trust_pem = cert_pem.rstrip(b"\n") + b"\n" + ca_pem
    return TlsConfig(cert_file, key_file, cert_pem, key_pem, trust_pem, client_auth)
