"""Every endpoint of the OpenAPI document fuzzed with schemathesis (valid and invalid requests):
only documented status codes, answers that match their schema, never a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Running, needs_server_extra, start_server, stop_server

needs_server_extra()
schemathesis = pytest.importorskip("schemathesis", reason='needs schemathesis: pip install -e ".[server-test]"')

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from negotiation_rules._server import create_app  # noqa: E402


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server of its own with a 2 s time budget, so a large what-if search ends in a documented 504."""
    running = start_server(["--timeout", "2"], tmp_path_factory.mktemp("fuzz") / "server.log")
    yield running
    stop_server(running)


#: The document the server publishes at /v1/openapi.json (test_api checks they are the same).
DOCUMENT = create_app().openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_fuzzed_document_is_the_one_served(fuzzed: Running) -> None:
    import httpx

    assert httpx.get(fuzzed.url + "/v1/openapi.json").json() == DOCUMENT
    assert len(OPERATIONS) == sum(len(methods) for methods in DOCUMENT["paths"].values())


def _takes_input(operation: Any) -> bool:
    spec = DOCUMENT["paths"][operation.path][operation.method.lower()]
    return "requestBody" in spec or bool(spec.get("parameters"))


#: Valid requests for every operation; invalid ones for every operation that takes any input.
CASES = [
    pytest.param(op, mode, id=f"{op.label}-{mode.value}")
    for op in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _takes_input(op)
]


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_every_endpoint_answers_only_as_documented(operation: Any, mode: GenerationMode, fuzzed: Running) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=fuzzed.url, checks=CHECKS)

    answers_as_documented()
    assert "Traceback" not in fuzzed.log.read_text()
