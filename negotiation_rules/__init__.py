"""negotiation-rules: negotiation know-how as declarative rules on durable-rules.

``advise(state)`` returns ranked, explained, sourced recommended moves.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from ._advice import Advice, Answer, Fact, Question, Recommendation, SetAside, Source
from ._advisor import advise
from ._batch import advise_many
from ._engine import set_result_cache_size
from ._errors import (
    EngineError,
    NegotiationRulesError,
    RulesetError,
    ScenarioError,
    ScoreError,
    StateError,
    UnknownTacticError,
)
from ._explain import Explanation, RuleExplanation, explain
from ._firing import Firing, subscribe
from ._lint import Finding, lint
from ._playbook import Playbook, load_playbook
from ._ruleset import Ruleset, builtin_ruleset_dir, load_ruleset
from ._session import Negotiation
from ._state import Counterpart, Event, Issue, NegotiationState
from ._whatif import WhatIf, what_if

__all__ = [
    "Advice",
    "Answer",
    "Counterpart",
    "EngineError",
    "Event",
    "Explanation",
    "Fact",
    "Finding",
    "Firing",
    "Issue",
    "Negotiation",
    "NegotiationRulesError",
    "NegotiationState",
    "Playbook",
    "Question",
    "Recommendation",
    "RuleExplanation",
    "Ruleset",
    "RulesetError",
    "ScenarioError",
    "ScoreError",
    "SetAside",
    "Source",
    "StateError",
    "UnknownTacticError",
    "WhatIf",
    "__version__",
    "advise",
    "advise_many",
    "builtin_ruleset_dir",
    "explain",
    "lint",
    "load_playbook",
    "load_ruleset",
    "set_result_cache_size",
    "subscribe",
    "what_if",
]
try:
    __version__ = _metadata.version("negotiation-rules")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:  # for type checkers and the API reference; at run time they load on first use
    from ._dask import advise_dask as advise_dask
    from ._dask import score as score
    from ._frames import advise_frame as advise_frame
    from ._frames import frame_states as frame_states

#: Names loaded on first use, so that ``import negotiation_rules`` needs neither pandas nor Dask
#: (optional extras ``dataframe`` and ``dask``; see docs/batch.md).
_LAZY = {"advise_frame": "._frames", "frame_states": "._frames", "advise_dask": "._dask", "score": "._dask"}


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (for completion in a REPL)."""
    return sorted({*__all__, *_LAZY})


def __getattr__(name: str) -> Any:
    """``advise_frame``, ``frame_states``, ``advise_dask`` and ``score``: imported with their extra on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
