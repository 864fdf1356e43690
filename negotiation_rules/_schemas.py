"""JSON Schemas of the input and of every ``--json`` output: one source for the CLI and ``/v1/schemas``."""

from __future__ import annotations

from typing import Any

__all__ = ["schemas"]


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the state, the advice, the explanation, the what-if answer and a lint finding."""
    from ._advice import Advice
    from ._explain import Explanation
    from ._lint import Finding
    from ._state import NegotiationState
    from ._whatif import WhatIf

    return {
        "state": NegotiationState.model_json_schema(),
        "advice": Advice.model_json_schema(),
        "explanation": Explanation.model_json_schema(),
        "what-if": WhatIf.model_json_schema(by_alias=True, mode="serialization"),
        "finding": Finding.model_json_schema(),
    }
