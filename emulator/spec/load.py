"""Read manifests from YAML text, files and directories; every error names file, document, field and cause."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import InvalidArgumentError, SpecError
from .bounded_yaml import DEFAULT_MAX_MANIFEST_BYTES, TOO_DEEP, YamlLimitError, nesting_problem, yaml_documents
from .kinds import MODEL_BY_KIND, SUPPORTED_KINDS, Manifest
from .validation import DEFAULT_STORAGE_SECRET_NAME, validate_manifest

__all__ = ["DEFAULT_MAX_MANIFEST_BYTES", "MANIFEST_SUFFIXES", "load_file", "load_json", "load_paths", "load_text",
           "manifest_files", "parse_document"]

MANIFEST_SUFFIXES = (".yaml", ".yml")
_SKIPPED_FILES = frozenset({"kustomization.yaml", "kustomization.yml"})


def load_text(
    text: str,
    source: str = "<string>",
    *,
    built_in_server_types: Sequence[str] | None = None,
    storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> list[Manifest]:
    """All objects in a (multi-document) YAML text; empty documents are skipped, `List` kinds expanded.

    Texts over `max_bytes` (UTF-8), aliases and nesting deeper than MAX_NESTING_DEPTH are refused (SpecError).
    """
    _check_size(text, source, max_bytes)
    manifests: list[Manifest] = []
    for index, document in _yaml_documents(text, source):
        if document is None:
            continue
        manifests.extend(
            parse_document(
                document,
                source=source,
                document=index,
                built_in_server_types=built_in_server_types,
                storage_secret_name=storage_secret_name,
            )
        )
    return manifests


def load_json(
    text: str,
    source: str = "<string>",
    *,
    built_in_server_types: Sequence[str] | None = None,
    storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> list[Manifest]:
    """The objects of one JSON document (several for a `List`), within the same bounds as `load_text`.

    Text that is not JSON at all is an InvalidArgumentError (the API server's 400 BadRequest), not a SpecError.
    """
    _check_size(text, source, max_bytes)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column "
                                   f"{exc.colno}") from None
    except RecursionError:  # the C decoder gives up safely at Python's recursion limit
        raise SpecError(TOO_DEEP, source=source) from None
    return parse_document(raw, source=source, built_in_server_types=built_in_server_types,
                          storage_secret_name=storage_secret_name)


def load_file(
    path: str | Path,
    *,
    built_in_server_types: Sequence[str] | None = None,
    storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> list[Manifest]:
    source = str(path)
    try:
        with open(path, "rb") as file:
            data = file.read(max_bytes + 1)  # never more: the file may be huge, or endless (/dev/zero)
        if len(data) > max_bytes:
            raise SpecError(_too_large(max_bytes), source=source)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise SpecError("no such file or directory", source=source) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", source=source) from None
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", source=source) from None
    return load_text(text, source, built_in_server_types=built_in_server_types,
                     storage_secret_name=storage_secret_name, max_bytes=max_bytes)


def load_paths(
    paths: Iterable[str | Path],
    *,
    built_in_server_types: Sequence[str] | None = None,
    storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> list[Manifest]:
    """Files as given; directories walked recursively for *.yaml/*.yml, sorted, kustomization skipped."""
    manifests: list[Manifest] = []
    for file in manifest_files(paths):
        manifests.extend(load_file(file, built_in_server_types=built_in_server_types,
                                   storage_secret_name=storage_secret_name, max_bytes=max_bytes))
    return manifests


def manifest_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; directories walked recursively for *.yaml/*.yml, sorted, kustomization and hidden skipped."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path  # load_file reports a missing path
            continue
        found = (
            candidate
            for candidate in path.rglob("*")
            if candidate.suffix in MANIFEST_SUFFIXES
            and candidate.name not in _SKIPPED_FILES
            and candidate.is_file()
            and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
        )
        yield from sorted(found)


def _check_size(text: str, source: str, max_bytes: int) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise SpecError(_too_large(max_bytes, size), source=source)


def _too_large(max_bytes: int, size: int | None = None) -> str:
    found = f" ({size} bytes)" if size is not None else ""
    return (f"manifest is larger than the limit of {max_bytes} bytes{found}; the setting max_manifest_bytes "
            "(MMEMU_MAX_MANIFEST_BYTES) sets it")


def _yaml_documents(text: str, source: str) -> Iterator[tuple[int, Any]]:
    documents = yaml_documents(text)
    index = 0
    while True:
        try:
            document = next(documents)
        except StopIteration:
            return
        except yaml.YAMLError as exc:
            raise SpecError(_yaml_error_text(exc), source=source, document=index) from None
        yield index, document
        index += 1


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    if isinstance(exc, YamlLimitError):
        return str(exc)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{context}, {problem}" if context else problem
    if mark is None:
        return f"invalid YAML: {detail}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {detail}"


def parse_document(
    raw: Any,
    *,
    source: str | None = None,
    document: int | None = None,
    built_in_server_types: Sequence[str] | None = None,
    storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
) -> list[Manifest]:
    """One decoded YAML document (a mapping) → its objects (several for a `List`)."""
    too_deep = nesting_problem(raw)
    if too_deep is not None:
        raise SpecError(too_deep, source=source, document=document)
    parser = _DocumentParser(source, document, built_in_server_types, storage_secret_name)
    try:
        return parser.parse(raw)
    except SpecError as exc:
        raise SpecError(exc.cause, source=source, document=document, field=exc.field, obj=exc.obj) from None


@dataclass(frozen=True)
class _DocumentParser:
    """Parses one document; errors carry the field path (and object), the caller adds file and document."""

    source: str | None
    document: int | None
    built_in_server_types: Sequence[str] | None
    storage_secret_name: str

    def parse(self, raw: Any, prefix: str = "") -> list[Manifest]:
        if not isinstance(raw, dict):
            raise SpecError(
                f"expected a Kubernetes object (a mapping), got {_yaml_type(raw)}", field=prefix or None
            )
        kind, api_version = raw.get("kind"), raw.get("apiVersion")
        for name, value in (("apiVersion", api_version), ("kind", kind)):
            if not isinstance(value, str) or not value:
                problem = "missing" if value is None else "must be a non-empty string"
                raise SpecError(f"{name} is {problem}", field=_join(prefix, name))
        if kind == "List" or (kind.endswith("List") and kind not in MODEL_BY_KIND and "items" in raw):
            return self._parse_list(raw, prefix)
        return [self._parse_object(raw, kind, api_version, prefix)]

    def _parse_list(self, raw: dict[str, Any], prefix: str) -> list[Manifest]:
        items = raw.get("items") or []
        if not isinstance(items, list):
            found = _yaml_type(items)
            raise SpecError(f"expected a list of objects, got {found}", field=_join(prefix, "items"))
        manifests: list[Manifest] = []
        for position, item in enumerate(items):
            manifests.extend(self.parse(item, _join(prefix, f"items[{position}]")))
        return manifests

    def _parse_object(self, raw: dict[str, Any], kind: str, api_version: str, prefix: str) -> Manifest:
        model = MODEL_BY_KIND.get(kind)
        if model is None:
            supported = ", ".join(SUPPORTED_KINDS)
            raise SpecError(f"unsupported kind {kind} (supported: {supported})", field=_join(prefix, "kind"))
        if api_version not in model.api_versions:
            expected = " or ".join(model.api_versions)
            raise SpecError(
                f"apiVersion {api_version} is not valid for kind {kind} (expected {expected})",
                field=_join(prefix, "apiVersion"),
            )
        display_name = _display_name(kind, raw)
        try:
            obj = model.model_validate(raw)
            validate_manifest(
                obj,
                built_in_server_types=self.built_in_server_types,
                storage_secret_name=self.storage_secret_name,
            )
        except ValidationError as exc:
            raise _spec_error_from_validation(exc, prefix, display_name) from None
        except SpecError as exc:
            raise SpecError(exc.cause, field=_join(prefix, exc.field or ""), obj=display_name) from None
        obj.source, obj.document = self.source, self.document
        return obj


def _display_name(kind: str, raw: dict[str, Any]) -> str:
    metadata = raw.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f'{kind} "{name}"' if isinstance(name, str) and name else kind


def _spec_error_from_validation(exc: ValidationError, prefix: str, display_name: str) -> SpecError:
    # Only loc and msg are used: pydantic's input values could be credentials.
    problems = [
        (_join(prefix, _field_path(error["loc"])), error["msg"].removeprefix("Value error, "))
        for error in exc.errors()
    ]
    if len(problems) == 1:
        field, message = problems[0]
        return SpecError(message, field=field or None, obj=display_name)
    listed = "; ".join(f"{field or '<object>'}: {message}" for field, message in problems)
    return SpecError(f"{len(problems)} problems: {listed}", obj=display_name)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():
            path = _join(path, part)
        else:
            path += f"[{part}]"  # a map key such as an annotation name
    return path


def _join(prefix: str, field: str) -> str:
    if not field:
        return prefix
    if not prefix or field.startswith("["):
        return prefix + field
    return f"{prefix}.{field}"


def _yaml_type(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
