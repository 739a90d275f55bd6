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
