"""negotiation-rules: negotiation know-how as declarative rules on durable-rules.

``advise(state)`` returns ranked, explained, sourced recommended moves.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from .advice import Advice, Answer, Fact, Question, Recommendation, SetAside, Source
from .advisor import advise
from .batch import advise_many
from .errors import EngineError, NegotiationRulesError, RulesetError, StateError
from .explain import Explanation, explain
from .lint import Finding, lint
from .playbook import Playbook, load_playbook
from .ruleset import Ruleset, load_ruleset
from .session import Negotiation
from .state import Counterpart, Event, Issue, NegotiationState
from .whatif import WhatIf, what_if

__all__ = [
    "Advice",
    "Answer",
    "Counterpart",
    "EngineError",
    "Event",
    "Explanation",
    "Fact",
    "Finding",
    "Issue",
    "Negotiation",
    "NegotiationRulesError",
    "NegotiationState",
    "Playbook",
    "Question",
    "Recommendation",
    "Ruleset",
    "RulesetError",
    "SetAside",
    "Source",
    "StateError",
    "WhatIf",
    "advise",
    "advise_many",
    "explain",
    "lint",
    "load_playbook",
    "load_ruleset",
    "what_if",
]
try:
    __version__ = _metadata.version("negotiation-rules")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
