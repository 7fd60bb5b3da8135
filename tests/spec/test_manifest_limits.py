"""Hostile manifests are refused with an error naming file, document and cause: aliases, deep nesting, size."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from emulator.control.manifests import ManifestSync
from emulator.control.watcher import WatchedFiles
from emulator.errors import InvalidArgumentError, SpecError
from emulator.registry import Registry
from emulator.spec import DEFAULT_MAX_MANIFEST_BYTES, load_file, load_text, parse_document
from tests.conftest import ROOT

RUNTIME_HEAD = """\
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata: {name: rt}
spec:
  containers: [{name: c, image: x}]
"""
# The 865-byte bomb shape: each level lists the previous one nine times, 9**9 strings once expanded.
_BOMB_LEVELS = "".join(f"    {level}: &{level} [{', '.join(['*' + previous] * 9)}]\n"
                       for previous, level in zip("abcdefgh", "bcdefghi", strict=True))
ALIAS_BOMB = (RUNTIME_HEAD + "  volumes:\n  - name: v\n    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
              + _BOMB_LEVELS)

MEMORY_LIMIT = 1 << 30
_LOAD_UNDER_RLIMIT = """
import resource, sys
from emulator.errors import InvalidArgumentError, SpecError
from emulator.spec import load_file
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
try:
    load_file(sys.argv[1])
except SpecError as exc:
    print(exc.message)
else:
    print("loaded")  # a GET or re-apply would then expand it: 9**9 strings
"""


def sync(max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES) -> ManifestSync:
    return ManifestSync(Registry(), built_in_server_types=["mlserver"], storage_secret_name="storage-config",
                        max_manifest_bytes=max_manifest_bytes)


def nested(levels: int) -> str:
    """A runtime whose first volume (two levels: the list and its item) holds lists nested to `levels` in all."""
    inner = levels - 4  # the document, spec, volumes and the volume mapping itself
    return RUNTIME_HEAD + f"  volumes:\n  - name: v\n    deep: {'[' * inner}{']' * inner}\n"


def test_the_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 1024

    # In a child limited to 1 GiB, should loading ever expand aliases.
    result = subprocess.run([sys.executable, "-c", _LOAD_UNDER_RLIMIT.format(limit=MEMORY_LIMIT), str(bomb)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (f"{bomb}, document 0: YAML aliases are not allowed in manifests (*a at line 9, "
                                     "column 12); write the value out in full")


def test_any_alias_is_refused_with_its_document_and_line_but_anchors_alone_are_harmless() -> None:
    text = RUNTIME_HEAD + "---\n" + RUNTIME_HEAD.replace("name: rt", "name: &n rt2") + "  volumes: [{name: *n}]\n"

    with pytest.raises(SpecError) as caught:
        load_text(text, "two.yaml")

    assert caught.value.message.startswith("two.yaml, document 1: YAML aliases are not allowed in manifests "
                                           "(*n at line 12, column 20)")
    assert [obj.name for obj in load_text(RUNTIME_HEAD.replace("name: rt", "name: &n rt"))] == ["rt"]


def test_merge_keys_are_aliases_too() -> None:
    text = RUNTIME_HEAD + "  volumes:\n  - &base {name: a}\n  - <<: *base\n"

    with pytest.raises(SpecError, match=r"YAML aliases are not allowed in manifests \(\*base at line 8"):
        load_text(text)


@pytest.mark.parametrize("levels", [2000, 100_000])
def test_deeply_nested_yaml_is_refused_in_a_file(tmp_path: Path, levels: int) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(nested(levels))

    with pytest.raises(SpecError) as caught:
        load_file(deep)

    assert caught.value.message == (f"{deep}, document 0: mappings and lists are nested more than 100 levels deep "
                                    "(at line 8, column 107)")


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_refused() -> None:
    (runtime,) = load_text(nested(100))
    assert json.dumps(runtime.spec.volumes).count("[") == 100 - 3  # volumes and the lists in the volume

    with pytest.raises(SpecError, match="nested more than 100 levels deep"):
        load_text(nested(101))


def test_deep_block_mappings_are_refused_too() -> None:
    deep = "".join(f"{'  ' * level}k{level}:\n" for level in range(150))

    with pytest.raises(SpecError, match=r"document 0: mappings and lists are nested more than 100 levels deep"):
        load_text(RUNTIME_HEAD + textwrap.indent(deep, "  "))


@pytest.mark.parametrize("levels", [150, 5000, 200_000])
def test_deep_json_bodies_are_refused(levels: int) -> None:
    body = '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "storage-config"}, "x": ' + (
        "[" * levels + "]" * levels + "}")

    with pytest.raises(SpecError) as caught:
        sync().parse_json(body, "request body")

    assert caught.value.message == "request body: mappings and lists are nested more than 100 levels deep"


def test_a_json_body_within_the_bounds_loads_into_the_namespace() -> None:
    body = json.dumps({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
                       "metadata": {"name": "rt"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})

    (runtime,) = sync().parse_json(body, "request body", "team-a")

    assert (runtime.name, runtime.namespace, runtime.spec.containers[0].image) == ("rt", "team-a", "x")


def test_a_body_that_is_not_json_is_a_bad_request_not_an_invalid_object() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sync().parse_json("{oops", "request body")

    assert not isinstance(caught.value, SpecError)
    assert caught.value.message == ("request body is not valid JSON: Expecting property name enclosed in double "
                                    "quotes at line 1 column 2")


@pytest.mark.parametrize("levels", [150, 5000])
def test_deep_json_in_a_storage_config_entry_is_refused(levels: int) -> None:
    entry = '{"type": "s3", "x": ' + "[" * levels + "]" * levels + "}"
    text = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: storage-config}}\nstringData:\n  s3: '{entry}'\n"

    with pytest.raises(SpecError) as caught:
        load_text(text, "secret.yaml")

    assert caught.value.message == ('secret.yaml, document 0: Secret "storage-config": field stringData.s3: storage '
                                    "entry: mappings and lists are nested more than 100 levels deep")


def test_decoded_documents_are_checked_for_depth_without_recursion() -> None:
    raw: object = []
    for _ in range(10_000):
        raw = [raw]

    with pytest.raises(SpecError, match="nested more than 100 levels deep"):
        parse_document({"apiVersion": "v1", "kind": "Secret", "deep": raw}, source="body", document=0)


def test_manifests_over_the_size_limit_are_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(RUNTIME_HEAD + "# " + "x" * DEFAULT_MAX_MANIFEST_BYTES + "\n")
    at_limit = tmp_path / "at-limit.yaml"
    at_limit.write_text(RUNTIME_HEAD + "#" * (DEFAULT_MAX_MANIFEST_BYTES - len(RUNTIME_HEAD) - 1) + "\n")

    with pytest.raises(SpecError) as caught:
        load_file(big)

    assert caught.value.message == (f"{big}: manifest is larger than the limit of 3145728 bytes; the setting "
                                    "max_manifest_bytes (MMEMU_MAX_MANIFEST_BYTES) sets it")
    assert [obj.name for obj in load_file(at_limit)] == ["rt"]


def test_the_size_limit_is_a_setting_of_every_way_in(tmp_path: Path) -> None:
    small = sync(max_manifest_bytes=len(RUNTIME_HEAD) - 1)
    file = tmp_path / "rt.yaml"
    file.write_text(RUNTIME_HEAD)
    as_json = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "storage-config"},
                          "stringData": {"s": "{" + " " * len(RUNTIME_HEAD) + "}"}})

    refusals = []
    for parse in (lambda: small.parse_file(file), lambda: small.parse_text(RUNTIME_HEAD, "body"),
                  lambda: small.parse_json(as_json, "body")):
        with pytest.raises(SpecError) as caught:
            parse()
        refusals.append(caught.value.message)

    assert all(f"manifest is larger than the limit of {len(RUNTIME_HEAD) - 1} bytes" in m for m in refusals)
    assert [obj.name for obj in sync().parse_file(file)] == ["rt"]


def test_the_watcher_reports_an_oversized_file_and_applies_its_neighbours(tmp_path: Path) -> None:
    (tmp_path / "a-big.yaml").write_text(RUNTIME_HEAD + "#" * 200 + "\n")
    (tmp_path / "b-good.yaml").write_text(RUNTIME_HEAD)

    changes = WatchedFiles(sync(max_manifest_bytes=200), [tmp_path]).scan(initial=True)

    assert [(change.event, change.lines()) for change in changes] == [
        ("invalid", [f"error: {tmp_path / 'a-big.yaml'}: manifest is larger than the limit of 200 bytes; the "
                     "setting max_manifest_bytes (MMEMU_MAX_MANIFEST_BYTES) sets it"]),
        ("applied", ["servingruntime.serving.kserve.io/rt created"]),
    ]


def test_an_endless_file_is_not_read_to_its_end() -> None:
    with pytest.raises(SpecError, match="/dev/zero: manifest is larger than the limit of 3145728 bytes"):
        load_file("/dev/zero")


@pytest.mark.parametrize(("value", "cause"), [
    ("1" * 5000, "invalid int value"),
    ("2024-13-45", "invalid timestamp value (month must be in 1..12)"),
])
def test_values_python_cannot_build_are_yaml_errors_with_a_line(value: str, cause: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_text(RUNTIME_HEAD + f"  volumes: [{{name: v, x: {value}}}]\n", "values.yaml")

    assert caught.value.message.startswith(f"values.yaml, document 0: invalid YAML at line 6, column 26: {cause}")
