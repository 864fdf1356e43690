"""negotiation-rules: negotiation know-how as declarative rules on durable-rules.

``advise(state)`` returns ranked, explained, sourced recommended moves.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

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

#: Names loaded on first use, so that ``import negotiation_rules`` needs neither pandas nor Dask
#: (optional extras ``dataframe`` and ``dask``; see docs/batch.md).
_LAZY = {"advise_frame": "._frames", "frame_states": "._frames", "advise_dask": "._dask", "score": "._dask"}


def __getattr__(name: str) -> Any:
    """``advise_frame``, ``frame_states``, ``advise_dask`` and ``score``: imported with their extra on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
