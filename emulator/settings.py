"""Emulator settings: environment variables with prefix MMEMU_, defaults as ModelMesh's."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .spec.runtime import BUILT_IN_SERVER_TYPES

__all__ = ["Settings"]


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "modelmesh-emulator"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MMEMU_", extra="ignore")

    host: str = "127.0.0.1"
    """Address the gRPC and REST routers bind to."""

    grpc_port: int = 8033
    """KServe V2 gRPC inference port (ModelMesh `inferenceServicePort`)."""

    rest_port: int = 8008
    """KServe V2 REST port (ModelMesh's rest-proxy `REST_PROXY_LISTEN_PORT`); 0 picks a free port."""

    rest_proxy_enabled: bool = True
    """Serve REST on `rest_port` and advertise `pv:v2` for runtimes listing `grpc-v2` (`restProxy.enabled`)."""

    tls_cert_file: Path | None = None
    """Serving certificate (PEM, chain allowed) of 8033 and 8008: the `tls.crt` of the Secret `tls.secretName` names
    (MM_TLS_KEY_CERT_PATH). Set with `tls_key_file` to serve TLS; `modelmesh-emulator tls init` makes a pair."""

    tls_key_file: Path | None = None
    """Its private key, unencrypted PEM: the Secret's `tls.key` (MM_TLS_PRIVATE_KEY_PATH). ModelMesh needs PKCS#8
    (`BEGIN PRIVATE KEY`); the emulator also takes PKCS#1/SEC1 keys, with a warning."""

    tls_ca_file: Path | None = None
    """CA certificate(s) client certificates may chain to besides `tls_cert_file`: the Secret's `ca.crt`
    (MM_TLS_TRUST_CERT_PATH is `tls.crt,ca.crt`). Used with `tls_client_auth` require."""

    tls_client_auth: str = ""
    """`tls.clientAuth` (MM_TLS_CLIENT_AUTH): `require` refuses gRPC clients without a certificate chaining to
    `tls_cert_file`/`tls_ca_file`; `optional` and `none` (or empty) ask for none (grpcio cannot ask without
    requiring). REST (8008) never checks client certificates, as ModelMesh's rest-proxy."""

    rest_proxy_skip_verify: bool = False
    """`restProxy.skipVerify` (REST_PROXY_SKIP_VERIFY): with TLS, whether the REST side skips verifying 8033's
    certificate. False (upstream's default) makes REST fail (503) unless the system trusts the certificate for
    `localhost`, as ModelMesh's rest-proxy does; with `tls_client_auth` require REST always fails, as upstream."""

    payload_processors: str = ""
    """`payloadProcessors`, space-separated as MM_PAYLOAD_PROCESSORS: `logger://` and `http://` URIs (query: model id
    filter, fragment: method filter) receiving a record of each inference request and response. `https://` is the
    emulator's addition (ModelMesh skips it)."""

    payload_processors_capacity: int = Field(64, ge=1)
    """Records waiting for the payload processors (MM_PAYLOAD_PROCESSORS_CAPACITY); more are dropped and counted."""

    payload_processors_threads: int = Field(2, ge=1, le=64)
    """Records sent at a time (MM_PAYLOAD_PROCESSORS_THREADS)."""

    payload_decoded_json: bool = False
    """The emulator's addition: records of KServe V2 messages also carry `decodedJson`, the tensors as V2 JSON."""

    namespace: str = "modelmesh-serving"
    """Namespace given to objects whose manifest names none."""

    launcher: Literal["auto", "process", "docker"] = "auto"
    """How runtime instances run: `docker` (one container per instance, docs/docker.md), `process` (local
    `mlserver` subprocesses, MLServer runtimes only) or `auto` (docker when a Docker daemon answers, else process)."""

    cache_dir: Path = Field(default_factory=_default_cache_dir)
    """Working directory: each emulator run keeps its runtime instances' `/models` dirs and logs under it."""

    local_s3_root: Path = Path("sample_models/bucket")
    """Stands in for S3 when a storage-config `s3` entry has no reachable endpoint: `<root>/<bucket>/<key>`."""

    pvc_root: Path = Path("pvcs")
    """Host directory holding one sub-directory per PersistentVolumeClaim name (`pvc` storage)."""

    storage_secret_name: str = "storage-config"
    """Name of the Secret whose keys are storage entries (`storageSecretName`)."""

    load_on_apply: bool = True
    """Load a model as soon as it is applied, as ModelMesh's `loadNow`; False loads on first request only."""

    runtime_startup_timeout_s: float = 180.0
    """How long a runtime instance may take to become ready (`MODEL_SERVICE_STARTUP_TIMEOUT_SECS`); a runtime
    without builtInAdapter must answer `runtimeStatus` READY within it ("Model server container did not start
    after N seconds")."""

    runtime_stop_grace_s: float = 90.0
    """Grace period between SIGTERM and kill when stopping a runtime (`terminationGracePeriodSeconds`)."""

    grpc_max_message_size: int = 16777216
    """Largest gRPC message accepted on 8033 and made from a REST request on 8008 (`grpcMaxMessageSizeBytes`;
    429 beyond, as ModelMesh); REST request bodies are bounded at 4 times it (413 beyond, the emulator's own)."""

    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    """Event loop of `serve`: `auto` is uvloop when installed and gRPC's fork support is off
    (GRPC_ENABLE_FORK_SUPPORT=false), else the standard library's `asyncio` (docs/benchmarks.md)."""

    built_in_server_types: list[str] = list(BUILT_IN_SERVER_TYPES)
    """Accepted `builtInAdapter.serverType` values (`builtInServerTypes`)."""

    load_failure_expiry_s: float = Field(900.0, gt=0)
    """How long a failed load's record stands (`MM_LOAD_FAILURE_EXPIRY_TIME_MS`); half as long for a model requested
    in the last 3 minutes. Until then requests get the failure; then the janitor retries the load in the background."""

    failure_janitor_interval_s: float = Field(360.0, gt=0)
    """How often the janitor clears expired failure records and retries those loads (`tas.janitor_freq_secs`)."""

    s3_endpoint: str | None = None
    """S3/MinIO endpoint (`http://localhost:9000`) for `s3` storage entries with no `endpoint_url`, such as the
    embedded `localMinIO`; unset, those entries read `local_s3_root` instead."""

    s3_access_key_id: str = "AKIAIOSFODNN7EXAMPLE"
    """Access key for `s3_endpoint` when the entry has none (default: the quickstart MinIO's)."""

    s3_secret_access_key: SecretStr = SecretStr("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    """Secret key for `s3_endpoint` when the entry has none (default: the quickstart MinIO's)."""

    storage_retries: int = 3
    """Retries after a transient storage error (connection refused, timeout, HTTP 429/500/502/503/504)."""

    storage_retry_backoff_s: float = 0.5
    """Wait before the first retry; it doubles for each further retry, up to 8 s."""

    allow_any_pvc: bool = False
    """Let models use any PersistentVolumeClaim under `pvc_root`, not only those named by `pvc` storage
    entries (`allowAnyPVC`)."""

    pods_per_runtime: int = 1
    """Runtime instances per ServingRuntime unless its `replicas` says otherwise (`podsPerRuntime`; upstream 2)."""

    min_churn_age_s: float | None = None
    """A full instance refuses to load a model while its LRU model was used more recently than this
    ("Cache churn threshold exceeded"); default ModelMesh's 10 x max(3 s, load timeout / 3); 0 disables."""

    second_copy_min_age_s: float = 420.0
    """A model whose previous use was between this and `second_copy_max_age_s` ago gets a second copy on
    another instance (`mm.min_second_copy_age_secs`)."""

    second_copy_max_age_s: float = 2400.0
    """See `second_copy_min_age_s` (`mm.max_second_copy_age_secs`)."""

    scale_to_zero_enabled: bool = True
    """Stop a runtime's instances when no InferenceService could use it (`scaleToZero.enabled`)."""

    scale_to_zero_grace_s: float = 60.0
    """How long a runtime stays up after its last InferenceService went away (`scaleToZero.gracePeriodSeconds`)."""

    metrics_enabled: bool = True
    """Serve Prometheus `modelmesh_*` metrics on `metrics_port` (`metrics.enabled`)."""

    metrics_port: int = 2112
    """Port of the `/metrics` endpoint (plain HTTP here; ModelMesh defaults to https)."""

    api_enabled: bool = True
    """Serve the management API that `modelmesh-emulator apply/get/describe/delete/logs/status` talk to."""

    api_host: str = "127.0.0.1"
    """Address the management API binds to. It can change what runs, so keep it on loopback."""

    api_port: int = 8034
    """Management API port; 0 picks a free one. Beside 8033, and not a port of ModelMesh (8033, 8008, 8080,
    8085, 8089, 8090, 2112), its runtimes (8000, 8001, 8002) or a local Kubernetes API (6443, 8443, 8001)."""

    kubeconfig: Path | None = None
    """Kubeconfig holding the management API's address and bearer token (mode 0600), for kubectl and the CLI:
    `serve` writes it, the client commands read it. Unset: `~/.modelmesh-emulator/kubeconfig`."""

    watch: bool = True
    """`serve` re-applies a manifest file when it changes and deletes the objects of one that is removed."""

    max_manifest_bytes: int = Field(default=3 * 1024 * 1024, ge=1)
    """Largest manifest file or management API request body parsed (the Kubernetes API server's 3 MiB); larger
    files are refused unread. YAML aliases and nesting over 100 levels are always refused (docs/cli.md)."""

    image_overrides: dict[str, str] = {
        "seldonio/mlserver:1.3.2": "modelmesh-emulator/mlserver:1.7.1",
        "mlserver-1:replace": "modelmesh-emulator/mlserver:1.7.1",
        "nvcr.io/nvidia/tritonserver:23.04-py3": "modelmesh-emulator/tritonserver:2.51",
    }
    """Docker launcher: runtime images to run as another, local image (JSON object in MMEMU_IMAGE_OVERRIDES;
    setting it replaces these defaults). A replacement is used when present in the daemon, else the image
    itself; neither present is an error naming the image and how to build it (`scripts/build-images.sh`)."""

    image_sources: dict[str, Path] = {}
    """Process launcher: the local source folder of a runtime image (JSON object in MMEMU_IMAGE_SOURCES, e.g.
    `{"custom-mnist-runtime:latest": "runtimes/custom-mnist"}`; relative to serve's working directory), for
    ServingRuntimes applied through the management API, which have no manifest file that a relative
    `modelmesh-emulator/source` annotation could be relative to. The folder found is written into that annotation."""
