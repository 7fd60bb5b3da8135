"""Generate docs/settings.md from the Settings model: `python -m emulator.settings_doc > docs/settings.md`.

Every field, its environment variable, its `serve` option (when it has one), its default and its docstring.
Defaults are written machine-independently (`~` for the home directory) and secrets are never written.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import textwrap
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .settings import Settings

__all__ = ["field_docstrings", "render"]

_HEADER = """\
# Settings reference

Generated from `emulator/settings.py` by `python -m emulator.settings_doc > docs/settings.md`; do not edit by
hand (`tests/control/test_control_settings_doc.py` fails when this page is stale).

Every setting is an environment variable with the prefix `MMEMU_` (`MMEMU_GRPC_PORT=9033`). List values are
JSON (`MMEMU_BUILT_IN_SERVER_TYPES='["mlserver"]'`). `modelmesh-emulator serve` options, where a setting has
one, win over the environment. Defaults are ModelMesh's where ModelMesh has the setting.

| setting | environment variable | `serve` option | default | |
|---|---|---|---|---|
"""


def field_docstrings(cls: type) -> dict[str, str]:
    """The string literal under each annotated class attribute (the fields' docstrings)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[node.target.id] = " ".join(inspect.cleandoc(following.value.value).split())
    return docs


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{choice}`" for choice in typing.get_args(annotation))
    name = getattr(annotation, "__name__", None) if typing.get_origin(annotation) is None else None
    return name or str(annotation).replace("typing.", "").replace("pathlib.", "").replace("|", "\\|")


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "(required)"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path):
        home = Path.home()
        value = f"~/{value.relative_to(home)}" if value.is_relative_to(home) else value
    if value is None:
        return "unset"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _serve_options() -> dict[str, str]:
    """`serve` option strings by the Settings field they set (an option's dest is its field's name)."""
    from .control.commands import serve

    serve_parser = serve.add_parser(argparse.ArgumentParser().add_subparsers(), [])
    return {action.dest: action.option_strings[0] for action in serve_parser._actions if action.option_strings}


def render() -> str:
    docs, options = field_docstrings(Settings), _serve_options()
    rows = []
    for name, info in Settings.model_fields.items():
        option = f"`{options[name]}`" if name in options else ""
        doc = docs.get(name, "").replace("|", "\\|")
        rows.append(f"| `{name}` ({_type_name(info.annotation)}) | `MMEMU_{name.upper()}` | {option} | "
                    f"{_default(info)} | {doc} |")
    return _HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
