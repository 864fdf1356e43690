"""The public way to load rules: ``load_ruleset`` and the built-in rulesets, above the loader and the engine.

``_loader.py`` reads rule files into the model (``_model.py``) and yields every mistake;
this module builds the ``Ruleset``, raises the first mistake, and then has durable-rules
check the rules once, so a rule the engine refuses fails here, at load time, with its file,
line and id, whichever engine runs it later (durable-rules builds its rulesets for good on
their first use). Loaded rulesets are cached by their files' content. The loader and the rule
model are imported when rules are first read (the built-in ones on the first ``advise()``), not
with the library: ``import negotiation_rules`` stays close to the cost of its dependencies.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ._compiler import CompiledRuleset, compile_ruleset
from ._conditions import specificity
from ._deferred import import_before_fork
from ._derived import derived
from ._engine import engine_for
from ._errors import RulesetError, did_you_mean
from ._packaged import BUILTIN, builtin_ruleset_dir

if TYPE_CHECKING:
    from ._loader import PathLike
    from ._model import DeclaredTactic, Rule, Situation

__all__ = [
    "LOADED_CACHE_SIZE",
    "Ruleset",
    "builtin_ruleset",
    "builtin_ruleset_dir",
    "load_ruleset",
    "resolve_ruleset",
]

#: Rulesets kept by ``load_ruleset`` (keyed by name and each file's resolved path and content hash).
LOADED_CACHE_SIZE = 32


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
        from ._model import iter_duplicate_errors, stratify

        rules = [r for rs in rulesets for r in rs.rules]
        # the same situation (same id, file and line: a built-in one that two rulesets both use) is kept once
        unique: dict[tuple[str, str, int], Situation] = {}
        for sit in (s for rs in rulesets for s in rs.situations):
            unique.setdefault((sit.id, sit.file, sit.line), sit)
        situations = stratify(list(unique.values()))
        declared = [t for rs in rulesets for t in rs.declared.values()]
        for error in iter_duplicate_errors(rules, situations):
            raise error
        return _loaded(cls(rules, situations, name or "+".join(rs.name for rs in rulesets), declared))


# -- loading -----------------------------------------------------------------------------------


def load_ruleset(path: PathLike | Iterable[PathLike]) -> Ruleset:
    """Load one rule file, a folder of them (``*.yaml``, not recursive), or several paths, as one Ruleset.

    ``"builtin"`` in a list of paths stands for the built-in rule files, so
    ``load_ruleset(["builtin", "my_rules/"])`` is the built-in rules plus yours. Rules may name the
    built-in situations (``situation.talks_stuck``) without loading them: they are added when named.
    The first mistake is raised as a ``RulesetError`` (``iter_ruleset_errors`` yields them all).

    Files are read again on every call, but when each one's resolved path and content are
    those of a ruleset loaded before (one of the last ``LOADED_CACHE_SIZE``), that ruleset is
    returned instead of being parsed, checked and compiled again: restoring saved
    negotiations costs a hash, not a load.
    """
    return _load(path, cached=True)


_loaded_cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], Ruleset] = OrderedDict()
_loaded_lock = threading.Lock()


def _load(path: PathLike | Iterable[PathLike], cached: bool) -> Ruleset:
    """Read, check and (unless cached) build the ruleset of ``path``; the first mistake is raised."""
    from ._loader import as_paths, read_sources

    paths, name = as_paths(path)
    sources, errors = read_sources(paths)
    if errors:
        raise errors[0]
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
    """The resolved path of ``file`` for the cache key (the name as given when it cannot be resolved)."""
    try:
        return str(Path(file).resolve())
    except (OSError, ValueError, RuntimeError):
        return file


def _build(sources: Sequence[tuple[str, str]], name: str) -> Ruleset:
    """The checked Ruleset of these (file, text) pairs; raises the first mistake."""
    from ._loader import read_ruleset

    parts = read_ruleset(sources)
    if parts.errors:
        raise parts.errors[0]
    return _loaded(Ruleset(parts.rules, parts.situations, name, parts.declared))


def _loaded(ruleset: Ruleset) -> Ruleset:
    """Check the ruleset on durable-rules now, so a rule the engine refuses fails at load time (see _engine.py)."""
    engine_for(ruleset)
    return ruleset


# -- built-in and resolution -------------------------------------------------------------------

_builtin: Ruleset | None = None
_builtin_lock = threading.Lock()
_path_cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], Ruleset] = {}


def _after_fork_in_child() -> None:
    """A forked child has only the forking thread: the locks another thread held at the fork are made anew."""
    global _builtin_lock, _loaded_lock
    _builtin_lock = threading.Lock()
    _loaded_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# the rule-file reader is imported on first use: never half-imported in a forked child (see _deferred)
import_before_fork(f"{__package__}._loader", f"{__package__}._catalog", "difflib")


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
    from ._loader import rule_files, shown  # a path: the rule files are read

    if isinstance(ruleset, (list, tuple)):
        paths = [builtin_ruleset_dir() if str(p) == BUILTIN else Path(p) for p in ruleset]
        stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for path in paths for f in rule_files(path))
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
            stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in rule_files(path))
            key = (str(path.resolve()), stamp)
        except (OSError, ValueError, RuntimeError) as exc:
            if isinstance(exc, RulesetError):
                raise
            raise RulesetError(
                f"cannot read: {getattr(exc, 'strerror', None) or exc}", file=shown(path), code="cannot-read"
            ) from None
        cached = _path_cache.get(key)
        if cached is None:
            cached = load_ruleset(path)
            if len(_path_cache) > 32:
                _path_cache.clear()
            _path_cache[key] = cached
        return cached
    raise TypeError(f"ruleset must be a Ruleset, a path, a list of paths or None, not {type(ruleset).__name__}")
