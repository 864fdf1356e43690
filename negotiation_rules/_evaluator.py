"""Which evaluator runs a ruleset: durable-rules (``_engine``, the default) or the compiled one (``_compiled``).

Kept apart from ``_compiled`` so that ``import negotiation_rules`` and the default engine do not
import the code generator; ``_compiled`` is imported the first time ``engine="compiled"`` is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ._deferred import import_before_fork
from ._engine import engine_for

if TYPE_CHECKING:
    from ._compiler import CompiledRuleset
    from ._facts import FactBuilder
    from ._firing import Firing
    from ._ruleset import Ruleset

__all__ = ["ENGINES", "Evaluator", "check_engine", "evaluator_for"]

#: The engines ``advise(..., engine=)`` accepts; ``durable`` (durable-rules) is the default and the reference.
ENGINES = ("durable", "compiled")

import_before_fork(f"{__package__}._compiled")  # never half-imported in a forked child (see _deferred)


class Evaluator(Protocol):
    """What the advisor needs of an engine: durable-rules' ``Engine`` and ``CompiledEvaluator`` both are one."""

    compiled: CompiledRuleset
    facts: FactBuilder

    def evaluate(self, fact: dict[str, Any]) -> Firing:
        """What the ruleset concludes for one flat fact (observers are told)."""
        ...

    def evaluate_many(self, facts: Sequence[Mapping[str, Any]], *, observe: bool = True) -> list[Firing]:
        """``[evaluate(fact) for fact in facts]``; ``observe=False`` keeps hypothetical states from observers."""
        ...


def check_engine(engine: Any) -> str:
    """``engine`` is one of ``ENGINES``; a ValueError naming the choices otherwise."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(repr(e) for e in ENGINES)}, got {engine!r}")
    return engine


def evaluator_for(ruleset: Ruleset, engine: str = "durable") -> Evaluator:
    """The evaluator of ``ruleset`` for the engine named: ``durable`` (durable-rules) or ``compiled`` (generated)."""
    if check_engine(engine) == "compiled":
        from ._compiled import compiled_for

        return compiled_for(ruleset)
    return engine_for(ruleset)
