"""Properties over arbitrary requests (schemathesis is not installed; hypothesis stands in):
whatever a client sends, the answer is a success or a problem document, never a 500, and the
rate limiter never admits more than its burst plus what its rate refilled."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailhub.api.ratelimit import RateLimiter
from retailhub.api.services import ApiServices

from .conftest import issue_key

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
return_like = st.fixed_dictionaries(
    {},
    optional={
        "return_id": st.text(max_size=10),
        "original_order_id": st.text(max_size=10),
        "status": st.sampled_from(["requested", "received", "bogus"]),
        "currency": st.sampled_from(["USD", "EUR", "XXX", ""]),
        "lines": st.lists(
            st.fixed_dictionaries(
                {}, optional={"sku": st.text(max_size=8), "quantity": json_values}
            ),
            max_size=3,
        ),
        "refund_total": json_values,
    },
)
WHERE = ("$", "header.", "query.", "path.")
"""A fault is in the body (a JSON path) or in a named parameter."""
IRRELEVANT = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=40, deadline=None, suppress_health_check=IRRELEVANT)
@given(body=st.one_of(return_like, json_values))
async def test_any_body_to_post_returns_is_answered_without_a_500(
    api: httpx.AsyncClient, services: ApiServices, body: Any
) -> None:
    attempt = uuid.uuid4().hex
    key = await issue_key(services, f"c{attempt[:16]}", "service", rate=10_000)
    answer = await api.post(
        "/v1/returns", json=body, headers={"X-API-Key": key, "Idempotency-Key": attempt}
    )
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == answer.status_code
        assert all(e["path"].startswith(WHERE) for e in problem.get("errors", []))


@settings(max_examples=40, deadline=None, suppress_health_check=IRRELEVANT)
@given(credential=st.text(max_size=80), path=st.sampled_from(["/v1/orders/x", "/v1/returns/x"]))
async def test_any_credential_is_refused_as_a_problem(
    api: httpx.AsyncClient, credential: str, path: str
) -> None:
    header = credential.encode("ascii", "ignore").decode().strip()
    answer = await api.get(path, headers={"X-API-Key": header} if header else {})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


@given(
    rate=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=200),
)
def test_the_limiter_admits_at_most_burst_plus_refill(rate: int, gaps: list[float]) -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    admitted = 0
    for gap in gaps:
        now[0] += gap
        wait = limiter.take("till", rate)
        assert wait >= 0
        admitted += wait == 0
    assert admitted <= rate + now[0] * rate + 1e-9
