"""HTTP client of the management API, for the CLI: Kubernetes `Status` errors become `CommandError`s."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import httpx

from ..kube.kubeconfig import KubeconfigError, default_kubeconfig_path, read_kubeconfig
from ..kube.resources import Resource
from ..settings import Settings
from .tables import TABLE_MEDIA_TYPE

__all__ = ["SERVER_ENV", "ApiClient", "CommandError", "UsageError", "connect", "default_server"]

SERVER_ENV = "MMEMU_SERVER"


class CommandError(Exception):
    """What the CLI prints as `error: <message>` before exiting with status 1."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason


class UsageError(CommandError):
    """Arguments that make no sense together: exit status 2, like argparse's own errors."""


def default_server() -> str:
    """$MMEMU_SERVER, else the API address the emulator's own settings (MMEMU_API_HOST/PORT) give it."""
    configured = os.environ.get(SERVER_ENV)
    if configured:
        return configured
    settings = Settings()
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"https://{host}:{settings.api_port}"


def _kubeconfig_path() -> Path:
    return Settings().kubeconfig or default_kubeconfig_path()


def connect(server: str | None) -> ApiClient:
    """A client of `server` (else $MMEMU_SERVER, else the kubeconfig's) with the token in the kubeconfig that
    `serve` wrote ($MMEMU_KUBECONFIG, else ~/.modelmesh-emulator/kubeconfig)."""
    path = _kubeconfig_path()
    try:
        credentials = read_kubeconfig(path)
    except KubeconfigError as exc:
        return ApiClient(server or default_server(), token=None, kubeconfig_problem=str(exc))
    given = server or os.environ.get(SERVER_ENV)
    return ApiClient(given or credentials.server, token=credentials.token, verify=credentials.ssl_context(),
                     kubeconfig_problem=None if given is None or given.rstrip("/") == credentials.server.rstrip("/")
                     else f"{path} is for {credentials.server}, not {given}")


def _error(response: httpx.Response) -> CommandError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return CommandError(str(body["message"]), body.get("reason"))
    return CommandError(f"the server answered {response.status_code} {response.reason_phrase}")


class ApiClient:
    def __init__(self, server: str, *, token: str | None = None, verify: ssl.SSLContext | bool = True,
                 kubeconfig_problem: str | None = None, timeout_s: float = 60.0):
        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.server, timeout=timeout_s, headers=headers, verify=verify)
        self._kubeconfig_problem = kubeconfig_problem
        self._info: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """Any request; CommandError when the server cannot be reached or answers with an error."""
        try:
            response = self._http.request(method, url, **options)
        except httpx.ConnectError:
            raise CommandError(f"cannot reach the emulator at {self.server}: is `modelmesh-emulator serve` "
                               f"running? (--server / {SERVER_ENV})") from None
        except httpx.HTTPError as exc:
            raise CommandError(f"request to {self.server} failed: {exc}") from None
        if response.status_code == 401:
            why = self._kubeconfig_problem or "its token is not this emulator's: is the emulator there the one " \
                                              "that wrote it?"
            raise CommandError(f"the emulator at {self.server} refused the request (Unauthorized): {why}",
                               "Unauthorized")
        if response.is_error:
            raise _error(response)
        return response

    def json(self, method: str, url: str, **options: Any) -> dict[str, Any]:
        return self.request(method, url, **options).json()

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.json("GET", "/emulator/v1/info")
        return self._info

    def namespace(self, given: str | None) -> str:
        """The namespace a command acts in: `-n`, else the emulator's default (modelmesh-serving)."""
        return given or str(self.info()["namespace"])

    def get(self, resource: Resource, name: str | None, namespace: str | None, *, as_table: bool = False
            ) -> dict[str, Any]:
        """One object (name) or a list; namespace None lists every namespace."""
        path = resource.object_path(name, namespace) if name else resource.collection_path(namespace)
        headers = {"Accept": TABLE_MEDIA_TYPE} if as_table else {}
        return self.json("GET", path, headers=headers)

    def manifests(self, action: str, text: str, source: str, namespace: str | None, path: str | None = None
                  ) -> list[dict[str, Any]]:
        """POST a YAML text to /emulator/v1/apply or /delete; one outcome per object.

        `source` names the text in messages; `path` is the file's absolute path (relative paths in manifests
        resolve against its directory).
        """
        options = {"namespace": namespace, "path": path}
        params = {"source": source} | {key: value for key, value in options.items() if value}
        body = self.json("POST", f"/emulator/v1/{action}", content=text.encode("utf-8"), params=params,
                         headers={"Content-Type": "application/yaml"})
        return list(body["items"])

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
