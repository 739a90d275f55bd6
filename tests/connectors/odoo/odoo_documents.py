"""Canonical sales and returns as the hub hands them to the ERP port, built for the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from retailhub.canonical.base import Channel
from retailhub.canonical.order import Order, OrderStatus
from retailhub.canonical.returns import Return, ReturnStatus

PLACED = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


def sale(
    order_id: str,
    lines: list[tuple[str, str, str]],
    *,
    location: str = "AMS01",
    status: OrderStatus = OrderStatus.COMPLETED,
    line_discount: str | None = None,
    order_discount: str | None = None,
    shipping: str | None = None,
    customer_id: str | None = None,
    placed_at: datetime = PLACED,
) -> Order:
    """A tax-included EUR sale of (sku, quantity, unit price) lines, its totals computed."""
    built: list[dict[str, Any]] = []
    total = Decimal(0)
    for i, (sku, quantity, price) in enumerate(lines):
        line: dict[str, Any] = {
            "line_id": str(i + 1),
            "sku": sku,
            "quantity": quantity,
            "unit_of_measure": _unit(quantity),
            "unit_price": {"amount": price, "currency": "EUR"},
        }
        gross = (Decimal(quantity) * Decimal(price)).quantize(Decimal("0.01"))
        if line_discount is not None and i == 0:
            line["discounts"] = [{"amount": {"amount": line_discount, "currency": "EUR"}}]
            gross -= Decimal(line_discount)
        total += gross
        built.append(line)
    document: dict[str, Any] = {
        "order_id": order_id,
        "channel": Channel.WEB if location == "WEB" else Channel.STORE,
        "location": location,
        "customer_id": customer_id,
        "currency": "EUR",
        "prices_include_tax": True,
        "placed_at": placed_at,
        "status": status,
        "lines": built,
    }
    if order_discount is not None:
        document["order_discounts"] = [{"amount": {"amount": order_discount, "currency": "EUR"}}]
        total -= Decimal(order_discount)
    totals: dict[str, Any] = {"tax_total": {"amount": "0", "currency": "EUR"}}
    if shipping is not None:
        totals["shipping"] = {"amount": shipping, "currency": "EUR"}
        total += Decimal(shipping)
    totals["grand_total"] = {"amount": str(total), "currency": "EUR"}
    document["totals"] = totals
    return Order.model_validate(document)


def refund(
    return_id: str,
    lines: list[tuple[str, str, str]],
    *,
    location: str = "AMS01",
    created_at: datetime = PLACED,
) -> Return:
    """A return received in store of (sku, quantity, refund amount) lines."""
    total = sum((Decimal(amount) for _, _, amount in lines), Decimal(0))
    return Return.model_validate(
        {
            "return_id": return_id,
            "initiated_channel": Channel.STORE,
            "received_channel": Channel.STORE,
            "received_location": location,
            "currency": "EUR",
            "status": ReturnStatus.RECEIVED,
            "created_at": created_at,
            "refund_total": {"amount": str(total), "currency": "EUR"},
            "lines": [
                {
                    "line_id": str(i + 1),
                    "sku": sku,
                    "quantity": quantity,
                    "unit_of_measure": _unit(quantity),
                    "refund_amount": {"amount": amount, "currency": "EUR"},
                }
                for i, (sku, quantity, amount) in enumerate(lines)
            ],
        }
    )


def _unit(quantity: str) -> str:
    """Whole quantities are pieces; fractional ones are weighed."""
    return "each" if Decimal(quantity) == Decimal(quantity).to_integral_value() else "kg"
