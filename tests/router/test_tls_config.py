"""The TLS settings' errors name the setting and what is wrong; the REST side reaches a TLS 8033 only when
upstream's rest-proxy would (system roots unless skipVerify, never under clientAuth require)."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from emulator.control.tls_files import make_tls_files
from emulator.launchers.ports import free_port
from emulator.router.grpc.server import start_grpc_server
from emulator.router.rest.proxy_link import rest_proxy_refusal
from emulator.router.tls_config import TlsConfigError, load_tls_config


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tls_files(tmp_path_factory.mktemp("certs"), namespace="modelmesh-serving", extra_names=[],
                          days=1).directory


def _load(certs: Path, cert: str = "tls.crt", key: str = "tls.key", client_auth: str = "") -> object:
    return load_tls_config(certs / cert, certs / key, certs / "ca.crt", client_auth, "127.0.0.1")


def test_good_files_load_and_require_trusts_the_server_certificate_and_the_ca(certs: Path) -> None:
    tls = _load(certs, client_auth="Require")

    assert tls.require_client_auth
    assert tls.trust_pem.count(b"BEGIN CERTIFICATE") == 2


def test_missing_key_file_is_named(certs: Path) -> None:
    with pytest.raises(TlsConfigError,
                       match=r"MMEMU_TLS_KEY_FILE \(tls.key\): private key file .*/nope.key does not exist"):
        _load(certs, key="nope.key")


def test_key_of_another_certificate_is_refused(certs: Path) -> None:
    with pytest.raises(TlsConfigError,
                       match=r"MMEMU_TLS_KEY_FILE \(tls.key\): private key .*client.key does not match the "
                             r"certificate in MMEMU_TLS_CERT_FILE"):
        _load(certs, key="client.key")


def test_only_a_key_set_says_tls_crt_is_missing(certs: Path) -> None:
    with pytest.raises(TlsConfigError,
                       match=r"missing tls.crt and/or tls.key: MMEMU_TLS_CERT_FILE \(tls.crt\) is not set"):
        load_tls_config(None, certs / "tls.key", None, "", "127.0.0.1")


def test_client_auth_without_certificates_is_modelmeshs_error() -> None:
    with pytest.raises(TlsConfigError, match="TLS client-auth set to REQUIRE without other required TLS config"):
        load_tls_config(None, None, None, "require", "127.0.0.1")


def test_unknown_client_auth_lists_the_values(certs: Path) -> None:
    with pytest.raises(TlsConfigError,
                       match=r"MMEMU_TLS_CLIENT_AUTH \(tls.clientAuth\): invalid value 'WANT', must be one of "
                             r"NONE, OPTIONAL, REQUIRE"):
        _load(certs, client_auth="want")


def _self_signed(directory: Path, *, expired: bool, pkcs1: bool, names: list[str]) -> tuple[Path, Path]:
    key = rsa.generate_private_key(65537, 2048) if pkcs1 else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    end = now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(now - datetime.timedelta(days=2)).not_valid_after(end))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    cert = builder.sign(key, hashes.SHA256())
    key_format = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, key_format, serialization.NoEncryption()))
    return cert_file, key_file


def test_expired_certificate_is_refused(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, expired=True, pkcs1=False, names=["localhost"])

    with pytest.raises(TlsConfigError,
                       match=r"MMEMU_TLS_CERT_FILE \(tls.crt\): certificate 'CN=test' in .*tls.crt expired at"):
        load_tls_config(cert, key, None, "", "127.0.0.1")


def test_pkcs1_key_and_wrong_names_are_served_with_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert, key = _self_signed(tmp_path, expired=False, pkcs1=True, names=["modelmesh-serving.test"])

    with caplog.at_level(logging.WARNING):
        assert load_tls_config(cert, key, None, "", "127.0.0.1") is not None

    assert "is not PKCS#8 (-----BEGIN PRIVATE KEY-----): the emulator accepts it, ModelMesh (netty) refuses it" in (
        caplog.text)
    assert "['modelmesh-serving.test'], none for localhost, 127.0.0.1" in caplog.text


async def test_rest_proxy_reaches_a_tls_port_only_as_upstream_would(certs: Path) -> None:
    tls = _load(certs)
    server, port = await start_grpc_server(None, "127.0.0.1", free_port(), -1, tls=tls)  # type: ignore[arg-type]
    try:
        verified = await rest_proxy_refusal(tls, "127.0.0.1", port, skip_verify=False)
        skipped = await rest_proxy_refusal(tls, "127.0.0.1", port, skip_verify=True)
    finally:
        await server.stop(None)

    assert verified == ('connection error: desc = "transport: authentication handshake failed: tls: failed to '
                        'verify certificate: x509: certificate signed by unknown authority"')
    assert skipped is None
