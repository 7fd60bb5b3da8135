"""The `model-serving-config` ConfigMap's `config.yaml`: ModelMesh Serving's user configuration, mapped onto the
emulator's settings (modelmesh-reference-2 §3).

Keys are case-insensitive and nested keys are joined with `::`, as the controller's viper reads them. A key the
emulator can change while it runs overrides its `MMEMU_*` default at once; a key fixed when the emulator starts
(ports, message size…) is reported with the variable to set instead; keys about images, resources and Kubernetes
objects have no meaning on one machine; unknown keys are warned about. A setting given explicitly (an `MMEMU_*`
variable or a `serve` flag) wins over the ConfigMap, and deleting the ConfigMap restores the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import SpecError
from .settings import Settings
from .spec.bounded_yaml import yaml_documents

__all__ = ["CONFIGMAP_NAME", "CONFIG_KEY", "ServingConfig", "parse_serving_config"]

CONFIGMAP_NAME = "model-serving-config"
CONFIG_KEY = "config.yaml"
_MAX_BYTES = 256 * 1024


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a number of seconds, at least 0")
    return float(value)


_LIVE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "podsperruntime": ("pods_per_runtime", _count),
    "scaletozero::enabled": ("scale_to_zero_enabled", _flag),
    "scaletozero::graceperiodseconds": ("scale_to_zero_grace_s", _seconds),
}
_ENV_VARS: dict[str, tuple[str, Callable[[Any], Any]]] = {  # internalModelMeshEnvVars the emulator has
    "MM_LOAD_FAILURE_EXPIRY_TIME_MS": ("load_failure_expiry_s", lambda v: _seconds(float(v)) / 1000),
}
_AT_START = {
    "grpcmaxmessagesizebytes": "MMEMU_GRPC_MAX_MESSAGE_SIZE", "builtinservertypes": "MMEMU_BUILT_IN_SERVER_TYPES",
    "restproxy::enabled": "MMEMU_REST_PROXY_ENABLED", "restproxy::port": "MMEMU_REST_PORT",
    "metrics::enabled": "MMEMU_METRICS_ENABLED", "metrics::port": "MMEMU_METRICS_PORT",
    "inferenceserviceport": "MMEMU_GRPC_PORT", "storagesecretname": "MMEMU_STORAGE_SECRET_NAME",
    "allowanypvc": "MMEMU_ALLOW_ANY_PVC",
    "tls::secretname":
        "MMEMU_TLS_CERT_FILE, MMEMU_TLS_KEY_FILE and MMEMU_TLS_CA_FILE (the Secret's files; docs/tls.md)",
    "tls::clientauth": "MMEMU_TLS_CLIENT_AUTH", "restproxy::skipverify": "MMEMU_REST_PROXY_SKIP_VERIFY",
    "payloadprocessors": "MMEMU_PAYLOAD_PROCESSORS",
}
_NO_EFFECT = ("inferenceservicename", "headlessservice", "modelmeshimage", "modelmeshresources", "restproxy::image",
              "restproxy::resources", "storagehelperimage", "storagehelperresources",
              "serviceaccountname", "imagepullsecrets", "runtimepodlabels", "runtimepodannotations",
              "modelmeshendpoint", "etcdsecretname", "metrics::scheme", "metrics::disableprometheusoperatorsupport",
              "enableaccesslogging")


@dataclass
class ServingConfig:
    """What a `config.yaml` sets: settings to change now, and a note for every key it does not apply."""

    settings: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, Any] = field(default_factory=dict)
    """The ConfigMap's keys that changed a setting, as written."""
    warnings: list[str] = field(default_factory=list)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            name = f"{prefix}::{key}" if prefix else str(key)
            if name.lower() in _LIVE or name.lower() in _AT_START or name.lower() in _NO_EFFECT:
                flat[name] = item
            else:
                flat.update(_flatten(item, name))
        return flat
    return {prefix: value}


def parse_serving_config(text: str, explicit: set[str] = frozenset()) -> ServingConfig:  # type: ignore[assignment]
    """`config.yaml`'s text; `explicit` the settings given as `MMEMU_*` variables or flags (they win). SpecError
    naming the key and the cause when a value is wrong."""
    source = f"ConfigMap {CONFIGMAP_NAME}, key {CONFIG_KEY}"
    if len(text.encode()) > _MAX_BYTES:
        raise SpecError(f"{source}: larger than {_MAX_BYTES} bytes")
    try:  # the manifests' bounded reader: no aliases, bounded nesting
        documents = list(yaml_documents(text))
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not YAML: {exc}") from None
    if len(documents) > 1:
        raise SpecError(f"{source}: expected one YAML document, found {len(documents)}")
    raw = (documents[0] if documents else None) or {}
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: expected a mapping of settings")
    config = ServingConfig()
    for key, value in _flatten(raw).items():
        lowered = key.lower()
        if lowered == "internalmodelmeshenvvars":
            _env_vars(config, value, source, explicit)
        elif lowered in _LIVE:
            name, convert = _LIVE[lowered]
            try:
                converted = convert(value)
            except ValueError as exc:
                raise SpecError(f"{source}: {key} {exc} (got {value!r})") from None
            _set(config, key, name, converted, value, explicit)
        elif lowered in _AT_START:
            config.warnings.append(f"{key} is fixed when the emulator starts: set {_AT_START[lowered]} instead")
        elif any(lowered == k or lowered.startswith(f"{k}::") for k in _NO_EFFECT):
            config.warnings.append(f"{key} has no effect in the emulator (one machine, no images or Kubernetes "
                                   "objects of its own)")
        else:
            config.warnings.append(f"unknown key {key} ignored")
    return config


def _set(config: ServingConfig, key: str, name: str, converted: Any, value: Any, explicit: set[str]) -> None:
    if name in explicit:
        config.warnings.append(f"{key} not applied: MMEMU_{name.upper()} (or its serve flag) is set and wins")
        return
    config.settings[name] = converted
    config.applied[key] = value


def _env_vars(config: ServingConfig, value: Any, source: str, explicit: set[str]) -> None:
    if not isinstance(value, list):
        raise SpecError(f"{source}: internalModelMeshEnvVars must be a list of {{name, value}}")
    for entry in value:
        if not isinstance(entry, dict) or "name" not in entry:
            raise SpecError(f"{source}: internalModelMeshEnvVars entries need a name and a value, got {entry!r}")
        known = _ENV_VARS.get(str(entry["name"]))
        if known is None:
            config.warnings.append(f"internalModelMeshEnvVars {entry['name']} has no counterpart in the emulator")
            continue
        try:
            converted = known[1](entry.get("value"))
        except (TypeError, ValueError):
            raise SpecError(f"{source}: internalModelMeshEnvVars {entry['name']} must be a number of "
                            f"milliseconds, got {entry.get('value')!r}") from None
        _set(config, f"internalModelMeshEnvVars {entry['name']}", known[0], converted, entry.get("value"), explicit)


def explicit_settings(settings: Settings) -> set[str]:
    return set(settings.model_fields_set)
