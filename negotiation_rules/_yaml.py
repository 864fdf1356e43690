"""Safe YAML loading that remembers line numbers, and the line-aware reader every loader uses.

``load_yaml`` parses with libyaml (PyYAML's C parser) when it is installed, the pure-Python
parser otherwise, and builds the values itself from the parser's events, one event at a time
(no recursion): plain dicts and lists that know their lines (``LineDict``, ``LineList``). Only
safe values are built: no tag that makes an object, no aliases (``*name``, the "billion
laughs"), no merge keys, at most ``MAX_DEPTH`` levels, numbers of at most ``MAX_DIGITS`` digits,
files of at most ``MAX_FILE_BYTES``.

``Entry`` is the reader the rule, playbook and scenario loaders share: one mapping bound to its
file and the id of what it defines, whose ``require``, ``text`` and ``unknown_keys`` make
located, coded ``RulesetError``s (with a did-you-mean as data).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from ._errors import RulesetError, closest

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
#: Digits a number in a rule file may have (Python refuses to read more than 4,300 as an int).
MAX_DIGITS = 100
#: libyaml's parser when PyYAML was built with it (about ten times faster), else the pure-Python one.
FAST_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
#: Scalar tags a rule file may use (resolved implicitly or written as ``!!int`` ...): none builds an object.
_SCALAR_TAGS = (
    _STR,
    *_NUMBERS,
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
)


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


def _line(event: Event) -> int:
    """The 1-based line an event starts on."""
    mark: Any = event.start_mark
    return int(mark.line) + 1


class _Open:
    """A mapping or list still being read, and (for a mapping) the key waiting for its value."""

    __slots__ = ("container", "key")

    def __init__(self, container: LineDict | LineList) -> None:
        self.container = container
        self.key: str | None = None

    def wants_key(self) -> bool:
        """True when the next node is a mapping key."""
        return isinstance(self.container, LineDict) and self.key is None


class _Builder:
    """Turns a parser's events into LineDict/LineList/scalars, refusing what rule files may not hold."""

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file

    def fail(self, message: str, line: int | None, code: str = "yaml-limit") -> RulesetError:
        """A located error for this file."""
        return RulesetError(message, file=self.file, line=line, code=code)

    def document(self) -> Any:
        """The single document of the stream (None when empty); a second document is an error."""
        get = self.loader.get_event
        get()  # StreamStartEvent
        event = get()
        if isinstance(event, StreamEndEvent):
            return None
        value = self.value()
        get()  # DocumentEndEvent
        event = get()
        if not isinstance(event, StreamEndEvent):
            raise self.fail("invalid YAML: expected a single document in the stream", _line(event), "invalid-yaml")
        return value

    def value(self) -> Any:
        """One node and everything under it, built iteratively (a stack, not recursion)."""
        get = self.loader.get_event
        stack: list[_Open] = []
        while True:
            event = get()
            if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
                finished = stack.pop().container
                if not stack:
                    return finished
                continue
            line = _line(event)
            if isinstance(event, AliasEvent):
                raise self.fail("YAML aliases (*name) are not allowed in rule files", line)
            if len(stack) + 1 > MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH} levels", line)
            top = stack[-1] if stack else None
            if isinstance(event, ScalarEvent):
                if top is None:
                    return self.scalar(event)
                if isinstance(top.container, LineDict) and top.key is None:
                    top.key = self.key(event, top.container)
                else:
                    self.add(top, self.scalar(event), line)
                continue
            mapping = isinstance(event, MappingStartEvent)
            if event.tag not in (None, "!", _MAP if mapping else _SEQ):
                raise self.fail(
                    f"invalid YAML: the tag {event.tag!r} is not allowed in rule files", line, "invalid-yaml"
                )
            if top is not None and top.wants_key():
                raise self.fail("a key must be a name, not a " + ("mapping" if mapping else "list"), line)
            made: LineDict | LineList
            if mapping:
                made = LineDict()
                made.key_lines = {}
            else:
                made = LineList()
                made.item_lines = []
            made.line = line
            if top is not None:
                self.add(top, made, line)
            stack.append(_Open(made))

    @staticmethod
    def add(top: _Open, value: Any, line: int) -> None:
        """Put a value into the open container: the next item, or the value of the waiting key."""
        container = top.container
        if isinstance(container, LineList):
            container.append(value)
            container.item_lines.append(line)
            return
        assert top.key is not None
        container[top.key] = value
        top.key = None

    def key(self, event: ScalarEvent, mapping: LineDict) -> str:
        """A mapping key: a name (text or a number), not a merge key, not one the mapping already has."""
        line = _line(event)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
            if event.tag is None and tag == _MERGE:
                raise self.fail("YAML merge keys (<<) are not allowed in rule files", line)
        value = self.scalar(event, tag)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail(f"a key must be a name, not {value!r}", line)
        name = str(value)
        if name in mapping.key_lines:
            raise self.fail(f"duplicate key '{name}'", line, "duplicate-key")
        mapping.key_lines[name] = line
        return name

    def scalar(self, event: ScalarEvent, tag: str | None = None) -> Any:
        """One scalar, resolved as PyYAML's safe loader does (``tag``: already resolved); only plain values."""
        if tag is None:
            tag = event.tag
            if tag is None or tag == "!":
                tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _STR:
            return event.value
        if tag not in _SCALAR_TAGS:
            raise self.fail(f"invalid YAML: the tag {tag!r} is not allowed in rule files", _line(event), "invalid-yaml")
        if tag in _NUMBERS and len(event.value) > MAX_DIGITS:
            raise self.fail(f"a number of more than {MAX_DIGITS} digits", _line(event))
        start: Any = event.start_mark
        end: Any = event.end_mark
        node = ScalarNode(tag, event.value, start, end, event.style)
        try:
            return yaml.SafeLoader.yaml_constructors[tag](self.loader, node)
        except Exception as exc:  # PyYAML's constructors raise KeyError, IndexError ... on a bad tagged value
            shown = event.value if len(event.value) <= 40 else event.value[:40] + "..."
            raise self.fail(
                f"invalid YAML value {shown!r} for the tag {tag.rsplit(':', 1)[-1]!r} ({type(exc).__name__})",
                _line(event),
                "invalid-yaml",
            ) from None


def _parser(text: str) -> Any:
    """libyaml's parser for ``text`` when it can take it, else the pure-Python one (same events)."""
    if FAST_LOADER is not yaml.SafeLoader:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the Python reader refuses it with a clear message
            return yaml.SafeLoader(text)
        return FAST_LOADER(text)
    return yaml.SafeLoader(text)


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document safely; syntax errors become RulesetError with the line."""
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise RulesetError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file, code="yaml-limit")
    loader: Any = None
    try:
        loader = _parser(text)  # the reader refuses control characters here
        return _Builder(loader, file).document()
    except RulesetError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if "nesting depth" in str(exc.problem):  # libyaml stops at 1,000 levels, before the builder sees them
            raise RulesetError(
                f"nested deeper than {MAX_DEPTH} levels", file=file, line=line, code="yaml-limit"
            ) from None
        raise RulesetError(
            f"invalid YAML: {exc.problem or exc.context}", file=file, line=line, code="invalid-yaml"
        ) from None
    except yaml.YAMLError as exc:  # a reader error (a control character ...): its position gives the line
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise RulesetError(f"invalid YAML: {exc}", file=file, line=line, code="invalid-yaml") from None
    except RecursionError:
        raise RulesetError("invalid YAML: nested too deeply", file=file, code="yaml-limit") from None
    except ValueError as exc:  # a value PyYAML cannot convert (a date out of range, ...)
        raise RulesetError(f"invalid YAML value: {str(exc)[:120]}", file=file, code="invalid-yaml") from None
    finally:
        if loader is not None:
            loader.dispose()


# -- the reader the loaders share -------------------------------------------------------------


class Entry:
    """One YAML mapping (a rule, a situation, a tactic, a playbook, a case) bound to its file and id.

    Its methods read one key each and raise a ``RulesetError`` already located (file, line of
    the key, the owner's id and kind) and coded; a loader calls them one key at a time and
    collects the errors, so one mistake never hides the next.
    """

    def __init__(self, data: LineDict, file: str, owner: str | None = None, kind: str = "rule") -> None:
        self.data = data
        self.file = file
        self.owner = owner
        self.kind = kind

    @property
    def line(self) -> int:
        """The line the mapping starts on."""
        return self.data.line

    def line_of(self, key: str) -> int:
        """The line of ``key``, or the mapping's own line when it is absent."""
        return self.data.line_of(key)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value at ``key`` (``default`` when absent)."""
        return self.data.get(key, default)

    def error(
        self,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
        code: str = "bad-value",
        suggestion: str | None = None,
    ) -> RulesetError:
        """An error at ``key``'s line (or ``line``, or the mapping's), naming this file and owner."""
        at = line if line is not None else (self.line_of(key) if key is not None else self.line)
        return RulesetError(
            message, file=self.file, line=at, rule_id=self.owner, kind=self.kind, code=code, suggestion=suggestion
        )

    def unknown_keys(self, allowed: Sequence[str], what: str = "key") -> Iterator[RulesetError]:
        """An ``unknown-key`` error for each key not in ``allowed``, with the nearest allowed key."""
        for key in self.data:
            if key not in allowed:
                yield self.error(
                    f"unknown {what} '{key}'", key=key, code="unknown-key", suggestion=closest(key, allowed)
                )

    def require(self, key: str, code: str = "missing-key") -> Any:
        """The value at ``key``; a ``missing-key`` error (at the mapping's line) when it is absent."""
        if key not in self.data:
            raise self.error(f"missing '{key}'", code=code)
        return self.data[key]

    def text(self, key: str, required: bool = True) -> str:
        """The text at ``key`` with its white space folded; ``""`` for an absent optional key."""
        value = self.data.get(key)
        if not required and (value is None or (isinstance(value, str) and not value.strip())):
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"'{key}' must be non-empty text", key=key)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no JSON or terminal could show it
            raise self.error(f"'{key}' holds a character that is not text", key=key) from None
        return " ".join(value.split())

    def child(self, value: LineDict) -> Entry:
        """A mapping inside this one (a side's wording, a source), read with the same file and owner."""
        return Entry(value, self.file, self.owner, self.kind)
