"""The generated OpenAPI and AsyncAPI documents: committed, current, and saying what the API does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retailhub.api.specs import (
    ASYNCAPI_FILE,
    OPENAPI_FILE,
    REGENERATE,
    ROOT,
    asyncapi_document,
    openapi_document,
    render,
    stale,
)
from retailhub.canonical.catalogue import CATALOGUE


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return openapi_document()


def test_the_committed_documents_are_current(openapi: dict[str, Any]) -> None:
    documents = {
        ROOT / OPENAPI_FILE: render(openapi),
        ROOT / ASYNCAPI_FILE: render(asyncapi_document()),
    }
    outdated = [str(p.relative_to(ROOT)) for p in stale(ROOT, documents)]
    assert not outdated, f"{', '.join(outdated)} stale: run `{REGENERATE}` and commit"


def test_stale_detects_a_changed_or_missing_file(tmp_path: Path, openapi: dict[str, Any]) -> None:
    documents = {
        tmp_path / OPENAPI_FILE: render(openapi),
        tmp_path / ASYNCAPI_FILE: render(asyncapi_document()),
    }
    (tmp_path / "docs").mkdir()
    assert stale(tmp_path, documents) == list(documents)
    (tmp_path / OPENAPI_FILE).write_text(render(openapi))
    (tmp_path / ASYNCAPI_FILE).write_text(render({"asyncapi": "3.0.0"}))
    assert stale(tmp_path, documents) == [tmp_path / ASYNCAPI_FILE]


def test_openapi_is_3_1_with_every_route(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    assert {
        "/v1/orders/{order_id}",
        "/v1/returns",
        "/v1/returns/{return_id}",
        "/v1/customers/{customer_id}",
        "/v1/promotions/{promotion_id}",
        "/hooks/shopify/{topic}",
        "/hooks/hubspot",
        "/hooks/poslog",
        "/healthz",
        "/readyz",
    } <= set(openapi["paths"])


def test_every_post_under_v1_requires_an_idempotency_key(openapi: dict[str, Any]) -> None:
    posts = [
        (path, ops["post"])
        for path, ops in openapi["paths"].items()
        if path.startswith("/v1/")
        if "post" in ops
    ]
    assert posts
    for path, operation in posts:
        (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert key["required"] is True, path
        assert "422" in operation["responses"], path


def test_secured_operations_document_their_problem_answers(openapi: dict[str, Any]) -> None:
    secured = [op for ops in openapi["paths"].values() for op in ops.values() if op.get("security")]
    assert secured
    for operation in secured:
        for status in ("401", "403", "429"):
            content = operation["responses"][status]["content"]
            assert content == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }


def test_asyncapi_has_one_channel_per_catalogued_type_with_its_schema() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == set(CATALOGUE)
    for type_, message in document["components"]["messages"].items():
        schema = (ROOT / "docs" / message["payload"]["$ref"]).resolve()
        assert json.loads(schema.read_text())["title"] == type_
        assert message["x-retailhub-subject"] == CATALOGUE[type_].key_field
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        assert channel in document["channels"]


def test_every_error_answer_is_declared_as_a_problem_document(openapi: dict[str, Any]) -> None:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status == "default" or status[0] in "45":
                    assert response["content"] == problem, (method, path, status)
    assert "HTTPValidationError" not in openapi["components"]["schemas"]


ID_READ = {"401", "403", "404", "422", "429"}
V1_WRITE = {"400", "401", "403", "409", "413", "415", "422", "429"}
HOOK = {"401", "404", "413", "415", "422"}
CHECKOUT = "/v1/checkout/loyalty"


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/readyz", {"503"}),
        ("get", "/v1/orders/{order_id}", ID_READ),
        ("get", "/v1/returns/{return_id}", ID_READ),
        ("get", "/v1/customers/{customer_id}", ID_READ),
        ("get", "/v1/promotions/{promotion_id}", ID_READ),
        ("post", "/v1/returns", V1_WRITE),
        ("post", "/hooks/shopify/{topic}", HOOK),
        ("post", "/hooks/hubspot", HOOK),
        ("post", "/hooks/poslog", {"400", "401", "403", "413", "415", "422", "429"}),
        ("post", f"{CHECKOUT}/quote", V1_WRITE | {"404", "503"}),
        ("post", f"{CHECKOUT}/redemptions", V1_WRITE | {"404", "503"}),
        ("post", f"{CHECKOUT}/redemptions/{{redemption_id}}/capture", V1_WRITE | {"404"}),
        ("post", f"{CHECKOUT}/redemptions/{{redemption_id}}/release", V1_WRITE | {"404"}),
        ("get", f"{CHECKOUT}/redemptions/{{redemption_id}}", ID_READ),
    ],
)
def test_each_route_declares_the_problems_it_can_answer(
    openapi: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    declared = {s for s in openapi["paths"][path][method]["responses"] if s[0] in "45"}
    assert declared == statuses
