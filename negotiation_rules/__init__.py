"""negotiation-rules: negotiation know-how as declarative rules on durable-rules.

``advise(state)`` returns ranked, explained, sourced recommended moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._advice import Advice, Answer, Fact, Question, Recommendation, SetAside, Source
from ._advisor import advise
from ._deferred import import_before_fork
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
from ._firing import Firing, subscribe
from ._ruleset import Ruleset, builtin_ruleset_dir, load_ruleset
from ._state import Counterpart, Event, Issue, NegotiationState

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
    "iter_ruleset_errors",
    "lint",
    "load_playbook",
    "load_ruleset",
    "set_result_cache_size",
    "subscribe",
    "what_if",
]

if TYPE_CHECKING:  # for type checkers and the API reference; at run time they load on first use (_LAZY)
    __version__: str
    from ._batch import advise_many as advise_many
    from ._dask import advise_dask as advise_dask
    from ._dask import score as score
    from ._explain import Explanation as Explanation
    from ._explain import RuleExplanation as RuleExplanation
    from ._explain import explain as explain
    from ._frames import advise_frame as advise_frame
    from ._frames import frame_states as frame_states
    from ._lint import Finding as Finding
    from ._lint import lint as lint
    from ._loader import iter_ruleset_errors as iter_ruleset_errors
    from ._playbook import Playbook as Playbook
    from ._playbook import load_playbook as load_playbook
    from ._session import Negotiation as Negotiation
    from ._whatif import WhatIf as WhatIf
    from ._whatif import what_if as what_if

#: Names loaded on first use: the tools a plain ``advise()`` does not need (so ``import
#: negotiation_rules`` stays close to the cost of its dependencies), and the names that need the
#: optional extras ``dataframe`` and ``dask`` (see docs/batch.md), so the import needs neither.
_LAZY = {
    "advise_many": "._batch",
    "Explanation": "._explain",
    "RuleExplanation": "._explain",
    "explain": "._explain",
    "Finding": "._lint",
    "lint": "._lint",
    "iter_ruleset_errors": "._loader",
    "Negotiation": "._session",
    "Playbook": "._playbook",
    "load_playbook": "._playbook",
    "WhatIf": "._whatif",
    "what_if": "._whatif",
    "advise_frame": "._frames",
    "frame_states": "._frames",
    "advise_dask": "._dask",
    "score": "._dask",
}


#: The optional extra each lazily imported module needs, named when it is missing.
_EXTRAS = {"._frames": "dataframe", "._dask": "dask"}

# a child forked while another thread imports one of them must not inherit its import lock held
import_before_fork(*sorted({__name__ + module for module in _LAZY.values() if module not in _EXTRAS}))


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (for completion in a REPL)."""
    return sorted({*__all__, *_LAZY})


def _version() -> str:
    """The installed distribution's version (read on first use: ``importlib.metadata`` is slow to import)."""
    from importlib import metadata

    try:
        return metadata.version("negotiation-rules")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """``__version__`` or a name of ``_LAZY`` (its module imported): loaded on first use, kept for the next lookup."""
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[name], __name__)
        except ModuleNotFoundError as exc:
            extra = _EXTRAS.get(_LAZY[name])
            if extra is None or exc.name is None or exc.name.startswith(__name__):
                raise
            missing = exc.name.split(".")[0]
            raise ImportError(
                f"negotiation_rules.{name} needs the optional extra '{extra}' ({missing} is not installed): "
                f"pip install 'negotiation-rules[{extra}]'",
                name=exc.name,
            ) from None
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
