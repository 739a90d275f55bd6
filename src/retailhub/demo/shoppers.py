"""Shoppers of the sandbox estate: canonical orders as Shopify and the store tills send them,
priced from the estate's price list, VAT included, so every system can check the figures."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, TaxLine, Tender, TenderType, Totals
from retailhub.sandbox.seed import Estate, EstateCustomer

CENT = Decimal("0.01")


def basket_line(
    estate: Estate, number: int, sku: str, quantity: int, channel: Channel
) -> OrderLine:
    """One line at the channel's selling price, with the VAT it includes."""
    price = estate.price(sku, channel).selling_price
    gross = (price * Decimal(quantity)).rounded()
    rate = estate.vat_rate(sku) / 100
    tax = Money(amount=(gross.amount * rate / (1 + rate)).quantize(CENT), currency=gross.currency)
    return OrderLine(
        line_id=str(number),
        sku=sku,
        title=estate.product(sku).title,
        quantity=Decimal(quantity),
        unit_price=price,
        extended_amount=gross,
        tax_lines=[TaxLine(name=f"VAT {estate.vat_rate(sku)}%", rate=rate, amount=tax)],
    )


def order_for(
    estate: Estate,
    order_id: str,
    customer: EstateCustomer | None,
    basket: Sequence[tuple[str, int]],
    *,
    placed_at: datetime,
    store: str | None = None,
    with_card: bool = True,
) -> Order:
    """A completed order: at a store's till when `store` is given, else on the web shop."""
    channel = Channel.STORE if store else Channel.WEB
    lines = [
        basket_line(estate, n, sku, quantity, channel)
        for n, (sku, quantity) in enumerate(basket, start=1)
    ]
    currency = lines[0].unit_price.currency
    total = sum_money((line.net for line in lines), currency)
    buyer: dict[str, object] = {}
    if customer is not None:
        buyer = {
            "customer_id": customer.golden.customer_id,
            "email": customer.golden.emails[0],
            "loyalty_card": customer.card_number if with_card else None,
        }
    return Order(
        order_id=order_id,
        channel=channel,
        location=store,
        currency=currency,
        prices_include_tax=True,
        placed_at=placed_at,
        lines=lines,
        tenders=[Tender(type=TenderType.CARD, amount=total)],
        totals=Totals(
            tax_total=sum_money((ln.tax_total for ln in lines), currency), grand_total=total
        ),
        **buyer,
    )


class Shoppers:
    """A seeded stream of shoppers: who buys what, where, with or without a loyalty card."""

    def __init__(self, estate: Estate, seed: int = 7) -> None:
        self.estate = estate
        self._dice = random.Random(seed)
        self._members = [c for c in estate.customers if not c.conflicts]
        self._stores = [s.code for s in estate.stores if s.channel is Channel.STORE]
        self._skus = [p.sku for p in estate.products if _sellable(estate, p.sku)]
        self._bonus = sorted(set(estate.campaign.eligibility.skus) & set(self._skus))

    def basket(self, size: int | None = None) -> list[tuple[str, int]]:
        """One to four distinct SKUs, a campaign SKU in about a third of baskets."""
        count = size or self._dice.randint(1, 4)
        skus = self._dice.sample(self._skus, count)
        if self._bonus and self._dice.random() < 0.33:
            skus[0] = self._dice.choice(self._bonus)
        return [(sku, self._dice.randint(1, 2)) for sku in dict.fromkeys(skus)]

    def member_of(self, order: Order) -> EstateCustomer | None:
        """The estate's customer who placed `order`, if a known member did."""
        return self.estate.customer_by_email(order.email) if order.email else None

    def order(self, order_id: str, placed_at: datetime, *, web: bool | None = None) -> Order:
        """The next shopper's order; about a third online, four in five with a known member."""
        online = self._dice.random() < 0.35 if web is None else web
        member = self._dice.choice(self._members) if self._dice.random() < 0.8 else None
        store = None if online else self._dice.choice(self._stores)
        return order_for(
            self.estate, order_id, member, self.basket(), placed_at=placed_at, store=store
        )


def _sellable(estate: Estate, sku: str) -> bool:
    """True when the SKU has a web and a store price (discontinued items have neither)."""
    try:
        estate.price(sku, Channel.WEB)
        estate.price(sku, Channel.STORE)
    except KeyError:
        return False
    return True
