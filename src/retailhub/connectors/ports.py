"""What the hub needs from each kind of system, in canonical terms. Flows call these ports and
never a concrete connector; bootstrap.py wires a product's connector behind each one.

Every write takes an idempotency key derived from the business key (order id, return id,
promotion version) and is safe to repeat: a connector either passes the key to a product that
honours it or looks the document up by the key before writing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Customer
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransaction
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return


@dataclass(frozen=True)
class Posting:
    """A document as a system recorded it: its id there, the key it was written under, and the
    figures the hub reconciles against (amount, store, business day)."""

    system: str
    external_id: str
    key: str
    amount: Money | None = None
    location: str | None = None
    business_day: date | None = None
    status: str | None = None


@dataclass(frozen=True)
class PricingControl:
    """What the ERP's pricing team allows for one SKU: its cost and its lowest selling price."""

    sku: str
    cost: Money | None
    list_price: Money | None
    price_floor: Money | None = None


@dataclass(frozen=True)
class PointsOutcome:
    """What the loyalty platform did with a sale or a return: points moved, and the ledger rows."""

    member_id: str
    points: int
    transactions: tuple[LoyaltyTransaction, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BasketLine:
    """One line of a basket as checkout asks about it: what, how many, at what price, where."""

    sku: str
    quantity: Decimal
    unit_price: Money


@dataclass(frozen=True)
class RewardOffer:
    """A reward of the loyalty programme a member could take, and what it costs in points."""

    reward_id: str
    name: str
    points_cost: int


@dataclass(frozen=True)
class LoyaltyQuote:
    """What a basket would earn under the live earning rules, without recording a sale:
    `points_to_earn` in all, of which `bonus_points` come from campaigns; and the rewards the
    member could take now."""

    points_to_earn: int
    bonus_points: int
    rewards: tuple[RewardOffer, ...] = ()


class System(ABC):
    """Anything the hub talks to: it has a name, a circuit breaker, and can be closed."""

    name: str

    async def close(self) -> None:  # noqa: B027 - most connectors hold nothing to release
        """Release connections."""

    def circuit_state(self) -> str:
        """The state of the breaker guarding calls to the system: `closed`, `open` or
        `half_open`. A system called without a breaker is always `closed`."""
        return "closed"


class ErpPort(System):
    """The ERP: item master, prices, stock, sales postings, credit notes and pricing controls."""

    @abstractmethod
    async def post_sale_order(self, order: Order, key: str) -> Posting:
        """Post a sale (once per key: a repeat returns the first posting)."""

    @abstractmethod
    async def find_posting(self, key: str) -> Posting | None:
        """The sale order or credit note written under `key`, if any."""

    @abstractmethod
    async def cancel_sale_order(self, key: str) -> Posting | None:
        """Cancel the sale order posted under `key` (the stock it moved goes back): the
        cancelled posting, or None if nothing was posted under `key`; repeating it changes
        nothing."""

    @abstractmethod
    async def post_credit_note(self, document: Return, key: str) -> Posting:
        """Issue a credit note for a return (once per key)."""

    @abstractmethod
    async def void_credit_note(self, key: str) -> None:
        """Cancel the credit note written under `key` (saga compensation); no-op if none."""

    @abstractmethod
    async def adjust_stock(self, sku: str, location: str, delta: Decimal, key: str) -> None:
        """Move stock of a SKU at a location by `delta` (sale: negative, restock: positive), once
        per key."""

    @abstractmethod
    async def stock_levels(
        self, location: str | None = None, changed_since: datetime | None = None
    ) -> list[InventoryLevel]:
        """Current stock, for one location or all; with `changed_since`, only the levels whose
        stock was written after that moment (an ERP stamping whole seconds includes that
        second), None for every level. A level whose stock records were deleted since is not
        in a "changed since" read: only a full read shows it gone."""

    @abstractmethod
    def products(self, changed_since: datetime | None = None) -> AsyncIterator[Product]:
        """The item master, page by page, optionally only what changed since a moment."""

    @abstractmethod
    async def prices(
        self, skus: Sequence[str] | None = None, changed_since: datetime | None = None
    ) -> list[Price]:
        """Current prices, for some SKUs or all; with `changed_since`, only the prices of SKUs
        whose price records were written after that moment (or whose sale started or ended
        since), None for every price."""

    @abstractmethod
    async def pricing_controls(self, skus: Sequence[str]) -> list[PricingControl]:
        """Cost and floor per SKU, which promotions are validated against."""

    @abstractmethod
    async def postings(self, business_day: date, location: str | None = None) -> list[Posting]:
        """Everything posted for a business day (and store), for reconciliation."""


class CrmPort(System):
    """The CRM: contacts, notes on a contact's timeline, service cases."""

    @abstractmethod
    async def find_contact(self, email: str) -> Customer | None:
        """The contact with this email, as the CRM holds it."""

    @abstractmethod
    async def get_contact(self, contact_id: str) -> Customer | None:
        """The contact with the CRM's own id, as a webhook's change notice asks to re-read it."""

    @abstractmethod
    async def upsert_contact(self, customer: Customer) -> str:
        """Create or update the contact for a customer; returns the CRM's id."""

    @abstractmethod
    def contacts_changed_since(self, since: datetime) -> AsyncIterator[Customer]:
        """Contacts modified after `since`, for profile sync."""

    @abstractmethod
    async def add_note(self, contact_id: str, text: str, key: str) -> str:
        """Put a note on a contact's timeline (once per key); returns the note's id."""

    @abstractmethod
    async def open_case(self, contact_id: str | None, subject: str, text: str, key: str) -> str:
        """Open a service case (once per key); returns the case id."""

    @abstractmethod
    async def update_case(self, case_id: str, *, status: str, text: str | None = None) -> None:
        """Move a case to another status (`open`, `in_progress`, `closed`), noting why."""


class LoyaltyPort(System):
    """The loyalty platform: members, points, earning rules and campaigns."""

    @abstractmethod
    async def find_member(
        self, *, card: str | None = None, email: str | None = None, member_id: str | None = None
    ) -> LoyaltyAccount | None:
        """A member by loyalty card, email or member id."""

    @abstractmethod
    async def find_member_profile(self, member_id: str) -> Customer | None:
        """The member's profile (names, email, phone, card) as a customer, for customer sync."""

    @abstractmethod
    async def register_member(self, customer: Customer, key: str) -> str:
        """Enrol a customer as a member (once per key and per customer); returns the member id."""

    @abstractmethod
    async def update_member(self, member_id: str, customer: Customer) -> None:
        """Write a customer's profile onto the member (safe to repeat)."""

    @abstractmethod
    async def quote(
        self,
        member_id: str | None,
        lines: Sequence[BasketLine],
        channel: Channel,
        location: str | None,
    ) -> LoyaltyQuote:
        """What a basket would earn now under the live earning rules (campaign bonus included)
        without recording a sale, and the rewards the member could take."""

    @abstractmethod
    async def register_sale(self, order: Order, key: str) -> PointsOutcome:
        """Register a sale so the platform's earning rules accrue points (once per key)."""

    @abstractmethod
    async def register_return(self, document: Return, key: str) -> PointsOutcome:
        """Register a return so earned points are reversed and spent points re-credited."""

    @abstractmethod
    async def add_points(self, member_id: str, points: int, reason: str, key: str) -> str:
        """Credit points (adjustment, compensation) once per key; returns the transfer id."""

    @abstractmethod
    async def spend_points(self, member_id: str, points: int, reason: str, key: str) -> str:
        """Debit points once per key; returns the transfer id."""

    @abstractmethod
    async def block_points(self, member_id: str, points: int, key: str) -> str:
        """Reserve points for a sale in progress; returns the reservation's transfer id."""

    @abstractmethod
    async def capture_points(self, transfer_id: str, key: str) -> str:
        """Turn a reservation made by `block_points` into a spend (checkout capture), once per
        key; returns the spend transfer's id."""

    @abstractmethod
    async def unblock_points(self, transfer_id: str) -> None:
        """Release a reservation (void or abandoned basket)."""

    @abstractmethod
    async def cancel_transfer(self, transfer_id: str) -> None:
        """Cancel a points transfer (saga compensation)."""

    @abstractmethod
    async def ledger(self, member_id: str) -> list[LoyaltyTransaction]:
        """The member's point movements, oldest first."""

    @abstractmethod
    async def campaigns(self) -> list[Promotion]:
        """Live earning rules and campaigns, as promotions."""

    @abstractmethod
    async def put_campaign(self, promotion: Promotion) -> str:
        """Publish a promotion as an earning rule (once per promotion version); returns its id."""

    @abstractmethod
    async def get_campaign(self, promotion_id: str) -> Promotion | None:
        """Read a published promotion back, for drift reports."""

    @abstractmethod
    async def withdraw_campaign(self, promotion_id: str) -> None:
        """Take a published promotion out of the earning rules (saga compensation); no-op when
        it was never published."""

    @abstractmethod
    async def put_products(self, products: Sequence[Product]) -> None:
        """Publish items (SKU, name, category, brand) to the programme's product catalogue,
        which earning rules select on."""


class CommercePort(System):
    """The ecommerce platform: orders, refunds, customers, catalogue, stock, price rules."""

    @abstractmethod
    async def get_order(self, order_id: str) -> Order | None:
        """One order by its canonical id."""

    @abstractmethod
    def orders_since(self, since: datetime) -> AsyncIterator[Order]:
        """Orders created or updated after `since`, for catch-up after an outage."""

    @abstractmethod
    async def returns_for_order(self, order_id: str) -> list[Return]:
        """The refunds the platform holds for an order, as canonical returns."""

    @abstractmethod
    async def refund_return(self, document: Return, key: str) -> str:
        """Refund a return of an order sold on the platform (once per key); the refund's id."""

    @abstractmethod
    async def find_customer(self, email: str) -> Customer | None:
        """The platform's customer with this email, if any."""

    @abstractmethod
    async def get_customer(self, customer_id: str) -> Customer | None:
        """A customer by the platform's id (or the canonical id derived from it), if any."""

    @abstractmethod
    async def upsert_customer(self, customer: Customer) -> str:
        """Create or update a customer; returns the platform's id."""

    @abstractmethod
    async def upsert_products(self, products: Sequence[Product]) -> str:
        """Create or update one listing and its variants; returns the platform's product id."""

    @abstractmethod
    async def set_inventory(self, level: InventoryLevel) -> None:
        """Set available-to-sell for a SKU at a location."""

    @abstractmethod
    async def set_price(self, price: Price) -> None:
        """Set a SKU's selling price."""

    @abstractmethod
    async def put_promotion(self, promotion: Promotion) -> str:
        """Publish a promotion as a price rule and discount (once per version); returns its id."""

    @abstractmethod
    async def get_promotion(self, promotion_id: str) -> Promotion | None:
        """Read a published promotion back, for drift reports."""

    @abstractmethod
    async def withdraw_promotion(self, promotion_id: str) -> None:
        """Take every published version of a promotion out of the shop (saga compensation);
        no-op when none was published."""


class PosPort(System):
    """The store POS estate: the item file, the price and promotion feed it downloads."""

    @abstractmethod
    async def publish_items(self, products: Sequence[Product]) -> None:
        """Send item master changes to the POS item file."""

    @abstractmethod
    async def publish_prices(self, prices: Sequence[Price]) -> None:
        """Send price changes to the POS price feed."""

    @abstractmethod
    async def publish_promotion(self, promotion: Promotion) -> None:
        """Send a promotion version to the POS promotion feed (once per version)."""

    @abstractmethod
    async def get_promotion(self, promotion_id: str) -> Promotion | None:
        """Read a promotion back from the feed, for drift reports."""

    @abstractmethod
    async def withdraw_promotion(self, promotion_id: str) -> None:
        """Take a promotion off the feed so the tills stop applying it (saga compensation);
        no-op when the feed does not hold it."""
