"""The output: ranked, explained, sourced advice (pydantic v2; ``model_dump_json()`` is the wire format)."""

# No ``from __future__ import annotations`` here: pydantic would have to evaluate every field's
# annotation from its text when the class is made, which costs start-up time.

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ._deferred import build_before_fork


class _Out(BaseModel):
    # defer_build: pydantic builds a model's validator and serializer on its first validation or
    # dump (ranking's first advice), not at import; built before a fork (``_deferred``).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Source(_Out):
    """Where a tactic comes from: the source document's file name, its title and a section or passage in it."""

    document: str
    section: str
    title: str = Field(default="", description="the source document's readable title")


class Fact(_Out):
    """One fact a recommendation or a set-aside rests on: a state path and its value."""

    path: str = Field(description="dotted state path, e.g. counterpart.authority")
    value: Any = Field(description="the value it had; never an unknown")
    stated: bool = Field(description="True if the user gave it, False if derived from the history or other fields")


class Answer(_Out):
    """One possible answer to a question, and what it would do to the top of the advice."""

    value: Any
    label: str = Field(default="", description="the answer in plain words")
    effect: str = Field(description="what it changes in the top of the advice, e.g. 'x becomes #1'")


class Question(_Out):
    """An unknown fact worth finding out next, asked as a salesperson would ask it."""

    path: str = Field(description="the unknown state field")
    question: str
    answers: list[Answer] = Field(default_factory=list)
    impact: float = Field(description="how much the answers would change the top of the advice (ranks questions)")


class Recommendation(_Out):
    """One ranked move: what to do, why now, how strongly, and where it comes from."""

    tactic: str
    move: str
    rationale: str
    score: float
    rule_id: str
    basis: list[Fact] = Field(default_factory=list, description="the facts this recommendation rests on")
    sources: list[Source] = Field(min_length=1)
    cautions: list[str] = Field(default_factory=list)
    family: str = ""
    other_rules: list[str] = Field(default_factory=list, description="other rules that also recommended it")


class SetAside(_Out):
    """A tactic considered and not recommended, and why: a "never when", the playbook, or a needed fact unknown."""

    tactic: str
    rule_id: str
    reason: str
    by: Literal["rule", "playbook", "unknown"] = "rule"
    basis: list[Fact] = Field(default_factory=list, description="the facts the block rests on")


class Advice(_Out):
    """Recommendations best first (no tactic twice), plus what was set aside and the situations seen."""

    recommendations: list[Recommendation] = Field(default_factory=list)
    set_aside: list[SetAside] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list, description="what to find out next, best first")
    situations: list[str] = Field(default_factory=list, description="derived situations that held")
    ruleset: str = ""

    @property
    def tactics(self) -> list[str]:
        """The recommended tactic ids, best first."""
        return [r.tactic for r in self.recommendations]

    def get(self, tactic: str) -> Recommendation | None:
        """The recommendation for ``tactic``, or None."""
        return next((r for r in self.recommendations if r.tactic == tactic), None)

    def set_aside_for(self, tactic: str) -> SetAside | None:
        """Why ``tactic`` was set aside, or None if it was not."""
        return next((s for s in self.set_aside if s.tactic == tactic), None)

    def rank_of(self, tactic: str) -> int | None:
        """1-based rank of ``tactic``, or None when it is not recommended."""
        return next((i for i, r in enumerate(self.recommendations, 1) if r.tactic == tactic), None)


M = TypeVar("M", bound=BaseModel)


def trusted(model: type[M], fields: dict[str, Any], fields_set: set[str] | None = None) -> M:
    """An instance of ``model`` from ``fields`` (every field named), not validated again.

    For values that were validated already: the basis's shared Facts (values read off a
    validated state), the batch's models rebuilt from their field values. Only pydantic's
    supported ways are used (no private attribute written): ``model_copy(update=...)`` of a
    prototype with every field set, which is cheaper than ``model_construct`` (it skips the loop
    over defaults), or ``model_construct`` when ``fields_set`` is a subset. The lists in
    ``fields`` are kept as they are. tests/test_batch.py checks the result equals the validated
    model.
    """
    if fields_set is None:
        proto = _prototypes.get(model)
        if proto is None:
            proto = _prototypes.setdefault(model, model.model_construct(set(model.model_fields), **fields))
        return proto.model_copy(update=fields)  # type: ignore[return-value]
    return model.model_construct(fields_set, **fields)


def validated(model: type[M], fields: Mapping[str, Any]) -> M:
    """An instance of ``model`` validated from ``fields`` (every field named) by its pydantic-core validator.

    Ranking's Recommendations, SetAsides and Advice hold model instances (Facts, Sources,
    Recommendations), which pydantic takes as they are, and plain texts and numbers: validating
    that is cheaper than ``trusted``'s copy of a prototype, and every list comes out new (a tuple
    may be given), so no two Advice share a list. ``model_validate`` calls the same validator.
    """
    return model.__pydantic_validator__.validate_python(fields)  # type: ignore[no-any-return]


#: One instance per output model with every field set, copied by ``trusted``.
_prototypes: dict[type[BaseModel], BaseModel] = {}

build_before_fork(Source, Fact, Answer, Question, Recommendation, SetAside, Advice)
