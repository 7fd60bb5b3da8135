"""Read the `ENV` instructions of a Dockerfile: how the process launcher reproduces an image's environment."""

from __future__ import annotations

import shlex
from pathlib import Path

__all__ = ["dockerfile_env"]


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in _instructions(dockerfile.read_text()):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() != "ENV" or not rest.strip():
            continue
        words = shlex.split(rest)
        if "=" not in words[0]:  # legacy form: ENV KEY value with spaces
            env[words[0]] = rest.strip().split(None, 1)[1] if len(words) > 1 else ""
            continue
        for word in words:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def _instructions(text: str) -> list[str]:
    instructions, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        instructions.append((current + line).strip())
        current = ""
    if current:
        instructions.append(current.strip())
    return instructions
