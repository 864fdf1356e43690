"""The output: ranked, explained, sourced advice (pydantic v2; ``model_dump_json()`` is the wire format)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Out):
    """Where a tactic comes from: the source document's file name and the section heading."""

    document: str
    section: str


class Recommendation(_Out):
    """One ranked move: what to do, why now, how strongly, and where it comes from."""

    tactic: str
    move: str
    rationale: str
    score: float
    rule_id: str
    sources: list[Source] = Field(min_length=1)
    cautions: list[str] = Field(default_factory=list)
    family: str = ""
    other_rules: list[str] = Field(default_factory=list, description="other rules that also recommended it")


class SetAside(_Out):
    """A tactic that fitted but was not recommended, and why (a "never when" rule or the playbook)."""

    tactic: str
    rule_id: str
    reason: str
    by: Literal["rule", "playbook"] = "rule"


class Advice(_Out):
    """Recommendations best first (no tactic twice), plus what was set aside and the situations seen."""

    recommendations: list[Recommendation] = Field(default_factory=list)
    set_aside: list[SetAside] = Field(default_factory=list)
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
