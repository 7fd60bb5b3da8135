"""The management API's serving certificate: self-signed, made at each start for 127.0.0.1, localhost and ::1
(plus the bound address), its PEM put into the kubeconfig as `certificate-authority-data`.

TLS is not optional: kubectl (client-go's clientcmd) sends a kubeconfig's token only over TLS.
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

__all__ = ["ServingCertificate", "make_serving_certificate"]


@dataclass(frozen=True)
class ServingCertificate:
    cert_pem: str
    cert_file: Path
    key_file: Path


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host:
            names.append(x509.DNSName(host))
        return names
    if not address.is_unspecified and x509.IPAddress(address) not in names:
        names.append(x509.IPAddress(address))
    return names


def make_serving_certificate(directory: Path, host: str) -> ServingCertificate:
    """A new key and self-signed certificate in `directory` (key file mode 0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelmesh-emulator management API")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, key_encipherment=False,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file, cert_file = directory / "api-key.pem", directory / "api-cert.pem"
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    cert_file.write_text(cert_pem, encoding="ascii")
    return ServingCertificate(cert_pem, cert_file, key_file)
