"""Rule files -> a validated Ruleset: schema, state paths, situations, duplicates, all with locations."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Union

from ._compiler import CompiledRuleset, compile_ruleset
from ._conditions import Condition, ConditionParser, situations_named, specificity
from ._derived import derived
from ._errors import RulesetError, did_you_mean
from ._fields import state_fields
from ._yaml import MAX_FILE_BYTES, LineDict, LineList, line_of, load_yaml

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
SITUATION_KEYS = ("id", "description", "when")
UNLESS_UNKNOWN = ("recommend", "set_aside")
FILE_KEYS = ("ruleset", "description", "rules", "situations", "tactics")
TACTIC_KEYS = ("id", "move", "fits", "never", "sources")
#: In a list of rule paths, this name stands for the built-in rule files ("the built-in rules plus these").
BUILTIN = "builtin"
#: Ids are lower-case words of letters, digits, ``_`` and ``-``, joined by dots; a tactic id has a family first.
ID_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
TACTIC_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
SCENARIO_SUFFIX = ".scenarios.yaml"
MAX_FILES = 500
#: How deep situations may build on each other (each level is one more engine stage per evaluation).
MAX_SITUATION_LEVELS = 100
#: Largest rule file read; checked on the open file before a byte is read.
MAX_RULE_FILE_BYTES = MAX_FILE_BYTES
#: Rulesets kept by ``load_ruleset`` (keyed by name and each file's resolved path and content hash).
LOADED_CACHE_SIZE = 32

PathLike = Union[str, Path]  # noqa: UP007 - a runtime alias, works on 3.10


@dataclass(frozen=True)
class SourceRef:
    """Where a tactic comes from: a source document's file name and a section heading in it."""

    document: str
    section: str


@dataclass(frozen=True)
class DeclaredTactic:
    """A tactic a rule file declares for itself (a company's own move), known like the catalog's."""

    id: str
    move: str
    fits: str
    never: str
    sources: tuple[SourceRef, ...]
    file: str
    line: int

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class Situation:
    """A derived situation ("we have leverage") that rules build on through ``situation.<id>``."""

    id: str
    description: str
    when: Condition
    file: str
    line: int
    level: int = 0


@dataclass(frozen=True)
class Rule:
    """One rule: when it fits, the tactic it recommends, why, and from which source."""

    id: str
    tactic: str
    move: str
    rationale: str
    when: Condition
    weight: float
    sources: tuple[SourceRef, ...]
    file: str
    line: int
    unless: Condition | None = None
    unless_reason: str = ""
    #: ``set_aside``: while the unknown facts its ``unless`` reads could still make it hold, set the tactic aside.
    unless_unknown: str = "recommend"
    cautions: tuple[str, ...] = ()
    #: Per side (``buyer``/``seller``): the move and rationale worded for it; ``move``/``rationale`` are side-neutral.
    by_side: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False, hash=False)
    ruleset: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def family(self) -> str:
        """The tactic family (``authority`` for ``authority.provoke``)."""
        return self.tactic.split(".", 1)[0]


class Ruleset:
    """Rules and situations loaded together; compiled once for durable-rules, on first use."""

    def __init__(
        self,
        rules: Sequence[Rule],
        situations: Sequence[Situation] = (),
        name: str = "rules",
        declared: Sequence[DeclaredTactic] = (),
    ) -> None:
        self.name = name
        #: Tactics the rule files declared in their ``tactics:`` lists (beside the catalog's).
        self.declared: dict[str, DeclaredTactic] = {t.id: t for t in declared}
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.situations: tuple[Situation, ...] = tuple(situations)
        self._by_id = {r.id: r for r in self.rules}

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __repr__(self) -> str:
        return f"<Ruleset {self.name!r}: {len(self.rules)} rules, {len(self.situations)} situations>"

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError with a suggestion otherwise)."""
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise KeyError(f"no rule '{rule_id}'{did_you_mean(rule_id, self._by_id)}") from None

    def rules_for(self, tactic: str) -> list[Rule]:
        """Every rule recommending ``tactic``, in file order."""
        return [r for r in self.rules if r.tactic == tactic]

    @property
    def tactics(self) -> list[str]:
        """The tactic ids these rules can recommend, sorted."""
        return sorted({r.tactic for r in self.rules})

    @cached_property
    def situation_specificity(self) -> dict[str, int]:
        """How specific each situation is once its own situations are expanded (for ranking)."""
        out: dict[str, int] = {}
        for sit in sorted(self.situations, key=lambda s: s.level):
            out[sit.id] = max(1, specificity(sit.when, out))
        return out

    def specificity(self, rule: Rule) -> int:
        """How many facts the rule's ``when`` pins down (see ranking.py)."""
        return max(1, specificity(rule.when, self.situation_specificity))

    def compiled(self) -> CompiledRuleset:
        """The durable-rules form of this ruleset, built once and shared by every call (see _derived.py)."""
        return derived(self, compile_ruleset)

    @classmethod
    def from_text(cls, text: str, file: str = "<string>") -> Ruleset:
        """Build a ruleset from the YAML text of one rule file (handy in tests)."""
        return _build([(file, text)], name=Path(file).stem or "rules")

    @classmethod
    def merge(cls, *rulesets: Ruleset, name: str | None = None) -> Ruleset:
        """One ruleset out of several (duplicate rule or situation ids are an error)."""
        rules = [r for rs in rulesets for r in rs.rules]
        # the same situation (same id, file and line: a built-in one that two rulesets both use) is kept once
        unique: dict[tuple[str, str, int], Situation] = {}
        for sit in (s for rs in rulesets for s in rs.situations):
            unique.setdefault((sit.id, sit.file, sit.line), sit)
        situations = _stratify(list(unique.values()))
        declared = [t for rs in rulesets for t in rs.declared.values()]
        _check_duplicates(rules, situations)
        return _loaded(cls(rules, situations, name or "+".join(rs.name for rs in rulesets), declared))


# -- loading -----------------------------------------------------------------------------------


def _rule_files(path: Path) -> list[Path]:
    try:
        return _list_rule_files(path)
    except RulesetError:
        raise
    except OSError as exc:  # a name too long, a folder we may not read, ...
        raise RulesetError(f"cannot read: {exc.strerror or exc}", file=_shown(path)) from None
    except ValueError:  # a NUL byte in the path
        raise RulesetError("not a usable path", file=_shown(path)) from None


def _shown(path: PathLike, limit: int = 200) -> str:
    """A path for an error message, cut to a bounded length."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


def read_rule_file(file: Path) -> str:
    """The text of one rule file: a regular file, its size checked before it is read, UTF-8."""
    try:
        with file.open("rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise RulesetError("not a regular file", file=_shown(file))
            if info.st_size > MAX_RULE_FILE_BYTES:
                raise RulesetError(f"file is larger than {MAX_RULE_FILE_BYTES} bytes", file=_shown(file))
            data = fh.read(MAX_RULE_FILE_BYTES + 1)
    except RulesetError:
        raise
    except OSError as exc:
        raise RulesetError(f"cannot read: {exc.strerror or type(exc).__name__}", file=_shown(file)) from None
    except ValueError:
        raise RulesetError("not a usable path", file=_shown(file)) from None
    if len(data) > MAX_RULE_FILE_BYTES:
        raise RulesetError(f"file is larger than {MAX_RULE_FILE_BYTES} bytes", file=_shown(file))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RulesetError("not UTF-8 text", file=_shown(file)) from None


def _list_rule_files(path: Path) -> list[Path]:
    if not path.exists():
        raise RulesetError("no such file or folder", file=_shown(path))
    if path.is_file():
        return [path]
    root = path.resolve()
    files = []
    for candidate in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
        if candidate.name.endswith(SCENARIO_SUFFIX) or not candidate.is_file():
            continue
        real = candidate.resolve()
        if real.parent != root and root not in real.parents:
            raise RulesetError(
                f"links outside the ruleset folder (to {real}); refusing to follow it", file=str(candidate)
            )
        files.append(candidate)
    if not files:
        raise RulesetError("folder holds no rule files (*.yaml)", file=str(path))
    if len(files) > MAX_FILES:
        raise RulesetError(f"more than {MAX_FILES} rule files", file=str(path))
    return files


def load_ruleset(path: PathLike | Iterable[PathLike]) -> Ruleset:
    """Load one rule file, a folder of them (``*.yaml``, not recursive), or several paths, as one Ruleset.

    ``"builtin"`` in a list of paths stands for the built-in rule files, so
    ``load_ruleset(["builtin", "my_rules/"])`` is the built-in rules plus yours. Rules may name the
    built-in situations (``situation.talks_stuck``) without loading them: they are added when named.

    Files are read again on every call, but when each one's resolved path and content are
    those of a ruleset loaded before (one of the last ``LOADED_CACHE_SIZE``), that ruleset is
    returned instead of being parsed, checked and compiled again: restoring saved
    negotiations costs a hash, not a load.
    """
    return _load(path, cached=True)


_loaded_cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], Ruleset] = OrderedDict()
_loaded_lock = threading.Lock()


def _load(path: PathLike | Iterable[PathLike], cached: bool) -> Ruleset:
    given = [path] if isinstance(path, (str, Path)) else list(path)
    paths = [builtin_ruleset_dir() if str(p) == BUILTIN else Path(p) for p in given]
    if not paths:
        raise RulesetError("no rule files given")
    sources: list[tuple[str, str]] = []
    for p in paths:
        for file in _rule_files(p):
            sources.append((str(file), read_rule_file(file)))
    stems = [BUILTIN if str(g) == BUILTIN else p.stem for g, p in zip(given, paths, strict=True)]
    name = "+".join(stems)
    if not cached:
        return _build(sources, name=name)
    key = (name, tuple((_resolved(file), hashlib.sha256(text.encode()).hexdigest()) for file, text in sources))
    with _loaded_lock:
        found = _loaded_cache.get(key)
        if found is not None:
            _loaded_cache.move_to_end(key)
            return found
    ruleset = _build(sources, name=name)
    with _loaded_lock:
        _loaded_cache[key] = ruleset
        while len(_loaded_cache) > LOADED_CACHE_SIZE:
            _loaded_cache.popitem(last=False)
    return ruleset


def _resolved(file: str) -> str:
    try:
        return str(Path(file).resolve())
    except (OSError, ValueError, RuntimeError):
        return file


def _build(sources: Sequence[tuple[str, str]], name: str) -> Ruleset:
    docs = [(file, load_yaml(text, file)) for file, text in sources]
    raw_situations: list[tuple[str, LineDict, str]] = []
    raw_rules: list[tuple[str, LineDict, str]] = []
    raw_tactics: list[tuple[str, LineDict, str]] = []
    for file, doc in docs:
        if doc is None:
            raise RulesetError("file is empty", file=file)
        if not isinstance(doc, dict):
            raise RulesetError("a rule file is a mapping with a 'rules' list", file=file, line=line_of(doc, 1))
        for key in doc:
            if key not in FILE_KEYS:
                raise RulesetError(
                    f"unknown top-level key '{key}'{did_you_mean(key, FILE_KEYS)}",
                    file=file,
                    line=_kline(doc, key),
                )
        if "rules" not in doc and "situations" not in doc and "tactics" not in doc:
            raise RulesetError("no 'rules' list", file=file, line=line_of(doc, 1))
        set_name = doc.get("ruleset", Path(file).stem)
        if not isinstance(set_name, str) or not set_name:
            raise RulesetError("'ruleset' is a name", file=file, line=_kline(doc, "ruleset"))
        for key, bucket in (("rules", raw_rules), ("situations", raw_situations), ("tactics", raw_tactics)):
            items = doc.get(key, [])
            if not isinstance(items, list):
                raise RulesetError(f"'{key}' must be a list", file=file, line=_kline(doc, key))
            for i, item in enumerate(items):
                item_line = items.item_lines[i] if isinstance(items, LineList) else None
                if not isinstance(item, LineDict):
                    raise RulesetError(f"each entry of '{key}' is a mapping", file=file, line=item_line)
                bucket.append((file, item, set_name))
    declared_ids = [_id(file, item, "situation") for file, item, _ in raw_situations]
    # the built-in situations may be named by any rule file without loading them (declared ones win)
    builtin = {s.id: s for s in _builtin_situations() if s.id not in declared_ids} if raw_rules else {}
    known = [*declared_ids, *builtin]
    situations = [_situation(file, item, known) for file, item, _ in raw_situations]
    rules = [_rule(file, item, set_name, known) for file, item, set_name in raw_rules]
    situations += _needed(builtin, [s.when for s in situations] + [c for r in rules for c in (r.when, r.unless) if c])
    situations = _stratify(situations)
    _check_duplicates(rules, situations)
    declared = [_tactic(file, item) for file, item, _ in raw_tactics]
    _check_declared(declared)
    return _loaded(Ruleset(rules, situations, name, declared))


def _builtin_situations() -> list[Situation]:
    """The situations of the built-in ``situations.yaml`` (parsed once per process, never run alone)."""
    global _builtin_sits
    if _builtin_sits is None:
        file = builtin_ruleset_dir() / "situations.yaml"
        doc = load_yaml(file.read_text(encoding="utf-8"), str(file))
        items = [item for item in doc.get("situations", []) if isinstance(item, LineDict)]
        ids = [_id(str(file), item, "situation") for item in items]
        _builtin_sits = [_situation(str(file), item, ids) for item in items]
    return _builtin_sits


_builtin_sits: list[Situation] | None = None


def builtin_situations_named(declared: Sequence[str], conditions: Sequence[Condition]) -> list[Situation]:
    """The built-in situations (not among ``declared``) that ``conditions`` name, with those they build on."""
    available = {s.id: s for s in _builtin_situations() if s.id not in declared}
    return _needed(available, conditions)


def builtin_situation_ids() -> list[str]:
    """The ids of the built-in situations, which any rule file may name."""
    return [s.id for s in _builtin_situations()]


def _needed(available: Mapping[str, Situation], conditions: Sequence[Condition]) -> list[Situation]:
    """The available situations the conditions name, with the ones those build on."""
    wanted: dict[str, Situation] = {}
    todo = [name for cond in conditions for name in situations_named(cond)]
    while todo:
        name = todo.pop()
        if name in available and name not in wanted:
            wanted[name] = available[name]
            todo.extend(situations_named(available[name].when))
    return [s for s in available.values() if s.id in wanted]


def _tactic(file: str, item: LineDict) -> DeclaredTactic:
    """One entry of a rule file's ``tactics:`` list."""
    tid = item.get("id")
    if not isinstance(tid, str) or not TACTIC_RE.fullmatch(tid):
        hint = f" (did you mean '{valid_id(tid)}'?)" if isinstance(tid, str) and tid.strip() else ""
        raise RulesetError(
            f"each tactic needs an 'id' like family.name (lower-case words joined by dots), got {tid!r}{hint}",
            file=file,
            line=_kline(item, "id"),
        )
    _unknown_keys(file, item, TACTIC_KEYS, tid)
    sources = _sources(file, item, tid) if "sources" in item else ()
    return DeclaredTactic(
        id=tid,
        move=_text(file, item, "move", tid),
        fits=_text(file, item, "fits", tid, required=False),
        never=_text(file, item, "never", tid, required=False),
        sources=sources,
        file=file,
        line=item.line,
    )


def _check_declared(declared: Sequence[DeclaredTactic]) -> None:
    from ._catalog import CATALOG

    seen: dict[str, DeclaredTactic] = {}
    for tactic in declared:
        if tactic.id in CATALOG:
            raise RulesetError(
                f"tactic '{tactic.id}' is already in the catalog; declare only your own tactics",
                file=tactic.file,
                line=tactic.line,
                rule_id=tactic.id,
            )
        first = seen.get(tactic.id)
        if first is not None:
            raise RulesetError(
                f"duplicate tactic id, first declared at {first.file}:{first.line}",
                file=tactic.file,
                line=tactic.line,
                rule_id=tactic.id,
            )
        seen[tactic.id] = tactic


def _loaded(ruleset: Ruleset) -> Ruleset:
    """Load the ruleset into durable-rules now, so a rule the engine refuses fails at load time."""
    from ._engine import engine_for

    engine_for(ruleset)
    return ruleset


def _kline(node: Any, key: str) -> int | None:
    return node.line_of(key) if isinstance(node, LineDict) else line_of(node)


def valid_id(text: str) -> str:
    """The nearest valid id to ``text`` (lower case, spaces and other characters as ``_``, no empty words)."""
    words = [re.sub(r"[^a-z0-9_-]+", "_", w.strip().lower()).strip("_") for w in str(text).split(".")]
    return ".".join(w for w in words if w) or "my_rule"


#: A situation id is one word (no dots): it becomes part of a fact key, ``situation__<id>``.
SITUATION_ID_RE = re.compile(r"[a-z0-9_-]+")


def _id(file: str, item: LineDict, what: str) -> str:
    value = item.get("id")
    pattern = SITUATION_ID_RE if what == "situation" else ID_RE
    if isinstance(value, str) and what == "situation" and "." in value and ID_RE.fullmatch(value):
        raise RulesetError(
            f"a situation id is one word of letters, digits, _ and - (no dots), got {value!r}"
            f" (did you mean '{value.replace('.', '_')}'?)",
            file=file,
            line=_kline(item, "id"),
        )
    if not isinstance(value, str) or not pattern.fullmatch(value):
        hint = f" (did you mean '{valid_id(value)}'?)" if isinstance(value, str) and value.strip() else ""
        raise RulesetError(
            f"each {what} needs an 'id' of lower-case words (letters, digits, _ and -) joined by dots,"
            f" got {value!r}{hint}",
            file=file,
            line=_kline(item, "id"),
        )
    return value


def _unknown_keys(file: str, item: LineDict, allowed: Sequence[str], rule_id: str) -> None:
    for key in item:
        if key not in allowed:
            raise RulesetError(
                f"unknown key '{key}'{did_you_mean(key, allowed)}",
                file=file,
                line=item.line_of(key),
                rule_id=rule_id,
            )


def _text(file: str, item: LineDict, key: str, rule_id: str, required: bool = True) -> str:
    value = item.get(key)
    if not required and (value is None or (isinstance(value, str) and not value.strip())):
        return ""
    if not isinstance(value, str) or not value.strip():
        raise RulesetError(f"'{key}' must be non-empty text", file=file, line=item.line_of(key), rule_id=rule_id)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no JSON or terminal could show it
        raise RulesetError(
            f"'{key}' holds a character that is not text", file=file, line=item.line_of(key), rule_id=rule_id
        ) from None
    return " ".join(value.split())


def _situation(file: str, item: LineDict, known: Sequence[str]) -> Situation:
    sid = _id(file, item, "situation")
    try:
        return _parse_situation(file, item, known, sid)
    except RulesetError as exc:  # the loader's helpers say "rule"; this is a situation
        raise RulesetError(exc.reason, file=exc.file, line=exc.line, rule_id=exc.rule_id, kind="situation") from None


def _parse_situation(file: str, item: LineDict, known: Sequence[str], sid: str) -> Situation:
    _unknown_keys(file, item, SITUATION_KEYS, sid)
    if "when" not in item:
        raise RulesetError("a situation needs 'when'", file=file, line=item.line, rule_id=sid)
    parser = ConditionParser(file, sid, known)
    when = parser.parse(item["when"], item.line_of("when"))
    description = _text(file, item, "description", sid, required=False) or sid.replace("_", " ")
    return Situation(sid, description, when, file, item.line)


def _stratify(situations: list[Situation]) -> list[Situation]:
    """Give each situation a level above every situation it builds on; a cycle, or more than
    ``MAX_SITUATION_LEVELS`` levels, is an error. Iterative: a chain of any length is fine to check."""
    by_id = {s.id: s for s in situations}
    deps = {s.id: sorted(d for d in situations_named(s.when) if d in by_id) for s in situations}
    levels: dict[str, int] = {}
    for start in by_id:
        if start in levels:
            continue
        trail: list[str] = [start]
        on_trail = {start}
        while trail:
            sid = trail[-1]
            pending = next((d for d in deps[sid] if d not in levels), None)
            if pending is None:
                levels[sid] = 1 + max((levels[d] for d in deps[sid]), default=-1)
                if levels[sid] >= MAX_SITUATION_LEVELS:
                    sit = by_id[sid]
                    raise RulesetError(
                        f"situations build on each other more than {MAX_SITUATION_LEVELS} levels deep",
                        file=sit.file,
                        line=sit.line,
                        rule_id=sid,
                        kind="situation",
                    )
                trail.pop()
                on_trail.discard(sid)
            elif pending in on_trail:
                cycle = " -> ".join((*trail[trail.index(pending) :], pending))
                sit = by_id[pending]
                raise RulesetError(
                    f"situations build on each other in a cycle: {cycle}",
                    file=sit.file,
                    line=sit.line,
                    rule_id=pending,
                    kind="situation",
                )
            else:
                if len(trail) > MAX_SITUATION_LEVELS:
                    sit = by_id[pending]
                    raise RulesetError(
                        f"situations build on each other more than {MAX_SITUATION_LEVELS} levels deep",
                        file=sit.file,
                        line=sit.line,
                        rule_id=pending,
                        kind="situation",
                    )
                trail.append(pending)
                on_trail.add(pending)
    return [Situation(s.id, s.description, s.when, s.file, s.line, levels[s.id]) for s in situations]


def _rule(file: str, item: LineDict, set_name: str, situations: Sequence[str]) -> Rule:
    rid = _id(file, item, "rule")
    _unknown_keys(file, item, RULE_KEYS, rid)
    for key in ("tactic", "move", "rationale", "when", "sources"):
        if key not in item:
            raise RulesetError(f"missing '{key}'", file=file, line=item.line, rule_id=rid)
    tactic = item["tactic"]
    if not isinstance(tactic, str) or not TACTIC_RE.fullmatch(tactic):
        hint = f" (did you mean '{valid_id(tactic)}'?)" if isinstance(tactic, str) and tactic.strip() else ""
        raise RulesetError(
            f"'tactic' is an id like family.name (lower-case words joined by dots), got {tactic!r}{hint}",
            file=file,
            line=item.line_of("tactic"),
            rule_id=rid,
        )
    parser = ConditionParser(file, rid, situations)
    when = parser.parse(item["when"], item.line_of("when"))
    unless = parser.parse(item["unless"], item.line_of("unless")) if "unless" in item else None
    unless_reason = _text(file, item, "unless_reason", rid, required=False)
    if unless is not None and not unless_reason:
        raise RulesetError(
            "'unless' needs an 'unless_reason' (it is shown to the user)",
            file=file,
            line=item.line_of("unless"),
            rule_id=rid,
        )
    if unless is None and unless_reason:
        raise RulesetError(
            "'unless_reason' without 'unless'", file=file, line=item.line_of("unless_reason"), rule_id=rid
        )
    unless_unknown = item.get("unless_unknown", "recommend")
    if unless_unknown not in UNLESS_UNKNOWN:
        raise RulesetError(
            f"'unless_unknown' is one of {', '.join(UNLESS_UNKNOWN)}, got {unless_unknown!r}"
            f"{did_you_mean(str(unless_unknown), UNLESS_UNKNOWN)}",
            file=file,
            line=item.line_of("unless_unknown"),
            rule_id=rid,
        )
    if unless is None and "unless_unknown" in item:
        raise RulesetError(
            "'unless_unknown' without 'unless'", file=file, line=item.line_of("unless_unknown"), rule_id=rid
        )
    weight = item.get("weight", 0.5)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight <= 1:
        raise RulesetError(
            f"'weight' is a number in [0, 1], got {weight!r}",
            file=file,
            line=item.line_of("weight"),
            rule_id=rid,
        )
    rationale = _text(file, item, "rationale", rid)
    _check_placeholders(file, item, rid, rationale)
    by_side = _by_side(file, item, rid)
    return Rule(
        id=rid,
        tactic=tactic,
        move=_text(file, item, "move", rid),
        rationale=rationale,
        when=when,
        weight=float(weight),
        sources=_sources(file, item, rid),
        file=file,
        line=item.line,
        unless=unless,
        unless_reason=unless_reason,
        unless_unknown=str(unless_unknown),
        cautions=_cautions(file, item, rid),
        by_side=by_side,
        ruleset=set_name,
        lines=dict(item.key_lines),
    )


def _check_placeholders(file: str, item: LineDict, rid: str, rationale: str) -> None:
    scalar = [p for p, spec in state_fields().items() if spec.kind != "list"]
    for name in PLACEHOLDER_RE.findall(rationale):
        if name not in scalar:
            raise RulesetError(
                f"rationale names unknown field '{{{name}}}'{did_you_mean(name, scalar)}",
                file=file,
                line=item.line_of("rationale"),
                rule_id=rid,
            )


SIDES = ("buyer", "seller")


def _by_side(file: str, item: LineDict, rid: str) -> dict[str, tuple[str, str]]:
    """``by_side: {buyer: {move, rationale}, seller: {...}}``: wording for one side (each key optional)."""
    value = item.get("by_side")
    if value is None:
        return {}
    line = item.line_of("by_side")
    if not isinstance(value, LineDict) or not value:
        raise RulesetError("'by_side' maps buyer/seller to {move, rationale}", file=file, line=line, rule_id=rid)
    out: dict[str, tuple[str, str]] = {}
    for side, wording in value.items():
        side_line = value.line_of(side)
        if side not in SIDES:
            raise RulesetError(
                f"unknown side '{side}'{did_you_mean(str(side), SIDES)} (one of buyer, seller)",
                file=file,
                line=side_line,
                rule_id=rid,
            )
        if not isinstance(wording, LineDict):
            raise RulesetError(f"'{side}' is a mapping {{move, rationale}}", file=file, line=side_line, rule_id=rid)
        _unknown_keys(file, wording, ("move", "rationale"), rid)
        move = _text(file, wording, "move", rid, required=False) or _text(file, item, "move", rid)
        rationale = _text(file, wording, "rationale", rid, required=False) or _text(file, item, "rationale", rid)
        _check_placeholders(file, wording, rid, rationale)
        out[str(side)] = (move, rationale)
    return out


def _cautions(file: str, item: LineDict, rid: str) -> tuple[str, ...]:
    value = item.get("cautions", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesetError("'cautions' is a list of texts", file=file, line=item.line_of("cautions"), rule_id=rid)
    return tuple(" ".join(v.split()) for v in value)


def _sources(file: str, item: LineDict, rid: str) -> tuple[SourceRef, ...]:
    value = item.get("sources")
    line = item.line_of("sources")
    if not isinstance(value, list) or not value:
        raise RulesetError("'sources' needs at least one {document, section}", file=file, line=line, rule_id=rid)
    out = []
    for i, src in enumerate(value):
        src_line = value.item_lines[i] if isinstance(value, LineList) else line
        if not isinstance(src, dict):
            raise RulesetError("each source is a mapping {document, section}", file=file, line=src_line, rule_id=rid)
        for key in src:
            if key not in ("document", "section"):
                raise RulesetError(
                    f"unknown source key '{key}'{did_you_mean(key, ['document', 'section'])}",
                    file=file,
                    line=src_line,
                    rule_id=rid,
                )
        doc, section = src.get("document"), src.get("section")
        if not isinstance(doc, str) or not doc.strip() or not isinstance(section, str) or not section.strip():
            raise RulesetError(
                "a source needs a 'document' and a 'section' (text)", file=file, line=src_line, rule_id=rid
            )
        out.append(SourceRef(doc.strip(), section.strip()))
    return tuple(out)


def _check_duplicates(rules: Sequence[Rule], situations: Sequence[Situation]) -> None:
    seen: dict[str, tuple[str, int]] = {}
    items: list[Rule | Situation] = [*situations, *rules]
    for item in items:
        kind = "situation" if isinstance(item, Situation) else "rule"
        key = f"{kind}:{item.id}"
        if key in seen:
            first_file, first_line = seen[key]
            raise RulesetError(
                f"duplicate {kind} id, first defined at {first_file}:{first_line}",
                file=item.file,
                line=item.line,
                rule_id=item.id,
            )
        seen[key] = (item.file, item.line)


# -- built-in and resolution -------------------------------------------------------------------

_builtin: Ruleset | None = None
_builtin_lock = threading.Lock()
_path_cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], Ruleset] = {}


def builtin_ruleset_dir() -> Path:
    """The folder of built-in rule files: inside the installed package, or the repository's ``rulesets/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rulesets", here.parent / "rulesets"):
        if candidate.is_dir():
            return candidate
    raise RulesetError("the built-in rulesets are missing from this installation", file=str(here / "rulesets"))


def builtin_ruleset() -> Ruleset:
    """The built-in rulesets, loaded and validated once per process."""
    global _builtin
    if _builtin is None:
        with _builtin_lock:
            if _builtin is None:
                rs = _load(builtin_ruleset_dir(), cached=False)  # renamed below: never a shared cached object
                rs.name = "builtin"
                _builtin = rs
    return _builtin


def resolve_ruleset(ruleset: Ruleset | PathLike | Sequence[PathLike] | None) -> Ruleset:
    """None or ``"builtin"`` -> built-in; a path or a list of paths (``["builtin", "my_rules/"]``) -> loaded
    (cached until one of its files changes); a Ruleset -> itself."""
    if ruleset is None or (isinstance(ruleset, str) and ruleset == BUILTIN):
        return builtin_ruleset()
    if isinstance(ruleset, Ruleset):
        return ruleset
    if isinstance(ruleset, (list, tuple)):
        paths = [builtin_ruleset_dir() if str(p) == BUILTIN else Path(p) for p in ruleset]
        stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for path in paths for f in _rule_files(path))
        list_key = (str([str(p) for p in paths]), stamps)
        cached = _path_cache.get(list_key)
        if cached is None:
            cached = load_ruleset(ruleset)
            if len(_path_cache) > 32:
                _path_cache.clear()
            _path_cache[list_key] = cached
        return cached
    if isinstance(ruleset, (str, Path)):
        path = Path(ruleset)
        try:
            stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in _rule_files(path))
            key = (str(path.resolve()), stamp)
        except (OSError, ValueError, RuntimeError) as exc:
            if isinstance(exc, RulesetError):
                raise
            raise RulesetError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", file=_shown(path)) from None
        cached = _path_cache.get(key)
        if cached is None:
            cached = load_ruleset(path)
            if len(_path_cache) > 32:
                _path_cache.clear()
            _path_cache[key] = cached
        return cached
    raise TypeError(f"ruleset must be a Ruleset, a path, a list of paths or None, not {type(ruleset).__name__}")
