"""Plans of a trading day for hypothesis to draw: orders, returns of earlier orders (sometimes
received twice, sometimes more than was bought), promotion versions, profile edits in any of
the three customer systems, and faults switched on and off on any emulator."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

SYSTEMS = ("shopify", "odoo", "hubspot", "openloyalty", "poslog")
PROFILE_SYSTEMS = ("hubspot", "shopify", "openloyalty")
PROFILE_FIELDS = ("given_name", "family_name", "phone")
FAULT_KINDS = ("5xx", "timeout", "down")
SHOPPERS = 3
"""Customers each plan onboards, edits and lets shop."""
PROMOTIONS = 2
"""Promotions each plan authors versions of."""


@dataclass(frozen=True)
class PlaceOrder:
    """A sale: online or at a till, by one of the plan's shoppers (None: at a till, no loyalty
    card; online, the first shopper), a basket of (campaign SKU?, SKU index, quantity), its
    event in one journal or two."""

    web: bool
    buyer: int | None
    basket: tuple[tuple[bool, int, int], ...]
    journals: int


@dataclass(frozen=True)
class ReturnGoods:
    """Goods of an earlier order brought to a store: per line (line index, `one` unit, `all`
    it bought, or one `over` that), started online first or not, received once or twice."""

    order: int
    lines: tuple[tuple[int, str], ...]
    online_first: bool
    receipts: int


@dataclass(frozen=True)
class AuthorPromotion:
    """A new version of one of the plan's promotions: bonus points or percent off, or the
    promotion cancelled."""

    promotion: int
    points: bool
    amount: int
    cancelled: bool


@dataclass(frozen=True)
class EditProfile:
    """A person changes one field of a shopper's profile in one system."""

    shopper: int
    system: str
    field: str
    value: int


@dataclass(frozen=True)
class Fault:
    """A fault put in force on a system's emulator, or its faults cleared (`kind` None)."""

    system: str
    kind: str | None


Step = PlaceOrder | ReturnGoods | AuthorPromotion | EditProfile | Fault

orders = st.builds(
    PlaceOrder,
    web=st.booleans(),
    buyer=st.one_of(st.none(), st.integers(0, SHOPPERS - 1)),
    basket=st.lists(
        st.tuples(st.booleans(), st.integers(0, 29), st.integers(1, 3)), min_size=1, max_size=3
    ).map(tuple),
    journals=st.sampled_from((1, 1, 2)),
)
returns = st.builds(
    ReturnGoods,
    order=st.integers(0, 20),
    lines=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(("one", "one", "all", "over"))),
        min_size=1,
        max_size=2,
    ).map(tuple),
    online_first=st.booleans(),
    receipts=st.sampled_from((1, 1, 2)),
)
promotions = st.builds(
    AuthorPromotion,
    promotion=st.integers(0, PROMOTIONS - 1),
    points=st.booleans(),
    amount=st.integers(5, 20),
    cancelled=st.sampled_from((False, False, False, True)),
)
edits = st.builds(
    EditProfile,
    shopper=st.integers(0, SHOPPERS - 1),
    system=st.sampled_from(PROFILE_SYSTEMS),
    field=st.sampled_from(PROFILE_FIELDS),
    value=st.integers(0, 2),
)
faults_on = st.builds(Fault, system=st.sampled_from(SYSTEMS), kind=st.sampled_from(FAULT_KINDS))
faults_off = st.builds(Fault, system=st.sampled_from(SYSTEMS), kind=st.none())


def _shuffled(parts: tuple[list[Step], ...]) -> st.SearchStrategy[list[Step]]:
    """Every drawn step but the opening order, in an order hypothesis draws too."""
    opening, *rest = parts
    return st.permutations([step for part in rest for step in part]).map(
        lambda steps: [*opening, *steps]
    )


plans: st.SearchStrategy[list[Step]] = st.tuples(
    st.lists(orders, min_size=1, max_size=1),
    st.lists(orders, min_size=1, max_size=3),
    st.lists(returns, min_size=2, max_size=4),
    st.lists(promotions, min_size=1, max_size=2),
    st.lists(edits, min_size=1, max_size=2),
    st.lists(faults_on, min_size=2, max_size=3),
    st.lists(faults_off, max_size=1),
).flatmap(_shuffled)
"""A plan opens with an order, so its returns always have one to take goods from; the rest
holds each kind of step at least once (faults at least twice), in any order."""
