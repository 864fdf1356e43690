"""negotiation-rules: negotiation know-how as declarative rules on durable-rules.

``advise(state)`` returns ranked, explained, sourced recommended moves.
"""

from __future__ import annotations

from .advice import Advice, Recommendation, SetAside, Source
from .advisor import advise
from .errors import EngineError, NegotiationRulesError, RulesetError, StateError
from .playbook import Playbook, load_playbook
from .ruleset import Ruleset, load_ruleset
from .session import Negotiation
from .state import Counterpart, Event, Issue, NegotiationState

__all__ = [
    "Advice",
    "Counterpart",
    "EngineError",
    "Event",
    "Issue",
    "Negotiation",
    "NegotiationRulesError",
    "NegotiationState",
    "Playbook",
    "Recommendation",
    "Ruleset",
    "RulesetError",
    "SetAside",
    "Source",
    "StateError",
    "advise",
    "load_playbook",
    "load_ruleset",
]
__version__ = "0.1.0"
