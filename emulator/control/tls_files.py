"""A development CA and the certificates `tls.secretName`'s Secret holds, made without openssl or make.

As modelmesh-serving's FVT generator (fvt/tls.go) and docs/configuration/tls.md ask: PEM, private keys PKCS#8
(`BEGIN PRIVATE KEY`, netty refuses others), a server certificate for `modelmesh-serving`,
`modelmesh-serving.<namespace>`, localhost and the loopback addresses, usable as a client certificate too (the FVT's
mutual-TLS client presents the server's own pair). ECDSA P-256 keys instead of the FVT's RSA 4096: as secure, and
made in milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "make_tls_files", "subject_alternative_names"]

_KEY_USAGE = {"content_commitment": False, "data_encipherment": False, "key_agreement": False,
              "encipher_only": False, "decipher_only": False}


@dataclass(frozen=True)
class TlsFiles:
    directory: Path
    names: list[str]

    def path(self, name: str) -> Path:
        return self.directory / name


def subject_alternative_names(namespace: str, extra: list[str]) -> list[str]:
    return list(dict.fromkeys(["modelmesh-serving", f"modelmesh-serving.{namespace}", "localhost", "127.0.0.1",
                               "::1", "0.0.0.0", *extra]))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, days: int, *, ca: bool, names: list[str]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelmesh-emulator"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=ca, crl_sign=ca,
                                     **_KEY_USAGE), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                        critical=False)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                                            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_tls_files(directory: Path, *, namespace: str, extra_names: list[str], days: int,
                   overwrite: bool = False) -> TlsFiles:
    """ca.crt/ca.key, tls.crt/tls.key (server, SANs) and client.crt/client.key (signed by the CA) in `directory`."""
    names = subject_alternative_names(namespace, extra_names)
    outputs = ["ca.crt", "ca.key", "tls.crt", "tls.key", "client.crt", "client.key"]
    existing = [name for name in outputs if (directory / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{directory} already holds {', '.join(existing)}; pass --force to replace them")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelmesh-emulator"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "modelmesh-emulator development CA")])
    ca_cert = _certificate("modelmesh-emulator development CA", ca_key, ca_name, ca_key, days, ca=True, names=[])
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _certificate("modelmesh-serving", server_key, ca_name, ca_key, days, ca=False, names=names)
    client = _certificate("modelmesh-emulator client", client_key, ca_name, ca_key, days, ca=False, names=[])
    pem = serialization.Encoding.PEM
    _write(directory / "ca.crt", ca_cert.public_bytes(pem), private=False)
    _write(directory / "ca.key", _key_pem(ca_key), private=True)
    _write(directory / "tls.crt", server.public_bytes(pem), private=False)
    _write(directory / "tls.key", _key_pem(server_key), private=True)
    _write(directory / "client.crt", client.public_bytes(pem), private=False)
    _write(directory / "client.key", _key_pem(client_key), private=True)
    return TlsFiles(directory, names)
