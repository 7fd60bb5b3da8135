"""`config.yaml` of the model-serving-config ConfigMap mapped onto the emulator's settings."""

from __future__ import annotations

import pytest

from emulator.errors import SpecError
from emulator.serving_config import parse_serving_config


def test_keys_the_emulator_can_change_now_become_settings_case_insensitively() -> None:
    config = parse_serving_config(
        "PodsPerRuntime: 2\nscaleToZero: {Enabled: false, gracePeriodSeconds: 5}\n"
        "internalModelMeshEnvVars:\n- {name: MM_LOAD_FAILURE_EXPIRY_TIME_MS, value: '60000'}\n")

    assert config.settings == {"pods_per_runtime": 2, "scale_to_zero_enabled": False, "scale_to_zero_grace_s": 5.0,
                               "load_failure_expiry_s": 60.0}
    assert config.warnings == []


def test_other_keys_are_reported_not_applied() -> None:
    config = parse_serving_config("grpcMaxMessageSizeBytes: 33554432\nmodelMeshImage: {name: x, tag: y}\n"
                                  "restProxy: {enabled: false, image: {name: z}}\nfoo: {bar: 1}\n"
                                  "internalModelMeshEnvVars: [{name: SOMETHING_ELSE, value: '1'}]\n")

    assert config.settings == {}
    assert config.warnings == [
        "grpcMaxMessageSizeBytes is fixed when the emulator starts: set MMEMU_GRPC_MAX_MESSAGE_SIZE instead",
        "modelMeshImage has no effect in the emulator (one machine, no images or Kubernetes objects of its own)",
        "restProxy::enabled is fixed when the emulator starts: set MMEMU_REST_PROXY_ENABLED instead",
        "restProxy::image has no effect in the emulator (one machine, no images or Kubernetes objects of its own)",
        "unknown key foo::bar ignored",
        "internalModelMeshEnvVars SOMETHING_ELSE has no counterpart in the emulator",
    ]


def test_a_setting_given_explicitly_wins_over_the_configmap() -> None:
    config = parse_serving_config("podsPerRuntime: 3\nscaleToZero: {enabled: false}\n", {"pods_per_runtime"})

    assert config.settings == {"scale_to_zero_enabled": False}
    assert config.warnings == ["podsPerRuntime not applied: MMEMU_PODS_PER_RUNTIME (or its serve flag) is set and wins"]


@pytest.mark.parametrize(("text", "message"), [
    ("podsPerRuntime: 0", "podsPerRuntime must be a whole number of at least 1 (got 0)"),
    ("scaleToZero: {enabled: 'no'}", "scaleToZero::enabled must be true or false (got 'no')"),
    ("- a list", "expected a mapping of settings"),
    ("a: [", "not YAML"),
    ("internalModelMeshEnvVars: [{name: MM_LOAD_FAILURE_EXPIRY_TIME_MS, value: soon}]", "must be a number of milli"),
])
def test_a_bad_value_names_the_key_and_the_cause(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_serving_config(text)
    assert "ConfigMap model-serving-config, key config.yaml" in str(caught.value) and message in str(caught.value)


def test_tls_and_payload_processor_keys_name_the_settings_that_configure_them() -> None:
    config = parse_serving_config("tls: {secretName: mm-tls, clientAuth: require}\nrestProxy: {skipVerify: true}\n"
                                  "payloadProcessors: [http://127.0.0.1:9999/sink]\n")

    assert config.settings == {}
    assert config.warnings == [
        "tls::secretName is fixed when the emulator starts: set MMEMU_TLS_CERT_FILE, MMEMU_TLS_KEY_FILE and "
        "MMEMU_TLS_CA_FILE (the Secret's files; docs/tls.md) instead",
        "tls::clientAuth is fixed when the emulator starts: set MMEMU_TLS_CLIENT_AUTH instead",
        "restProxy::skipVerify is fixed when the emulator starts: set MMEMU_REST_PROXY_SKIP_VERIFY instead",
        "payloadProcessors is fixed when the emulator starts: set MMEMU_PAYLOAD_PROCESSORS instead",
    ]


def test_config_yaml_with_an_alias_is_refused_as_manifests_are() -> None:
    bomb = "a: &a {x: 1, y: 1}\nb: &b {p: *a, q: *a}\npodsPerRuntime: 1\n"

    with pytest.raises(SpecError, match="YAML aliases are not allowed"):
        parse_serving_config(bomb)
