"""What to find out next: the unknown facts whose answer would change the top of the advice the most.

For every unknown field that the rules read and that has a question in the vocabulary, each
possible answer is tried: the state with that answer is evaluated by durable-rules (all of
them in one batch) and ranked, and its top 3 compared with the current top 3. A question's
``impact`` is the mean change over its answers (a new #1 counts 1, each move entering or
leaving the top 3 counts 1/6), so a question whose every answer reshapes the advice comes
first and one that changes nothing is not asked. The cost is one batched evaluation of about
two to four states per unknown field (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._advice import Answer, Question, trusted
from ._conditions import Condition, leaves
from ._derived import derived
from ._engine import engine_for
from ._evaluator import evaluator_for
from ._facts import effective_state
from ._fields import SITUATION_PREFIX, state_fields, value_at
from ._history import trends as history_trends
from ._ranking import ranked_tactics
from ._ruleset import Ruleset
from ._state import NegotiationState
from ._vocabulary import label, words

if TYPE_CHECKING:
    from ._playbook import Playbook

#: The top of the advice a question is judged against.
TOP = 3


def _read_paths(ruleset: Ruleset) -> frozenset[str]:
    """Every state path a rule or situation condition reads (worked out once per ruleset: ``read_paths``)."""
    conds: list[Condition] = [s.when for s in ruleset.situations]
    conds += [c for r in ruleset.rules for c in (r.when, r.unless) if c is not None]
    return frozenset(leaf.path for c in conds for leaf in leaves(c) if not leaf.path.startswith(SITUATION_PREFIX))


def read_paths(ruleset: Ruleset) -> frozenset[str]:
    """Every state path the ruleset's conditions read, kept with the ruleset (see _derived.py)."""
    return derived(ruleset, _read_paths)


def with_value(state: NegotiationState, path: str, value: Any) -> NegotiationState:
    """``state`` with one (possibly nested) field set; the value is one the field accepts."""
    head, _, rest = path.partition(".")
    if not rest:
        return state.model_copy(update={head: value})
    inner = getattr(state, head)
    return state.model_copy(update={head: inner.model_copy(update={rest: value})})


def _effect(before: Sequence[str], after: Sequence[str]) -> tuple[str, float]:
    """What an answer does to the top of the advice, in words, and how much (0 when nothing changes)."""
    parts: list[str] = []
    change = 0.0
    if after[:1] != before[:1]:
        parts.append(f"{after[0]} becomes #1" if after else "no move is left to recommend")
        change += 1.0
    added = [t for t in after if t not in before]
    dropped = [t for t in before if t not in after]
    added_below = [t for t in added if not (after[:1] == [t] and after[:1] != before[:1])]
    if added_below:
        parts.append(f"adds {', '.join(added_below)} to the top {TOP}")
    if dropped:
        parts.append(f"drops {', '.join(dropped)} from the top {TOP}")
    change += (len(added) + len(dropped)) / (2 * TOP)
    if not parts:
        if list(after) != list(before):
            return f"reorders the top {TOP}", 0.1
        return f"no change to the top {TOP}", 0.0
    return "; ".join(parts), change


def ask(
    given: NegotiationState,
    ruleset: Ruleset,
    playbook: Playbook | None,
    before: Sequence[str],
    limit: int,
    trends: Mapping[str, bool] | None = None,
    *,
    engine: str = "durable",
) -> list[Question]:
    """Up to ``limit`` questions for this state, best first (see the module docstring).

    ``engine`` names the evaluator of the answers (``durable`` or ``compiled``), as in ``advise()``.
    """
    if limit <= 0:
        return []
    effective = effective_state(given)
    read = read_paths(ruleset)
    fields = state_fields()
    durable = engine_for(ruleset)
    if trends is None and durable.compiled.uses_trends:
        trends = history_trends(given.history)
    # an answer changes one field, never the history or the issues: their counts and trends are the base's
    base = durable.facts(effective, trends)
    kept = {key: value for key, value in base.items() if key.startswith(("n__", "trend__"))}
    trials: list[tuple[str, Any, dict[str, Any]]] = []
    for path, entry in words().items():
        if entry.question is None or path not in read or not entry.answers:
            continue
        if not fields[path].is_unknown(value_at(effective, path)):
            continue
        for value in entry.answers:
            changed_effective = effective_state(with_value(given, path, value))
            trials.append((path, value, {**kept, **durable.facts.scalars(changed_effective)}))
    if not trials:
        return []
    # what-ifs, not advice given: not observed
    firings = evaluator_for(ruleset, engine).evaluate_many([t[2] for t in trials], observe=False)
    before = list(before[:TOP])
    answers: dict[str, list[tuple[Answer, float]]] = {}
    for (path, value, _), firing in zip(trials, firings, strict=True):
        effect, change = _effect(before, ranked_tactics(ruleset, firing, playbook, TOP))
        answer = trusted(Answer, {"value": value, "label": label(path, value), "effect": effect})
        answers.setdefault(path, []).append((answer, change))
    questions = []
    for path, found in answers.items():
        impact = round(sum(change for _, change in found) / len(found), 4)
        if impact > 0:
            question = words()[path].question
            assert question is not None
            made = {"path": path, "question": question, "answers": [a for a, _ in found], "impact": impact}
            questions.append(trusted(Question, made))
    questions.sort(key=lambda q: (-q.impact, q.path))
    return questions[:limit]
