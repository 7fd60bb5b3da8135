"""The kubeconfig `serve` writes (mode 0600) so kubectl and the project's CLI reach the API with its token.

One cluster, user and context, all named `modelmesh-emulator`. An existing file is replaced only when it is one
of ours (every context named `modelmesh-emulator`): pointing `--kubeconfig` at ~/.kube/config cannot clobber it.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["CONTEXT", "Credentials", "KubeconfigError", "default_kubeconfig_path", "read_kubeconfig",
           "remove_kubeconfig", "write_kubeconfig"]

CONTEXT = "modelmesh-emulator"


class KubeconfigError(Exception):
    pass


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str
    ca_pem: str | None = None
    """The API's serving certificate (`certificate-authority-data`)."""

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the API against `ca_pem` (the system's roots when there is none)."""
        return ssl.create_default_context(cadata=self.ca_pem) if self.ca_pem else ssl.create_default_context()


def default_kubeconfig_path() -> Path:
    return Path.home() / ".modelmesh-emulator" / "kubeconfig"


def _document(server: str, token: str, ca_pem: str, namespace: str) -> dict:
    authority = base64.b64encode(ca_pem.encode("ascii")).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server, "certificate-authority-data": authority}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def _is_ours(path: Path) -> bool:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    contexts = loaded.get("contexts") if isinstance(loaded, dict) else None
    return isinstance(contexts, list) and bool(contexts) and all(
        isinstance(c, dict) and c.get("name") == CONTEXT for c in contexts)


def write_kubeconfig(path: Path, *, server: str, token: str, ca_pem: str, namespace: str) -> None:
    """Write atomically with mode 0600 (its directory created 0700); KubeconfigError if `path` holds another's."""
    path = path.expanduser()
    if path.exists() and (not path.is_file() or not _is_ours(path)):
        raise KubeconfigError(f"{path} exists and is not a kubeconfig written by modelmesh-emulator (its contexts "
                              f"are not all named {CONTEXT!r}); choose another path with --kubeconfig or "
                              "MMEMU_KUBECONFIG")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = yaml.safe_dump(_document(server, token, ca_pem, namespace), sort_keys=False)
    fd, temporary = tempfile.mkstemp(prefix=".kubeconfig-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


def remove_kubeconfig(path: Path, token: str) -> None:
    """Remove the file if it still holds `token` (another emulator may have written it since)."""
    path = path.expanduser()
    try:
        if read_kubeconfig(path).token == token:
            path.unlink()
    except (KubeconfigError, OSError):
        pass


def read_kubeconfig(path: Path) -> Credentials:
    """Server and token of the current context; KubeconfigError naming the file when it has none."""
    path = path.expanduser()
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KubeconfigError(f"{path} does not exist: start `modelmesh-emulator serve` (it writes it), or "
                              "give the path it printed with --kubeconfig / MMEMU_KUBECONFIG") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KubeconfigError(f"{path}: cannot read the kubeconfig: {exc}") from None
    try:
        current = loaded["current-context"]
        context = next(c["context"] for c in loaded["contexts"] if c["name"] == current)
        cluster = next(c["cluster"] for c in loaded["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in loaded["users"] if u["name"] == context["user"])
        authority = cluster.get("certificate-authority-data")
        ca_pem = base64.b64decode(authority).decode("ascii") if authority else None
        return Credentials(server=str(cluster["server"]), token=str(user["token"]), ca_pem=ca_pem)
    except (KeyError, TypeError, StopIteration, ValueError):
        raise KubeconfigError(f"{path}: no server and token for its current context") from None
