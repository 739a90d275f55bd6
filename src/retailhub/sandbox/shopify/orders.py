"""Orders, transactions and refunds as the emulated shop writes them: a Dutch shop paid through
Shopify's test gateway (`bogus`), whose prices include VAT, so line tax is carved out of the
price and the total is the subtotal plus shipping (none here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from retailhub.sandbox.shopify.shapes import SHOP_CURRENCY, Body, money, token


class Refused(Exception):
    """A request Shopify would answer 422 to: field -> messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__(str(self.errors))


@dataclass(frozen=True)
class SoldItem:
    """A variant being ordered, with what the order needs to know of its product."""

    variant: Body
    product: Body
    quantity: int
    tax_rate: Decimal
    line_id: int


def shop_money(amount: str) -> Body:
    """A `*_set` pair, shop and presentment money both in the shop's currency."""
    pair = {"amount": amount, "currency_code": SHOP_CURRENCY}
    return {"shop_money": pair, "presentment_money": dict(pair)}


def _tax_in(gross: Decimal, rate: Decimal) -> Decimal:
    return gross * rate / (1 + rate)


def line_item(item: SoldItem) -> Body:
    """An order line for a variant, its VAT carved out of the tax-inclusive price."""
    variant, product = item.variant, item.product
    price = Decimal(variant["price"])
    gross = price * item.quantity
    tax = money(_tax_in(gross, item.tax_rate))
    variant_title = None if variant["title"] == "Default Title" else variant["title"]
    return {
        "id": item.line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{item.line_id}",
        "variant_id": variant["id"],
        "product_id": product["id"],
        "title": product["title"],
        "variant_title": variant_title,
        "name": product["title"]
        if variant_title is None
        else f"{product['title']} - {variant_title}",
        "sku": variant["sku"],
        "vendor": product.get("vendor"),
        "quantity": item.quantity,
        "current_quantity": item.quantity,
        "fulfillable_quantity": item.quantity,
        "price": money(price),
        "price_set": shop_money(money(price)),
        "grams": variant.get("grams", 0),
        "requires_shipping": True,
        "taxable": True,
        "gift_card": False,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "variant_inventory_management": "shopify",
        "properties": [],
        "product_exists": True,
        "total_discount": "0.00",
        "total_discount_set": shop_money("0.00"),
        "discount_allocations": [],
        "tax_lines": [
            {
                "title": "BTW",
                "price": tax,
                "price_set": shop_money(tax),
                "rate": float(item.tax_rate),
            }
        ],
    }


def _address(customer: Body | None) -> Body | None:
    address = (customer or {}).get("default_address")
    if not address:
        return None
    return {
        key: address.get(key)
        for key in (
            "address1",
            "address2",
            "city",
            "company",
            "country",
            "first_name",
            "last_name",
            "phone",
            "province",
            "zip",
            "name",
            "country_code",
            "province_code",
        )
    } | {"latitude": "52.3676", "longitude": "4.9041"}


def order_resource(
    fields: Mapping[str, Any],
    order_id: int,
    number: int,
    items: Sequence[SoldItem],
    customer: Body | None,
    at: str,
) -> Body:
    """An order as Shopify records it from `POST /orders.json`."""
    lines = [line_item(item) for item in items]
    gross = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
    tax = sum((Decimal(line["tax_lines"][0]["price"]) for line in lines), Decimal(0))
    rates: dict[float, Decimal] = {}
    for line in lines:
        rate = line["tax_lines"][0]["rate"]
        rates[rate] = rates.get(rate, Decimal(0)) + Decimal(line["tax_lines"][0]["price"])
    financial_status = fields.get("financial_status") or "paid"
    email = fields.get("email") or (customer or {}).get("email")
    processed_at = fields.get("processed_at") or at
    total = money(gross)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "number": number - 1000,
        "order_number": number,
        "email": email,
        "contact_email": email,
        "created_at": at,
        "updated_at": at,
        "processed_at": processed_at,
        "closed_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "confirmed": True,
        "test": bool(fields.get("test", False)),
        "currency": SHOP_CURRENCY,
        "presentment_currency": SHOP_CURRENCY,
        "financial_status": financial_status,
        "fulfillment_status": None,
        "taxes_included": True,
        "tax_lines": [
            {
                "title": "BTW",
                "price": money(amount),
                "price_set": shop_money(money(amount)),
                "rate": rate,
            }
            for rate, amount in rates.items()
        ],
        "total_line_items_price": total,
        "total_line_items_price_set": shop_money(total),
        "subtotal_price": total,
        "subtotal_price_set": shop_money(total),
        "total_discounts": "0.00",
        "total_discounts_set": shop_money("0.00"),
        "total_tax": money(tax),
        "total_tax_set": shop_money(money(tax)),
        "total_price": total,
        "total_price_set": shop_money(total),
        "total_price_usd": total,
        "current_total_price": total,
        "total_weight": sum(int(line["grams"]) * line["quantity"] for line in lines),
        "discount_codes": [],
        "discount_applications": [],
        "note": fields.get("note"),
        "note_attributes": [],
        "tags": "",
        "gateway": "bogus",
        "payment_gateway_names": ["bogus"],
        "processing_method": "manual",
        "source_name": fields.get("source_name") or "web",
        "location_id": fields.get("location_id"),
        "buyer_accepts_marketing": bool((customer or {}).get("accepts_marketing")),
        "token": token("order", order_id),
        "cart_token": token("cart", order_id),
        "checkout_token": None,
        "checkout_id": order_id + 1,
        "reference": token("reference", order_id)[:8],
        "landing_site": "/",
        "landing_site_ref": "retailhub",
        "referring_site": "https://www.example.nl/",
        "source": None,
        "browser_ip": None,
        "user_id": None,
        "line_items": lines,
        "shipping_lines": [],
        "fulfillments": [],
        "refunds": [],
        "payment_details": {
            "avs_result_code": None,
            "credit_card_bin": None,
            "cvv_result_code": None,
            "credit_card_number": "•••• •••• •••• 4242",
            "credit_card_company": "Visa",
        },
        "billing_address": _address(customer),
        "shipping_address": _address(customer),
        "client_details": {
            "accept_language": "nl-NL",
            "browser_ip": "127.0.0.1",
            "session_hash": None,
            "user_agent": "retailhub-sandbox",
        },
        "customer": customer,
    }


def order_status(order: Mapping[str, Any]) -> str:
    """Which `status` filter of `GET /orders.json` lists the order."""
    if order.get("cancelled_at"):
        return "cancelled"
    return "closed" if order.get("closed_at") else "open"


def transaction_resource(
    fields: Mapping[str, Any], transaction_id: int, order_id: int, at: str
) -> Body:
    """A payment transaction of an order (`sale`, `capture`, `refund`, ...)."""
    amount = money(Decimal(str(fields["amount"])))
    return {
        "id": transaction_id,
        "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}",
        "order_id": order_id,
        "kind": fields.get("kind", "sale"),
        "gateway": fields.get("gateway") or "bogus",
        "status": fields.get("status", "success"),
        "message": None,
        "created_at": at,
        "processed_at": at,
        "test": False,
        "authorization": token("authorization", transaction_id)[:12],
        "currency": SHOP_CURRENCY,
        "amount": amount,
        "location_id": None,
        "user_id": None,
        "parent_id": fields.get("parent_id"),
        "device_id": None,
        "receipt": {"testcase": True, "authorization": token("receipt", transaction_id)[:6]},
        "error_code": None,
        "source_name": "web",
        "payment_details": {
            "avs_result_code": None,
            "credit_card_bin": None,
            "cvv_result_code": None,
            "credit_card_number": "•••• •••• •••• 4242",
            "credit_card_company": "Visa",
        },
    }


def refund_lines(
    order: Body,
    asked: Sequence[Mapping[str, Any]],
    refunded: Mapping[int, int],
    line_ids: Sequence[int],
) -> list[Body]:
    """The refund's lines (ids from `line_ids`), each checked against what is left to refund of
    its order line."""
    by_id = {line["id"]: line for line in order["line_items"]}
    lines = []
    for i, request in enumerate(asked):
        sold = by_id.get(request.get("line_item_id"))
        if sold is None:
            raise Refused(
                {
                    "refund_line_items": [
                        f"line item {request.get('line_item_id')} is not in the order"
                    ]
                }
            )
        quantity = request.get("quantity")
        left = sold["quantity"] - refunded.get(sold["id"], 0)
        if not isinstance(quantity, int) or not 0 < quantity <= left:
            raise Refused({"refund_line_items.quantity": [f"must be between 1 and {left}"]})
        share = Decimal(quantity) / sold["quantity"]
        subtotal = money(Decimal(sold["price"]) * quantity)
        tax = money(Decimal(sold["tax_lines"][0]["price"]) * share)
        lines.append(
            {
                "id": line_ids[i],
                "quantity": quantity,
                "line_item_id": sold["id"],
                "location_id": request.get("location_id"),
                "restock_type": request.get("restock_type", "no_restock"),
                "subtotal": subtotal,
                "subtotal_set": shop_money(subtotal),
                "total_tax": tax,
                "total_tax_set": shop_money(tax),
                "line_item": sold,
            }
        )
    return lines


def refund_resource(
    fields: Mapping[str, Any],
    refund_id: int,
    order_id: int,
    lines: list[Body],
    transactions: list[Body],
    at: str,
) -> Body:
    """A refund of an order."""
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order_id,
        "created_at": at,
        "processed_at": at,
        "note": fields.get("note"),
        "restock": any(line["restock_type"] != "no_restock" for line in lines),
        "user_id": None,
        "refund_line_items": lines,
        "transactions": transactions,
        "order_adjustments": [],
    }
