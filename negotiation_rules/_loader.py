"""Rule files -> rules, situations and declared tactics, every mistake yielded with a code and a location.

The model is python-jsonschema's ``iter_errors``: one small reader per key raises a located,
coded ``RulesetError`` (through ``Entry``, the shared reader of ``_yaml.py``); the driver runs
each of them, collects what they raise and goes on, so a file with five mistakes in three rules
yields five errors, in file order. ``iter_ruleset_errors`` yields them; ``read_ruleset`` returns
the parts and the errors together (``load_ruleset`` raises the first, ``lint`` reports them all).

The loader reads and checks; it never compiles nor runs anything: whether durable-rules takes
the rules is checked above it, by the public ``load_ruleset``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar, Union

from ._conditions import Condition, ConditionErrors, ConditionParser, situations_named
from ._errors import RulesetError, closest
from ._fields import PLACEHOLDER_RE, state_fields
from ._model import (
    DeclaredTactic,
    Rule,
    Situation,
    SourceRef,
    iter_duplicate_errors,
    stratify,
)
from ._packaged import BUILTIN, builtin_ruleset_dir
from ._yaml import MAX_FILE_BYTES, Entry, LineDict, LineList, line_of, load_yaml

RULE_KEYS = (
    "id",
    "tactic",
    "move",
    "rationale",
    "when",
    "unless",
    "unless_reason",
    "unless_unknown",
    "by_side",
    "weight",
    "cautions",
    "sources",
)
REQUIRED_RULE_KEYS = ("tactic", "move", "rationale", "when", "sources")
SITUATION_KEYS = ("id", "description", "when")
UNLESS_UNKNOWN = ("recommend", "set_aside")
FILE_KEYS = ("ruleset", "description", "rules", "situations", "tactics")
TACTIC_KEYS = ("id", "move", "fits", "never", "sources")
SOURCE_KEYS = ("document", "section")
SIDES = ("buyer", "seller")
#: Ids are lower-case words of letters, digits, ``_`` and ``-``, joined by dots; a tactic id has a family first.
ID_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
TACTIC_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")
#: A situation id is one word (no dots): it becomes part of a fact key, ``situation__<id>``.
SITUATION_ID_RE = re.compile(r"[a-z0-9_-]+")
SCENARIO_SUFFIX = ".scenarios.yaml"
MAX_FILES = 500
#: Largest rule file read; checked on the open file before a byte is read.
MAX_RULE_FILE_BYTES = MAX_FILE_BYTES

PathLike = Union[str, Path]  # noqa: UP007 - a runtime alias, works on 3.10
T = TypeVar("T")


@dataclass
class Parts:
    """What a set of rule files holds (as far as it could be read), and every mistake found in it."""

    rules: list[Rule] = field(default_factory=list)
    situations: list[Situation] = field(default_factory=list)
    declared: list[DeclaredTactic] = field(default_factory=list)
    errors: list[RulesetError] = field(default_factory=list)


class _Errors(list[RulesetError]):
    """The errors of one entry: ``take`` runs one key's reader and keeps its error instead of stopping."""

    def take(self, read: Callable[[], T]) -> T | None:
        """``read()``, or None after recording the RulesetError it raised."""
        try:
            return read()
        except ConditionErrors as exc:  # every mistake of a when/unless block
            self.extend(exc.errors)
            return None
        except RulesetError as exc:
            self.append(exc)
            return None


# -- files ---------------------------------------------------------------------------------------


def shown(path: PathLike, limit: int = 200) -> str:
    """A path for an error message, cut to a bounded length."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


def rule_files(path: Path) -> list[Path]:
    """The rule files of one path: the file itself, or a folder's ``*.yaml`` (not scenarios, not recursive)."""
    try:
        return _list_rule_files(path)
    except RulesetError:
        raise
    except OSError as exc:  # a name too long, a folder we may not read, ...
        raise _unreadable(f"cannot read: {exc.strerror or exc}", path) from None
    except ValueError:  # a NUL byte in the path
        raise _unreadable("not a usable path", path) from None


def _unreadable(message: str, path: PathLike) -> RulesetError:
    """A ``cannot-read`` error for a path."""
    return RulesetError(message, file=shown(path), code="cannot-read")


def _list_rule_files(path: Path) -> list[Path]:
    """The files ``rule_files`` returns; refuses links out of the folder and folders without rule files."""
    if not path.exists():
        raise _unreadable("no such file or folder", path)
    if path.is_file():
        return [path]
    root = path.resolve()
    files = []
    for candidate in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
        if candidate.name.endswith(SCENARIO_SUFFIX) or not candidate.is_file():
            continue
        real = candidate.resolve()
        if real.parent != root and root not in real.parents:
            raise _unreadable(f"links outside the ruleset folder (to {real}); refusing to follow it", candidate)
        files.append(candidate)
    if not files:
        raise _unreadable("folder holds no rule files (*.yaml)", path)
    if len(files) > MAX_FILES:
        raise _unreadable(f"more than {MAX_FILES} rule files", path)
    return files


def read_rule_file(file: Path) -> str:
    """The text of one rule file: a regular file, its size checked before it is read, UTF-8."""
    try:
        with file.open("rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise _unreadable("not a regular file", file)
            if info.st_size > MAX_RULE_FILE_BYTES:
                raise _unreadable(f"file is larger than {MAX_RULE_FILE_BYTES} bytes", file)
            data = fh.read(MAX_RULE_FILE_BYTES + 1)
    except RulesetError:
        raise
    except OSError as exc:
        raise _unreadable(f"cannot read: {exc.strerror or type(exc).__name__}", file) from None
    except ValueError:
        raise _unreadable("not a usable path", file) from None
    if len(data) > MAX_RULE_FILE_BYTES:
        raise _unreadable(f"file is larger than {MAX_RULE_FILE_BYTES} bytes", file)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable("not UTF-8 text", file) from None


def as_paths(path_or_paths: PathLike | Iterable[PathLike]) -> tuple[list[Path], str]:
    """The paths given (``"builtin"`` as the built-in folder) and the name of what they load together."""
    given = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    paths = [builtin_ruleset_dir() if str(p) == BUILTIN else Path(p) for p in given]
    stems = [BUILTIN if str(g) == BUILTIN else p.stem for g, p in zip(given, paths, strict=True)]
    return paths, "+".join(stems)


def read_sources(paths: Sequence[Path]) -> tuple[list[tuple[str, str]], list[RulesetError]]:
    """(file name, text) of every rule file under ``paths``, and a ``cannot-read`` error for each that is not."""
    if not paths:
        return [], [RulesetError("no rule files given", code="cannot-read")]
    sources: list[tuple[str, str]] = []
    errors: list[RulesetError] = []
    for path in paths:
        try:
            files = rule_files(path)
        except RulesetError as exc:
            errors.append(exc)
            continue
        for file in files:
            try:
                sources.append((str(file), read_rule_file(file)))
            except RulesetError as exc:
                errors.append(exc)
    return sources, errors


def iter_ruleset_errors(path_or_paths: PathLike | Iterable[PathLike]) -> Iterator[RulesetError]:
    """Every mistake in a rule file, a folder or several paths loaded together, in file order.

    Each is a ``RulesetError`` with ``code``, ``file``, ``line``, ``rule_id`` and ``suggestion``;
    nothing is yielded for files that load. What durable-rules itself refuses is not checked here
    (``load_ruleset`` does that once the files are free of mistakes).
    """
    paths, _ = as_paths(path_or_paths)
    sources, errors = read_sources(paths)
    yield from errors
    yield from read_ruleset(sources).errors


# -- one set of files ------------------------------------------------------------------------------


def read_ruleset(sources: Sequence[tuple[str, str]]) -> Parts:
    """Rules, situations and declared tactics of the given (file, text) pairs, with every mistake in them."""
    parts = Parts()
    raw: dict[str, list[tuple[str, LineDict, str, int]]] = {"rules": [], "situations": [], "tactics": []}
    for file, text in sources:
        parts.errors += _read_file(file, text, raw)
    sit_ids: list[str] = []
    for file, item, _, i in raw["situations"]:
        sid, _error = _id_of(file, item, "situation", i)
        if _error is None:
            sit_ids.append(sid)
    # the built-in situations may be named by any rule file without loading them (declared ones win)
    builtin = {s.id: s for s in _builtin_situations() if s.id not in sit_ids} if raw["rules"] else {}
    known = [*sit_ids, *builtin]
    for file, item, _, i in raw["situations"]:
        sit, errors = read_situation(file, item, known, i)
        parts.errors += errors
        if sit is not None:
            parts.situations.append(sit)
    for file, item, set_name, i in raw["rules"]:
        rule, errors = read_rule(file, item, set_name, known, i)
        parts.errors += errors
        if rule is not None:
            parts.rules.append(rule)
    named = [s.when for s in parts.situations] + [c for r in parts.rules for c in (r.when, r.unless) if c]
    parts.situations += needed(builtin, named)
    try:
        parts.situations = stratify(parts.situations)
    except RulesetError as exc:
        parts.errors.append(exc)
    parts.errors += iter_duplicate_errors(parts.rules, parts.situations)
    for file, item, _, i in raw["tactics"]:
        tactic, errors = read_tactic(file, item, i)
        parts.errors += errors
        if tactic is not None:
            parts.declared.append(tactic)
    parts.errors += _declared_errors(parts.declared)
    order = {file: n for n, (file, _) in enumerate(sources)}
    parts.errors.sort(key=lambda e: (order.get(e.file or "", -1 if e.file is None else len(order)), e.line or 0))
    return parts


def _read_file(file: str, text: str, raw: dict[str, list[tuple[str, LineDict, str, int]]]) -> list[RulesetError]:
    """Parse one file and file its entries under ``raw``; the file-level mistakes."""
    try:
        doc = load_yaml(text, file)
    except RulesetError as exc:
        return [exc]
    if doc is None:
        return [RulesetError("file is empty", file=file, code="bad-file")]
    if not isinstance(doc, LineDict):
        return [
            RulesetError(
                "a rule file is a mapping with a 'rules' list", file=file, line=line_of(doc, 1), code="bad-file"
            )
        ]
    top = Entry(doc, file, None)
    errors = list(top.unknown_keys(FILE_KEYS, "top-level key"))
    if not any(key in doc for key in raw):
        errors.append(top.error("no 'rules' list", code="bad-file"))
    set_name = doc.get("ruleset", Path(file).stem)
    if not isinstance(set_name, str) or not set_name:
        errors.append(top.error("'ruleset' is a name", key="ruleset"))
        set_name = Path(file).stem
    for key, bucket in raw.items():
        items = doc.get(key, [])
        if not isinstance(items, list):
            errors.append(top.error(f"'{key}' must be a list", key=key, code="bad-file"))
            continue
        for i, item in enumerate(items):
            if isinstance(item, LineDict):
                bucket.append((file, item, set_name, i))
            else:
                item_line = items.item_lines[i] if isinstance(items, LineList) else None
                errors.append(top.error(f"each entry of '{key}' is a mapping", line=item_line, code="bad-file"))
    return errors


def valid_id(text: str) -> str:
    """The nearest valid id to ``text`` (lower case, spaces and other characters as ``_``, no empty words)."""
    words = [re.sub(r"[^a-z0-9_-]+", "_", w.strip().lower()).strip("_") for w in str(text).split(".")]
    return ".".join(w for w in words if w) or "my_rule"


def _id_of(file: str, item: LineDict, what: str, index: int) -> tuple[str, RulesetError | None]:
    """The id of a rule, situation or tactic entry, or a label for it (``rules[3]``) and a ``bad-id`` error."""
    value = item.get("id")
    pattern = {"situation": SITUATION_ID_RE, "tactic": TACTIC_RE}.get(what, ID_RE)
    if isinstance(value, str) and pattern.fullmatch(value):
        return value, None
    label = value if isinstance(value, str) and value.strip() else f"{what}s[{index}]"
    hint = valid_id(value) if isinstance(value, str) and value.strip() else None
    if what == "situation" and isinstance(value, str) and "." in value and ID_RE.fullmatch(value):
        message = f"a situation id is one word of letters, digits, _ and - (no dots), got {value!r}"
        hint = value.replace(".", "_")
    elif what == "tactic":
        message = f"each tactic needs an 'id' like family.name (lower-case words joined by dots), got {value!r}"
    else:
        message = (
            f"each {what} needs an 'id' of lower-case words (letters, digits, _ and -) joined by dots, got {value!r}"
        )
    line = item.line_of("id")
    return label, RulesetError(message, file=file, line=line, rule_id=label, kind=what, code="bad-id", suggestion=hint)


def read_situation(
    file: str, item: LineDict, known: Sequence[str], index: int = 0
) -> tuple[Situation | None, list[RulesetError]]:
    """One entry of ``situations:``; None and its mistakes when it has any."""
    sid, bad_id = _id_of(file, item, "situation", index)
    entry = Entry(item, file, sid, "situation")
    errors = _Errors([] if bad_id is None else [bad_id])
    errors += entry.unknown_keys(SITUATION_KEYS)
    errors.take(lambda: entry.require("when"))
    when = errors.take(lambda: _condition(entry, "when", known)) if "when" in entry else None
    description = errors.take(lambda: entry.text("description", required=False))
    if errors or when is None:
        return None, list(errors)
    return Situation(sid, description or sid.replace("_", " "), when, file, item.line), []


def _condition(entry: Entry, key: str, known: Sequence[str]) -> Condition:
    """The condition at ``key``, its errors located at this entry (a situation's say so)."""
    parser = ConditionParser(entry.file, entry.owner, known)
    try:
        return parser.parse_all(entry.get(key), entry.line_of(key))
    except ConditionErrors as exc:
        raise ConditionErrors([e.located(kind=entry.kind) for e in exc.errors]) from None


def read_rule(
    file: str, item: LineDict, set_name: str, situations: Sequence[str], index: int = 0
) -> tuple[Rule | None, list[RulesetError]]:
    """One entry of ``rules:``; None and every mistake in it when it has any."""
    rid, bad_id = _id_of(file, item, "rule", index)
    entry = Entry(item, file, rid, "rule")
    errors = _Errors([] if bad_id is None else [bad_id])
    errors += entry.unknown_keys(RULE_KEYS)
    misspelt = {e.suggestion for e in errors if e.code == "unknown-key"}  # 'mvoe' is reported, not a missing 'move'
    for key in REQUIRED_RULE_KEYS:
        if key not in misspelt and key not in entry:
            errors.take(partial(entry.require, key, "no-source" if key == "sources" else "missing-key"))
    tactic = errors.take(lambda: _tactic_of(entry)) if "tactic" in entry else None
    when = errors.take(lambda: _condition(entry, "when", situations)) if "when" in entry else None
    unless = errors.take(lambda: _condition(entry, "unless", situations)) if "unless" in entry else None
    unless_reason = errors.take(lambda: entry.text("unless_reason", required=False)) or ""
    if "unless" in entry and not unless_reason:
        errors.append(
            entry.error("'unless' needs an 'unless_reason' (it is shown to the user)", key="unless", code="missing-key")
        )
    if "unless" not in entry and unless_reason:
        errors.append(entry.error("'unless_reason' without 'unless'", key="unless_reason"))
    unless_unknown = errors.take(lambda: _unless_unknown(entry))
    weight = errors.take(lambda: _weight(entry))
    rationale = errors.take(lambda: entry.text("rationale")) if "rationale" in entry else None
    if rationale:
        errors.take(lambda: _check_placeholders(entry, rationale))
    move = errors.take(lambda: entry.text("move")) if "move" in entry else None
    by_side = errors.take(lambda: _by_side(entry))
    sources = errors.take(lambda: _sources(entry)) if "sources" in entry else None
    cautions = errors.take(lambda: _cautions(entry))
    if errors:
        return None, list(errors)
    assert tactic is not None and when is not None and move is not None and rationale is not None
    return (
        Rule(
            id=rid,
            tactic=tactic,
            move=move,
            rationale=rationale,
            when=when,
            weight=float(weight if weight is not None else 0.5),
            sources=sources or (),
            file=file,
            line=item.line,
            unless=unless,
            unless_reason=unless_reason,
            unless_unknown=unless_unknown or "recommend",
            cautions=cautions or (),
            by_side=by_side or {},
            ruleset=set_name,
            lines=dict(item.key_lines),
        ),
        [],
    )


def _tactic_of(entry: Entry) -> str:
    """The rule's ``tactic``: an id like ``family.name``."""
    tactic = entry.get("tactic")
    if not isinstance(tactic, str) or not TACTIC_RE.fullmatch(tactic):
        hint = valid_id(tactic) if isinstance(tactic, str) and tactic.strip() else None
        raise entry.error(
            f"'tactic' is an id like family.name (lower-case words joined by dots), got {tactic!r}",
            key="tactic",
            code="bad-id",
            suggestion=hint,
        )
    return tactic


def _unless_unknown(entry: Entry) -> str:
    """``unless_unknown``: ``recommend`` (the default) or ``set_aside``, and only beside an ``unless``."""
    value = entry.get("unless_unknown", "recommend")
    if value not in UNLESS_UNKNOWN:
        raise entry.error(
            f"'unless_unknown' is one of {', '.join(UNLESS_UNKNOWN)}, got {value!r}",
            key="unless_unknown",
            suggestion=closest(value, UNLESS_UNKNOWN),
        )
    if "unless" not in entry and "unless_unknown" in entry:
        raise entry.error("'unless_unknown' without 'unless'", key="unless_unknown")
    return str(value)


def _weight(entry: Entry) -> float:
    """``weight``: a number in [0, 1], 0.5 when absent."""
    weight = entry.get("weight", 0.5)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight <= 1:
        raise entry.error(f"'weight' is a number in [0, 1], got {weight!r}", key="weight")
    return float(weight)


def _check_placeholders(entry: Entry, rationale: str, key: str = "rationale") -> None:
    """Every ``{field}`` of a rationale names a scalar field of the state."""
    scalar = [p for p, spec in state_fields().items() if spec.kind != "list"]
    for name in PLACEHOLDER_RE.findall(rationale):
        if name not in scalar:
            raise entry.error(
                f"rationale names unknown field '{{{name}}}'",
                key=key,
                code="unknown-placeholder",
                suggestion=closest(name, scalar),
            )


def _by_side(entry: Entry) -> dict[str, tuple[str, str]]:
    """``by_side: {buyer: {move, rationale}, seller: {...}}``: wording for one side (each key optional)."""
    value = entry.get("by_side")
    if value is None:
        return {}
    if not isinstance(value, LineDict) or not value:
        raise entry.error("'by_side' maps buyer/seller to {move, rationale}", key="by_side")
    sides = entry.child(value)
    out: dict[str, tuple[str, str]] = {}
    for side, wording in value.items():
        if side not in SIDES:
            raise sides.error(
                f"unknown side '{side}' (one of buyer, seller)",
                key=side,
                code="unknown-key",
                suggestion=closest(side, SIDES),
            )
        if not isinstance(wording, LineDict):
            raise sides.error(f"'{side}' is a mapping {{move, rationale}}", key=side)
        inner = entry.child(wording)
        for error in inner.unknown_keys(("move", "rationale")):
            raise error
        move = inner.text("move", required=False) or entry.text("move")
        rationale = inner.text("rationale", required=False) or entry.text("rationale")
        _check_placeholders(inner, rationale)
        out[str(side)] = (move, rationale)
    return out


def _cautions(entry: Entry) -> tuple[str, ...]:
    """``cautions``: a text or a list of texts."""
    value = entry.get("cautions", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise entry.error("'cautions' is a list of texts", key="cautions")
    return tuple(" ".join(v.split()) for v in value)


def _sources(entry: Entry) -> tuple[SourceRef, ...]:
    """``sources``: at least one ``{document, section}``."""
    value = entry.get("sources")
    if not isinstance(value, list) or not value:
        raise entry.error("'sources' needs at least one {document, section}", key="sources", code="no-source")
    out = []
    for i, src in enumerate(value):
        src_line = value.item_lines[i] if isinstance(value, LineList) else entry.line_of("sources")
        if not isinstance(src, LineDict):
            raise entry.error("each source is a mapping {document, section}", line=src_line, code="no-source")
        source = entry.child(src)
        for key in src:
            if key not in SOURCE_KEYS:
                raise source.error(
                    f"unknown source key '{key}'",
                    line=src_line,
                    code="unknown-key",
                    suggestion=closest(key, SOURCE_KEYS),
                )
        doc, section = src.get("document"), src.get("section")
        if not isinstance(doc, str) or not doc.strip() or not isinstance(section, str) or not section.strip():
            raise source.error("a source needs a 'document' and a 'section' (text)", line=src_line, code="no-source")
        out.append(SourceRef(doc.strip(), section.strip()))
    return tuple(out)


def read_tactic(file: str, item: LineDict, index: int = 0) -> tuple[DeclaredTactic | None, list[RulesetError]]:
    """One entry of a rule file's ``tactics:`` list; None and its mistakes when it has any."""
    tid, bad_id = _id_of(file, item, "tactic", index)
    entry = Entry(item, file, tid, "tactic")
    errors = _Errors([] if bad_id is None else [bad_id])
    errors += entry.unknown_keys(TACTIC_KEYS)
    sources = errors.take(lambda: _sources(entry)) if "sources" in entry else ()
    move = errors.take(lambda: entry.text("move"))
    fits = errors.take(lambda: entry.text("fits", required=False))
    never = errors.take(lambda: entry.text("never", required=False))
    if errors or move is None:
        return None, list(errors)
    return DeclaredTactic(tid, move, fits or "", never or "", sources or (), file, item.line), []


def _declared_errors(declared: Sequence[DeclaredTactic]) -> Iterator[RulesetError]:
    """A declared tactic may not reuse a catalog id nor another declared one."""
    if not declared:
        return
    from ._catalog import CATALOG  # a leaf module, imported only when a file declares tactics (import stays cheap)

    seen: dict[str, DeclaredTactic] = {}
    for tactic in declared:
        where = {"file": tactic.file, "line": tactic.line, "rule_id": tactic.id, "kind": "tactic"}
        if tactic.id in CATALOG:
            yield RulesetError(
                f"tactic '{tactic.id}' is already in the catalog; declare only your own tactics",
                code="catalog-tactic",
                **where,  # type: ignore[arg-type]
            )
        first = seen.get(tactic.id)
        if first is not None:
            yield RulesetError(
                f"duplicate tactic id, first declared at {first.file}:{first.line}",
                code="duplicate-id",
                **where,  # type: ignore[arg-type]
            )
        seen.setdefault(tactic.id, tactic)


# -- the built-in situations -------------------------------------------------------------------


_builtin_sits: list[Situation] | None = None


def _builtin_situations() -> list[Situation]:
    """The situations of the built-in ``situations.yaml`` (parsed once per process, never run alone)."""
    global _builtin_sits
    if _builtin_sits is None:
        file = builtin_ruleset_dir() / "situations.yaml"
        doc = load_yaml(file.read_text(encoding="utf-8"), str(file))
        items = [item for item in doc.get("situations", []) if isinstance(item, LineDict)]
        ids = [_id_of(str(file), item, "situation", i)[0] for i, item in enumerate(items)]
        found = [read_situation(str(file), item, ids, i) for i, item in enumerate(items)]
        errors = [e for _, errs in found for e in errs]
        if errors:
            raise errors[0]
        _builtin_sits = [s for s, _ in found if s is not None]
    return _builtin_sits


def builtin_situations_named(declared: Sequence[str], conditions: Sequence[Condition]) -> list[Situation]:
    """The built-in situations (not among ``declared``) that ``conditions`` name, with those they build on."""
    available = {s.id: s for s in _builtin_situations() if s.id not in declared}
    return needed(available, conditions)


def builtin_situation_ids() -> list[str]:
    """The ids of the built-in situations, which any rule file may name."""
    return [s.id for s in _builtin_situations()]


def needed(available: dict[str, Situation], conditions: Sequence[Condition]) -> list[Situation]:
    """The available situations the conditions name, with the ones those build on."""
    wanted: dict[str, Situation] = {}
    todo = [name for cond in conditions for name in situations_named(cond)]
    while todo:
        name = todo.pop()
        if name in available and name not in wanted:
            wanted[name] = available[name]
            todo.extend(situations_named(available[name].when))
    return [s for s in available.values() if s.id in wanted]
