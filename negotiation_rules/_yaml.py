"""Safe YAML loading that remembers line numbers, so every rule-file error can point at its line."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._errors import RulesetError

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
#: Digits a number in a rule file may have (Python refuses to read more than 4,300 as an int).
MAX_DIGITS = 100


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line of ``key`` if present, else the mapping's own line."""
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


def line_of(value: Any, default: int | None = None) -> int | None:
    """The line a loaded YAML value started on, if it recorded one."""
    return getattr(value, "line", default) or default


class _Loader(yaml.SafeLoader):
    """SafeLoader (no tags that build objects) plus lines, duplicate-key errors, no aliases, bounded depth."""

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self.file = file
        self.depth = 0

    def _fail(self, message: str, node: Node | None) -> RulesetError:
        line = node.start_mark.line + 1 if node is not None else None
        return RulesetError(message, file=self.file, line=line)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise RulesetError(
                "YAML aliases (*name) are not allowed in rule files",
                file=self.file,
                line=event.start_mark.line + 1,
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise RulesetError(
                    f"nested deeper than {MAX_DEPTH} levels", file=self.file, line=event.start_mark.line + 1
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._fail("YAML merge keys (<<) are not allowed in rule files", key_node)
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                raise self._fail(f"a key must be a name, not {key!r}", key_node)
            key = str(key)
            if key in out:
                raise self._fail(f"duplicate key '{key}'", key_node)
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(node.value) > MAX_DIGITS:
            raise self._fail(f"a number of more than {MAX_DIGITS} digits", node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        if len(node.value) > MAX_DIGITS:
            raise self._fail(f"a number of more than {MAX_DIGITS} digits", node)
        return super().construct_yaml_float(node)

    def construct_sequence(self, node: SequenceNode, deep: bool = False) -> LineList:
        out = LineList(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document safely; syntax errors become RulesetError with the line."""
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise RulesetError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file)
    loader: _Loader | None = None
    try:
        loader = _Loader(text, file)  # the reader already refuses control characters here
        return loader.get_single_data()
    except RulesetError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RulesetError(f"invalid YAML: {exc.problem or exc.context}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise RulesetError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise RulesetError("invalid YAML: nested too deeply", file=file) from None
    except ValueError as exc:  # a value PyYAML cannot convert (a date out of range, ...)
        raise RulesetError(f"invalid YAML value: {str(exc)[:120]}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
