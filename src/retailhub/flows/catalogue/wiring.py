"""Catalogue sync on the bus: six independent subscriptions, one per target and document.

| subscription | listens to | calls |
|---|---|---|
| `catalogue.commerce.products` | product upserted / discontinued | `CommercePort.upsert_products` |
| `catalogue.pos.items` | the same | `PosPort.publish_items` |
| `catalogue.loyalty.products` | the same | `LoyaltyPort.put_products` |
| `catalogue.commerce.inventory` | inventory changed | `CommercePort.set_inventory` |
| `catalogue.commerce.prices` | price changed | `CommercePort.set_price` |
| `catalogue.pos.prices` | price changed | `PosPort.publish_prices` |

Each has its own cursor, retries, dead letters and sequence guard, so a target that is down
holds back only its own subscription. The wiring also builds the ERP's change capture, which
the hub runs beside them as a long-running task (`sync.capture.run(stop)`).
"""

from __future__ import annotations

from dataclasses import dataclass

from retailhub.bus.port import DEFAULT_RETRY, EventBus, Handler, RetryPolicy
from retailhub.connectors.ports import CommercePort, ErpPort, LoyaltyPort, PosPort
from retailhub.flows.catalogue.capture import ErpChangeCapture
from retailhub.flows.catalogue.events import INVENTORY_CHANGED, PRICE_CHANGED, PRODUCT_EVENTS
from retailhub.flows.catalogue.ledger import AppliedLedger
from retailhub.flows.catalogue.prices import price_on_commerce, price_on_pos
from retailhub.flows.catalogue.products import list_on_commerce, send_to_loyalty, send_to_pos
from retailhub.flows.catalogue.settings import CatalogueSettings
from retailhub.flows.catalogue.stock import set_commerce_stock
from retailhub.flows.catalogue.storage import create_catalogue_tables

PREFIX = "catalogue."
COMMERCE_PRODUCTS = f"{PREFIX}commerce.products"
POS_ITEMS = f"{PREFIX}pos.items"
LOYALTY_PRODUCTS = f"{PREFIX}loyalty.products"
COMMERCE_INVENTORY = f"{PREFIX}commerce.inventory"
COMMERCE_PRICES = f"{PREFIX}commerce.prices"
POS_PRICES = f"{PREFIX}pos.prices"
SUBSCRIPTIONS = (
    COMMERCE_PRODUCTS,
    POS_ITEMS,
    LOYALTY_PRODUCTS,
    COMMERCE_INVENTORY,
    COMMERCE_PRICES,
    POS_PRICES,
)


@dataclass(frozen=True)
class CatalogueSync:
    """Catalogue sync as wired: its subscriptions, and the ERP poller the hub keeps running."""

    subscriptions: list[str]
    capture: ErpChangeCapture


def target_of(subscription: str) -> str:
    """The sequence-guard target of a subscription (`commerce.products`, ...)."""
    return subscription.removeprefix(PREFIX)


async def subscribe_catalogue_sync(
    bus: EventBus,
    *,
    erp: ErpPort,
    commerce: CommercePort,
    pos: PosPort,
    loyalty: LoyaltyPort,
    settings: CatalogueSettings | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> CatalogueSync:
    """Create the catalogue tables, run the six subscriptions here, and build the poller of
    `erp` (not started: the caller runs `capture.run(stop)` as a task)."""
    chosen = settings or CatalogueSettings()
    ledgers = {name: AppliedLedger(target_of(name)) for name in SUBSCRIPTIONS}
    async with bus.transaction() as transaction:
        await create_catalogue_tables(transaction)
        for ledger in ledgers.values():
            await ledger.load(transaction)
    handlers: list[tuple[str, tuple[str, ...], Handler]] = [
        (
            COMMERCE_PRODUCTS,
            PRODUCT_EVENTS,
            list_on_commerce(commerce, ledgers[COMMERCE_PRODUCTS], chosen),
        ),
        (POS_ITEMS, PRODUCT_EVENTS, send_to_pos(pos, ledgers[POS_ITEMS])),
        (LOYALTY_PRODUCTS, PRODUCT_EVENTS, send_to_loyalty(loyalty, ledgers[LOYALTY_PRODUCTS])),
        (
            COMMERCE_INVENTORY,
            (INVENTORY_CHANGED,),
            set_commerce_stock(commerce, ledgers[COMMERCE_INVENTORY], chosen),
        ),
        (
            COMMERCE_PRICES,
            (PRICE_CHANGED,),
            price_on_commerce(commerce, ledgers[COMMERCE_PRICES], chosen),
        ),
        (POS_PRICES, (PRICE_CHANGED,), price_on_pos(pos, ledgers[POS_PRICES], chosen)),
    ]
    for name, types, handler in handlers:
        await bus.subscribe(name, types, handler, retry=retry, concurrency=chosen.concurrency)
    return CatalogueSync([name for name, _, _ in handlers], ErpChangeCapture(bus, erp, chosen))
