"""TLS and mutual TLS on 8033 and 8008 with certificates from `modelmesh-emulator tls init`, as a user runs them:
`serve` with the MMEMU_TLS_* settings, then grpcurl and curl. The three TLS cases of modelmesh-serving's FVT
(fvt/predictor/predictor_test.go): basic TLS (clientAuth optional, gRPC + REST), mutual TLS with a client
certificate, mutual TLS without one (refused).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import BIN, Served, serve_process
from tests.v2_client import expected_outputs

pytestmark = pytest.mark.integration

ISVC = "example-sklearn-mnist-svm"
MANIFESTS = ["runtimes/mlserver-1.x.yaml", f"sample_models/{ISVC[len('example-'):]}.yaml"]


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PATH": f"{BIN}:/usr/bin:/bin"})


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls") / "certs"
    result = _run(f"modelmesh-emulator tls init {directory}")
    assert result.returncode == 0, result.stderr
    return directory


def _serve(tmp_path_factory: pytest.TempPathFactory, s3_root: Path, certs: Path, **settings: str) -> Served:
    env = {"MMEMU_TLS_CERT_FILE": str(certs / "tls.crt"), "MMEMU_TLS_KEY_FILE": str(certs / "tls.key"),
           "MMEMU_TLS_CA_FILE": str(certs / "ca.crt"), **settings}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return serve_process(MANIFESTS, cwd=ROOT, cache_dir=tmp_path_factory.mktemp("tls-cache"),
                             extra=("--local-s3-root", str(s3_root)))


@pytest.fixture(scope="module")
def basic_tls(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path, certs: Path) -> Iterator[Served]:
    """The FVT's basic TLS config: clientAuth optional, restProxy.skipVerify true."""
    served = _serve(tmp_path_factory, sample_s3_root, certs, MMEMU_TLS_CLIENT_AUTH="optional",
                    MMEMU_REST_PROXY_SKIP_VERIFY="true")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def mutual_tls(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path, certs: Path) -> Iterator[Served]:
    served = _serve(tmp_path_factory, sample_s3_root, certs, MMEMU_TLS_CLIENT_AUTH="require")
    yield served
    served.stop()


def _grpcurl(port: int, options: str) -> subprocess.CompletedProcess[str]:
    return _run(f"grpcurl {options} -H 'mm-vmodel-id: {ISVC}' -d @ localhost:{port} "
                f"inference.GRPCInferenceService/ModelInfer < sample_models/requests/{ISVC}.grpc.json")


def _assert_predicted(reply: dict, outputs: list) -> None:
    assert reply["model_name"].startswith(f"{ISVC}__isvc-")
    assert outputs == expected_outputs(ISVC)[0]["data"]


def test_grpcurl_with_the_ca_gets_an_inference(basic_tls: Served, certs: Path) -> None:
    result = _grpcurl(basic_tls.grpc_port, f"-cacert {certs / 'ca.crt'}")

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    predict = next(o for o in reply["outputs"] if o["name"] == "predict")
    _assert_predicted(reply, [int(v) for v in predict["contents"]["int64_contents"]])


def test_plaintext_grpc_is_refused(basic_tls: Served) -> None:
    result = _grpcurl(basic_tls.grpc_port, "-plaintext -max-time 10")

    assert result.returncode != 0
    assert ISVC not in result.stdout


def test_grpcurl_without_the_ca_does_not_trust_the_server(basic_tls: Served) -> None:
    result = _grpcurl(basic_tls.grpc_port, "-max-time 10")

    assert result.returncode != 0
    assert "certificate" in result.stderr


def test_curl_with_the_ca_gets_an_inference_over_https(basic_tls: Served, certs: Path) -> None:
    result = _run(f"curl -sS --fail-with-body --cacert {certs / 'ca.crt'} -X POST "
                  f"https://localhost:{basic_tls.rest_port}/v2/models/{ISVC}/infer "
                  f"-d @sample_models/requests/{ISVC}.json")

    assert result.returncode == 0, result.stderr + result.stdout
    reply = json.loads(result.stdout)
    _assert_predicted(reply, reply["outputs"][0]["data"])


def test_plain_http_on_the_rest_port_gets_no_inference(basic_tls: Served) -> None:
    result = _run(f"curl -sS -m 10 -X POST http://localhost:{basic_tls.rest_port}/v2/models/{ISVC}/infer "
                  f"-d @sample_models/requests/{ISVC}.json")

    assert "outputs" not in result.stdout


def test_mutual_tls_serves_a_client_with_a_certificate(mutual_tls: Served, certs: Path) -> None:
    result = _grpcurl(mutual_tls.grpc_port,
                      f"-cacert {certs / 'ca.crt'} -cert {certs / 'client.crt'} -key {certs / 'client.key'}")

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    predict = next(o for o in reply["outputs"] if o["name"] == "predict")
    _assert_predicted(reply, [int(v) for v in predict["contents"]["int64_contents"]])


def test_mutual_tls_accepts_the_server_pair_as_client_certificate(mutual_tls: Served, certs: Path) -> None:
    """The FVT's mutual-TLS client presents the server's own certificate and key."""
    result = _grpcurl(mutual_tls.grpc_port,
                      f"-cacert {certs / 'ca.crt'} -cert {certs / 'tls.crt'} -key {certs / 'tls.key'}")

    assert result.returncode == 0, result.stderr


def test_mutual_tls_refuses_a_client_without_a_certificate(mutual_tls: Served, certs: Path) -> None:
    result = _grpcurl(mutual_tls.grpc_port, f"-cacert {certs / 'ca.crt'} -max-time 10")

    assert result.returncode != 0
    assert ISVC not in result.stdout


def test_rest_under_mutual_tls_fails_as_upstreams_rest_proxy(mutual_tls: Served, certs: Path) -> None:
    """rest-proxy dials 8033 without a client certificate, so under clientAuth require REST answers 503."""
    result = _run(f"curl -sS --cacert {certs / 'ca.crt'} -X POST "
                  f"https://localhost:{mutual_tls.rest_port}/v2/models/{ISVC}/infer "
                  f"-d @sample_models/requests/{ISVC}.json -w '\\n%{{http_code}}'")

    body, _, status = result.stdout.rpartition("\n")
    assert status == "503"
    assert json.loads(body) == {"code": 14, "message": 'connection error: desc = "error reading server preface: '
                                                       'remote error: tls: certificate required"'}


def _cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "modelmesh-emulator"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=served.env)


def test_status_advertises_the_https_rest_url(basic_tls: Served) -> None:
    result = _cli(basic_tls, "get", "isvc", ISVC, "-o", "json")

    assert result.returncode == 0, result.stderr
    predictor = json.loads(result.stdout)["status"]["components"]["predictor"]
    assert predictor["restUrl"] == f"https://127.0.0.1:{basic_tls.rest_port}"


def test_the_infer_command_verifies_with_cacert(basic_tls: Served, certs: Path) -> None:
    request = f"sample_models/requests/{ISVC}.json"
    trusted = _cli(basic_tls, "infer", ISVC, "--json", request, "--cacert", str(certs / "ca.crt"))
    untrusted = _cli(basic_tls, "infer", ISVC, "--json", request)

    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["outputs"][0]["data"] == expected_outputs(ISVC)[0]["data"]
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr and "--cacert" in untrusted.stderr


def test_serve_refuses_a_key_that_is_not_the_certificates(certs: Path, tmp_path: Path) -> None:
    env = os.environ | {"MMEMU_TLS_CERT_FILE": str(certs / "tls.crt"), "MMEMU_TLS_KEY_FILE": str(certs / "client.key"),
                        "MMEMU_API_ENABLED": "false", "MMEMU_METRICS_ENABLED": "false"}

    result = subprocess.run([str(BIN / "modelmesh-emulator"), "serve", "--cache-dir", str(tmp_path), "--grpc-port",
                             "0", "--rest-port", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: MMEMU_TLS_KEY_FILE (tls.key): private key {certs / 'client.key'} does not match the certificate in "
        "MMEMU_TLS_CERT_FILE (tls.crt)")
