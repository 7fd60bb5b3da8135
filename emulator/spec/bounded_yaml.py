"""YAML documents read within bounds: no aliases, a nesting cap, checked while composing (before any object exists).

Kubernetes' own YAML decoder bounds alias expansion (go-yaml's "document contains excessive aliasing"); refusing
every alias is the simplest rule that keeps a few hundred bytes from expanding into gigabytes when an object is
copied, compared or serialized. The byte-size cap is the caller's (it is checked before the text is parsed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

__all__ = ["DEFAULT_MAX_MANIFEST_BYTES", "MAX_NESTING_DEPTH", "TOO_DEEP", "YamlLimitError", "nesting_problem",
           "yaml_documents"]

DEFAULT_MAX_MANIFEST_BYTES = 3 * 1024 * 1024
"""The Kubernetes API server's request body limit (3 MiB), applied to each manifest file or request body."""

MAX_NESTING_DEPTH = 100
"""Mappings and lists nested deeper are refused. Real manifests nest about 15 deep (a pod spec with affinity
terms). Everything that walks an object recursively (PyYAML's composer, pydantic, `copy.deepcopy`, `json.dumps`)
takes one to three Python frames per level, so 100 levels stay far below Python's 1000-frame recursion limit."""

TOO_DEEP = f"mappings and lists are nested more than {MAX_NESTING_DEPTH} levels deep"


class YamlLimitError(yaml.YAMLError):
    """A document breaks one of the bounds; the message says which and where."""


def _at(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


class _BoundedComposer(Composer):
    def __init__(self) -> None:
        super().__init__()
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise YamlLimitError(f"YAML aliases are not allowed in manifests (*{event.anchor} at "
                                 f"{_at(event.start_mark)}); write the value out in full")
        nests = self.check_event(MappingStartEvent, SequenceStartEvent)
        if nests and self._depth >= MAX_NESTING_DEPTH:
            raise YamlLimitError(f"{TOO_DEEP} (at {_at(self.peek_event().start_mark)})")
        self._depth += nests
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= nests


class _ScalarCheckingConstructor(SafeConstructor):
    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. a 5000-digit int, a timestamp on day 45
            raise ConstructorError(problem=f"invalid {node.tag.rpartition(':')[2]} value ({exc})",
                                   problem_mark=node.start_mark) from None


class _ManifestLoader(Reader, Scanner, Parser, _BoundedComposer, _ScalarCheckingConstructor, Resolver):
    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _ScalarCheckingConstructor.__init__(self)
        Resolver.__init__(self)


def yaml_documents(text: str) -> Iterator[Any]:
    """The decoded documents of `text`, one at a time; yaml.YAMLError (YamlLimitError for a bound) on failure."""
    loader = _ManifestLoader(text)
    try:
        while loader.check_data():
            yield loader.get_data()
    finally:
        loader.dispose()


def nesting_problem(value: Any) -> str | None:
    """Why an already decoded document (a JSON body) is nested too deeply, or None. Iterative: any depth is safe."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_NESTING_DEPTH:
            return TOO_DEEP
        pending.extend((child, depth + 1) for child in children)
    return None
