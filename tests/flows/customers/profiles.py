"""Builders and hypothesis strategies for customer sync tests: profiles drawn from small pools so
that systems agree and disagree often, and changes at moments a few days or months apart so
that survivorship windows matter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from retailhub.canonical.customer import Address, ConsentChannel, Customer, MarketingConsent
from retailhub.flows.customers.fields import CONSENT_PREFIX, FieldValue
from retailhub.flows.customers.golden import ProfileChange

SYSTEMS = ("hubspot", "shopify", "openloyalty")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
GIVEN = ("Anna", "Daan", "Sem")
FAMILY = ("Jansen", "Jasnen", "de Vries")
EMAILS = ("anna@example.nl", "a.jansen@work.example.org", "anna.j@example.com", "aj@example.nl")
PHONES = ("+31612345678", "+31687654321", "+31201234567")
CARDS = ("2612000000017", "2612000000024")
BIRTHDAYS = (date(1980, 5, 17), date(1981, 5, 17))
ADDRESSES = (
    Address(lines=["Oudegracht 1"], city="Utrecht", postal_code="3511 AA", country="NL"),
    Address(lines=["Spui 25"], city="Den Haag", postal_code="2511 BL", country="NL"),
)


def moment(days: float) -> datetime:
    """A moment `days` after the start of the test calendar."""
    return START + timedelta(days=days)


def profile(system: str, external_id: str = "1", **values: Any) -> Customer:
    """A profile as `system` holds it, with its own id in identities."""
    return Customer(
        customer_id=f"{system.upper()}-{external_id}", identities={system: external_id}, **values
    )


def change(
    system: str, days: float, event_id: str, external_id: str = "1", **values: Any
) -> ProfileChange:
    """A change reported by `system`, made `days` into the calendar."""
    return ProfileChange(system, profile(system, external_id, **values), moment(days), event_id)


def consent(channel: ConsentChannel, granted: bool, days: float, source: str) -> MarketingConsent:
    """A consent decision made `days` into the calendar."""
    return MarketingConsent(channel=channel, granted=granted, at=moment(days), source=source)


def _subset(pool: tuple[Any, ...]) -> st.SearchStrategy[list[Any]]:
    indices = st.lists(st.integers(0, len(pool) - 1), max_size=2, unique=True)
    return indices.map(lambda chosen: [pool[i] for i in chosen])


PROFILE_VALUES = st.fixed_dictionaries(
    {
        "given_name": st.sampled_from((None, *GIVEN)),
        "family_name": st.sampled_from((None, *FAMILY)),
        "emails": _subset(EMAILS),
        "phones": _subset(PHONES),
        "addresses": _subset(ADDRESSES),
        "birth_date": st.sampled_from((None, *BIRTHDAYS)),
        "loyalty_cards": _subset(CARDS),
    }
)
"""Contact data a system might hold, often overlapping with the other systems'."""

CONSENT_DECISIONS = st.lists(
    st.tuples(
        st.sampled_from((ConsentChannel.EMAIL, ConsentChannel.SMS)),
        st.booleans(),
        st.sampled_from((0, 1, 3)),
    ),
    max_size=2,
    unique_by=lambda decision: decision[0],
)
"""(channel, granted, day) of up to one decision per channel."""

DAY_STEPS = (0, 0.5, 1, 10, 45, 120)
"""Gaps between changes: the same moment, hours, days, and beyond the 30-day window."""
_SYSTEM = st.sampled_from(SYSTEMS)
_STEP = st.sampled_from(DAY_STEPS)


@st.composite
def changes(draw: st.DrawFn, count: int, *, increasing: bool = True) -> list[ProfileChange]:
    """`count` changes from random systems; in time order when `increasing`, else shuffled."""
    days = 0.0
    drawn = []
    for n in range(count):
        system = draw(_SYSTEM)
        days += draw(_STEP)
        values: dict[str, Any] = draw(PROFILE_VALUES)
        decisions = draw(CONSENT_DECISIONS)
        values["consents"] = [consent(c, granted, day, system) for c, granted, day in decisions]
        drawn.append(change(system, days, f"ev-{n}", **values))
    if not increasing:
        drawn = draw(st.permutations(drawn))
    return drawn


def relabel(item: ProfileChange, system: str) -> ProfileChange:
    """The same change as if `system` had reported it."""
    values = item.profile.model_dump(exclude={"customer_id", "identities", "kind"})
    return ProfileChange(system, profile(system, **values), item.at, item.event_id)


def report(
    system: str,
    values: Mapping[str, FieldValue],
    at: datetime,
    event_id: str,
    external_id: str = "1",
) -> ProfileChange:
    """A report from `system` of exactly these golden field values."""
    consents = [v for k, v in values.items() if k.startswith(CONSENT_PREFIX) and v is not None]
    attributes = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in values.items()
        if not k.startswith(CONSENT_PREFIX)
    }
    customer = profile(system, external_id, consents=consents, **attributes)
    return ProfileChange(system, customer, at, event_id, frozenset(values))
