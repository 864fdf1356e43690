"""Tools for testing rulesets: assertion helpers, an ``Advisor`` bound to a ruleset, hypothesis strategies.

    from negotiation_rules.testing import assert_recommends, assert_set_aside

    def test_an_early_claim_of_a_superior_lets_us_ask_for_the_decision_maker():
        assert_recommends({"phase": "opening", "counterpart": {"authority": "claimed_higher"}},
                          "authority.engage_decision_maker", top=3)

Every helper runs ``advise()`` once, checks one expectation and returns the ``Advice`` (so a
test can go on checking it). A failure raises ``AssertionError`` whose message is the whole
story: what was expected, the state, the ranked advice for it (rank, score, tactic, rule; the
tactics set aside with their reasons) and, for each tactic in question, ``explain()``'s why or
why-not (every condition with ``[x]``/``[ ]`` and the state's actual value), so the rule author
sees the fix without a debugger.

A tactic id the ruleset does not know is a mistake in the test, not a passing "not
recommended": it raises ``UnknownTacticError`` (a ``ValueError``) with a "did you mean".

The pytest plugin (``negotiation_rules.testing._plugin``: scenario files, the ``advisor``
fixture, ``--rules-coverage``) and the hypothesis strategies
(``negotiation_rules.testing.strategies``, needs hypothesis) build on this module; importing
it needs neither pytest nor hypothesis.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._advice import Advice
from .._advisor import advise
from .._errors import UnknownTacticError, did_you_mean
from .._evaluator import check_engine
from .._explain import Explanation, explain
from .._pipeline import PlaybookArg, RulesetArg
from .._playbook import Playbook, resolve_playbook
from .._render import ranking_blocks, to_text
from .._ruleset import Ruleset, resolve_ruleset
from .._state import NegotiationState, parse_state

__all__ = [
    "Advisor",
    "Expectation",
    "UnknownTacticError",
    "assert_not_recommends",
    "assert_ranks_before",
    "assert_recommends",
    "assert_set_aside",
    "check",
    "format_advice",
]

StateArg = NegotiationState | dict[str, Any] | str


@dataclass(frozen=True)
class Expectation:
    """One thing a test expects of the advice for a state; ``failure(advice)`` says how it was missed.

    ``kind`` is ``recommends`` (``top``: within the N best; ``top=1``: first),
    ``not_recommends`` (``top``: not within the N best), ``set_aside`` (``reason_contains``:
    a case-insensitive part of the reason) or ``ranks_before`` (``tactics`` is the pair).
    """

    kind: Literal["recommends", "not_recommends", "set_aside", "ranks_before"]
    tactics: tuple[str, ...]
    top: int | None = None
    reason_contains: str | None = None

    def __post_init__(self) -> None:
        wanted = 2 if self.kind == "ranks_before" else 1
        if len(self.tactics) != wanted or not all(isinstance(t, str) and t for t in self.tactics):
            raise ValueError(f"{self.kind} takes {wanted} tactic id(s), got {self.tactics!r}")
        if self.top is not None and (not isinstance(self.top, int) or isinstance(self.top, bool) or self.top < 1):
            raise ValueError(f"top must be a whole number >= 1 (a test that cannot pass otherwise), got {self.top!r}")

    def describe(self) -> str:
        """The expectation in words, e.g. ``'authority.provoke' within the top 3``."""
        tactic = self.tactics[0]
        if self.kind == "recommends":
            return f"recommends '{tactic}'{_within(self.top)}"
        if self.kind == "not_recommends":
            return f"does not recommend '{tactic}'{_within(self.top)}"
        if self.kind == "set_aside":
            reason = f" with a reason containing {self.reason_contains!r}" if self.reason_contains else ""
            return f"sets aside '{tactic}'{reason}"
        return f"ranks '{tactic}' before '{self.tactics[1]}'"

    def failure(self, advice: Advice) -> str | None:
        """None when ``advice`` meets the expectation, else one line saying what happened instead."""
        tactic = self.tactics[0]
        if self.kind == "recommends":
            rank = advice.rank_of(tactic)
            if rank is not None and (self.top is None or rank <= self.top):
                return None
            if rank is None:
                return f"expected '{tactic}' to be recommended{_within(self.top)}, but {_fate(advice, tactic)}"
            return f"expected '{tactic}'{_within(self.top)}, but {_fate(advice, tactic)}"
        if self.kind == "not_recommends":
            rank = advice.rank_of(tactic)
            if rank is None or (self.top is not None and rank > self.top):
                return None
            return f"expected '{tactic}' not to be recommended{_within(self.top)}, but {_fate(advice, tactic)}"
        if self.kind == "set_aside":
            aside = advice.set_aside_for(tactic)
            if aside is None:
                return f"expected '{tactic}' to be set aside, but {_fate(advice, tactic)}"
            if self.reason_contains and self.reason_contains.casefold() not in aside.reason.casefold():
                return (
                    f"expected '{tactic}' to be set aside with a reason containing {self.reason_contains!r}, "
                    f"but the reason is {aside.reason!r}"
                )
            return None
        first, second = self.tactics
        rank_first, rank_second = advice.rank_of(first), advice.rank_of(second)
        if rank_first is not None and rank_second is not None and rank_first < rank_second:
            return None
        if rank_first is None or rank_second is None:
            missing = first if rank_first is None else second
            return (
                f"expected '{first}' to rank before '{second}' (both recommended), "
                f"but {_fate(advice, missing, named=True)}"
            )
        return f"expected '{first}' to rank before '{second}', but {_fate(advice, first, named=True)} and " + _fate(
            advice, second, named=True
        )


def _within(top: int | None) -> str:
    if top is None:
        return ""
    return " first" if top == 1 else f" within the top {top}"


def _fate(advice: Advice, tactic: str, named: bool = False) -> str:
    """What became of ``tactic`` in ``advice``, as the end of a sentence."""
    who = f"'{tactic}'" if named else "it"
    rec = advice.get(tactic)
    if rec is not None:
        rank = advice.rank_of(tactic)
        total = len(advice.recommendations)
        return f"{who} is ranked {rank} of {total} (score {rec.score}, rule '{rec.rule_id}')"
    aside = advice.set_aside_for(tactic)
    if aside is not None:
        by = "the playbook" if aside.by == "playbook" else f"rule '{aside.rule_id}'"
        if aside.by == "unknown":
            return f"{who} was set aside until facts are known, by {by}: {aside.reason}"
        return f"{who} was set aside by {by}: {aside.reason}"
    return f"no rule for {who} matched" if named else "no rule for it matched"


# -- the failure message -----------------------------------------------------------------------


def format_advice(advice: Advice) -> str:
    """The ranked advice as a table (rank, score, tactic, rule), then the tactics set aside with their reasons."""
    return to_text(ranking_blocks(advice))


def _state_text(state: NegotiationState) -> str:
    shown = state.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(shown, ensure_ascii=False) if shown else "{} (every field at its default)"


def failure_message(
    state: NegotiationState,
    advice: Advice,
    failures: Sequence[str],
    explanations: Iterable[Explanation],
    *,
    playbook: Playbook | None = None,
) -> str:
    """The text of a failed expectation: what went wrong, the state, the ranked advice, the why / why-not."""
    lines = list(failures)
    lines.append("")
    lines.append(f"state (fields that differ from the defaults): {_state_text(state)}")
    policy = f", playbook '{playbook.name}'" if playbook is not None else ""
    lines.append(f"ranked advice (ruleset '{advice.ruleset}'{policy}):")
    lines.append(format_advice(advice))
    for expl in explanations:
        lines.append("")
        lines.append(f"why {'' if expl.verdict == 'recommended' else 'not '}'{expl.tactic}':")
        lines.append(str(expl))
    return "\n".join(lines)


# -- checking ----------------------------------------------------------------------------------


def unknown_tactic_hint(ruleset: Ruleset, tactic: str) -> str | None:
    """None if ``ruleset`` can recommend ``tactic``; else a hint: the closest tactic id, or the rule id's tactic."""
    if tactic in ruleset.tactics:
        return None
    if tactic in {r.id for r in ruleset.rules}:
        return f" ('{tactic}' is a rule id; its tactic is '{ruleset.rule(tactic).tactic}')"
    return did_you_mean(tactic, ruleset.tactics)


def check_tactics(ruleset: Ruleset, tactics: Iterable[str]) -> None:
    """Every tactic id must be one the ruleset can recommend; otherwise the test itself is wrong."""
    for tactic in tactics:
        hint = unknown_tactic_hint(ruleset, tactic)
        if hint is not None:
            raise UnknownTacticError(f"no tactic '{tactic}' in ruleset '{ruleset.name}'{hint}")


def check(
    state: StateArg,
    expectations: Sequence[Expectation],
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    context: str | None = None,
    engine: str = "durable",
) -> Advice:
    """Advise once and check every expectation; if any is missed, raise AssertionError listing them all.

    The message starts with the missed expectations (one line each, so pytest's short summary
    shows the first); ``context`` (optional) follows them, e.g. the scenario's name and place.
    ``engine`` is ``advise()``'s (``durable`` or ``compiled``).
    """
    parsed = parse_state(state)
    rules = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    check_tactics(rules, (t for e in expectations for t in e.tactics))
    advice = advise(parsed, ruleset=rules, playbook=policy, questions=0, engine=engine)
    missed = [(e, msg) for e in expectations if (msg := e.failure(advice)) is not None]
    if not missed:
        return advice
    tactics = list(dict.fromkeys(t for e, _ in missed for t in e.tactics))
    explanations = [explain(parsed, t, ruleset=rules, playbook=policy) for t in tactics]
    failures = [msg for _, msg in missed]
    if context:
        failures.append(context)
    raise AssertionError(failure_message(parsed, advice, failures, explanations, playbook=policy))


def assert_recommends(
    state: StateArg,
    tactic: str,
    *,
    top: int | None = None,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    engine: str = "durable",
) -> Advice:
    """``tactic`` is recommended for ``state`` (with ``top=N``: within the N best; ``top=1``: first)."""
    expectation = Expectation("recommends", (tactic,), top=top)
    return check(state, [expectation], ruleset=ruleset, playbook=playbook, engine=engine)


def assert_not_recommends(
    state: StateArg,
    tactic: str,
    *,
    top: int | None = None,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    engine: str = "durable",
) -> Advice:
    """``tactic`` is not recommended for ``state`` (with ``top=N``: not within the N best)."""
    expectation = Expectation("not_recommends", (tactic,), top=top)
    return check(state, [expectation], ruleset=ruleset, playbook=playbook, engine=engine)


def assert_set_aside(
    state: StateArg,
    tactic: str,
    reason_contains: str | None = None,
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    engine: str = "durable",
) -> Advice:
    """``tactic`` fitted ``state`` but was set aside (by a rule's ``unless`` or the playbook).

    ``reason_contains``: a part of the reason shown to the user, compared ignoring case.
    """
    expectation = Expectation("set_aside", (tactic,), reason_contains=reason_contains)
    return check(state, [expectation], ruleset=ruleset, playbook=playbook, engine=engine)


def assert_ranks_before(
    state: StateArg,
    first: str,
    second: str,
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    engine: str = "durable",
) -> Advice:
    """Both tactics are recommended for ``state`` and ``first`` ranks above ``second``."""
    expectation = Expectation("ranks_before", (first, second))
    return check(state, [expectation], ruleset=ruleset, playbook=playbook, engine=engine)


class Advisor:
    """``advise()`` bound to one ruleset (and optionally a playbook); the plugin's ``advisor`` fixture.

    ``advisor(state, top=3)`` returns the Advice; ``advisor.ruleset`` is the loaded Ruleset; the
    ``assert_*`` methods are the module's helpers with this ruleset and playbook filled in.
    ``engine`` (``durable`` or ``compiled``) is the engine every call uses.
    """

    def __init__(self, ruleset: RulesetArg = None, playbook: PlaybookArg = None, engine: str = "durable") -> None:
        self.ruleset: Ruleset = resolve_ruleset(ruleset)
        self.playbook: Playbook | None = resolve_playbook(playbook)
        self.engine = check_engine(engine)

    def __repr__(self) -> str:
        policy = f", playbook {self.playbook.name!r}" if self.playbook is not None else ""
        return f"<Advisor {self.ruleset.name!r}: {len(self.ruleset)} rules{policy}>"

    def _playbook(self, playbook: PlaybookArg) -> PlaybookArg:
        return self.playbook if playbook is None else playbook

    def __call__(self, state: StateArg, *, playbook: PlaybookArg = None, top: int | None = None) -> Advice:
        """The advice for ``state`` from this ruleset (``playbook`` overrides the bound one)."""
        return advise(state, ruleset=self.ruleset, playbook=self._playbook(playbook), top=top, engine=self.engine)

    def explain(self, state: StateArg, tactic_or_rule_id: str, *, playbook: PlaybookArg = None) -> Explanation:
        """Why ``tactic_or_rule_id`` was (not) recommended for ``state`` by this ruleset."""
        return explain(state, tactic_or_rule_id, ruleset=self.ruleset, playbook=self._playbook(playbook))

    def assert_recommends(
        self, state: StateArg, tactic: str, *, top: int | None = None, playbook: PlaybookArg = None
    ) -> Advice:
        """See :func:`assert_recommends`."""
        return assert_recommends(
            state, tactic, top=top, ruleset=self.ruleset, playbook=self._playbook(playbook), engine=self.engine
        )

    def assert_not_recommends(
        self, state: StateArg, tactic: str, *, top: int | None = None, playbook: PlaybookArg = None
    ) -> Advice:
        """See :func:`assert_not_recommends`."""
        return assert_not_recommends(
            state, tactic, top=top, ruleset=self.ruleset, playbook=self._playbook(playbook), engine=self.engine
        )

    def assert_set_aside(
        self, state: StateArg, tactic: str, reason_contains: str | None = None, *, playbook: PlaybookArg = None
    ) -> Advice:
        """See :func:`assert_set_aside`."""
        return assert_set_aside(
            state, tactic, reason_contains, ruleset=self.ruleset, playbook=self._playbook(playbook), engine=self.engine
        )

    def assert_ranks_before(self, state: StateArg, first: str, second: str, *, playbook: PlaybookArg = None) -> Advice:
        """See :func:`assert_ranks_before`."""
        return assert_ranks_before(
            state, first, second, ruleset=self.ruleset, playbook=self._playbook(playbook), engine=self.engine
        )
