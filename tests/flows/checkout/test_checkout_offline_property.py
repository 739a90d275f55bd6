"""A property of the offline policy, with the platform down throughout: for any sequence of
reservations and releases, the hub approves exactly what a model of the policy allows (per
sale, per member per day, last-known balance less what is approved offline), so the points it
has approved on its own never exceed the last-known balance or the daily limit."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.flows.checkout import (
    CheckoutDesk,
    CheckoutPolicy,
    MemberRef,
    RedemptionRefused,
    RedemptionState,
    open_checkout_desk,
)

from .helpers import STORE, World, basket, set_faults

pytestmark = pytest.mark.asyncio(loop_scope="package")

PER_SALE, BALANCE = 400, 900
KEYS = itertools.count()


@dataclass
class Offline:
    """A desk whose member the hub knows with BALANCE points, the platform down, and the daily
    limit of its policy."""

    desk: CheckoutDesk
    member: MemberRef
    per_day: int


@pytest_asyncio.fixture(loop_scope="package")
async def offline(
    request: pytest.FixtureRequest, bus: SqliteBus, world: World
) -> AsyncIterator[Offline]:
    """The desk with the daily limit the test names (below or above the balance)."""
    per_day: int = request.param
    policy = CheckoutPolicy(
        max_offline_points_per_sale=PER_SALE,
        max_offline_points_per_member_per_day=per_day,
        breaker_reset_s=60.0,
    )
    desk = await open_checkout_desk(bus, world.loyalty, policy)
    customer = world.member()
    member_id = customer.account.member_id
    await world.loyalty.spend_points(
        member_id, customer.points_balance - BALANCE, "property set-up", f"prop-{member_id}"
    )
    member = MemberRef(card=customer.card_number)
    quote = await desk.quote(member, basket(world, [world.plain_sku()]), Channel.STORE, STORE)
    assert quote.balance == BALANCE
    await set_faults(world.url, {"down": True})
    yield Offline(desk, member, per_day)


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("reserve"),
            st.one_of(
                st.sampled_from([50, 100, 150, 200, 300, PER_SALE, PER_SALE + 1]),
                st.integers(min_value=1, max_value=2 * PER_SALE),
            ),
        ),
        st.tuples(st.just("release"), st.integers(min_value=0, max_value=9)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("offline", [700, 1000], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
async def test_offline_approvals_are_exactly_what_the_policy_allows(
    offline: Offline, steps: list[tuple[str, int]]
) -> None:
    desk, member, ceiling = offline.desk, offline.member, min(offline.per_day, BALANCE)
    approved: list[tuple[str, int]] = []
    try:
        for action, figure in steps:
            if action == "release":
                if approved:
                    redemption_id, _ = approved.pop(figure % len(approved))
                    released = await desk.release("till", redemption_id)
                    assert released.state is RedemptionState.RELEASED
                continue
            held = sum(points for _, points in approved)
            allowed = figure <= PER_SALE and held + figure <= ceiling
            try:
                redemption = await desk.reserve("till", f"p-{next(KEYS)}", member, figure, "S")
            except RedemptionRefused:
                assert not allowed, f"{figure} points refused with {held} held"
                continue
            assert allowed, f"{figure} points approved with {held} held"
            assert redemption.state is RedemptionState.OFFLINE_APPROVED
            approved.append((redemption.redemption_id, figure))
            assert sum(points for _, points in approved) <= ceiling
    finally:
        for redemption_id, _ in approved:
            await desk.release("till", redemption_id)
