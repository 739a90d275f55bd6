"""Shopify resources as the Admin REST API (2024-10) returns them, built with every field of the
shopify_python_api fixtures in `retailhub.samples.shopify`, so a client reading the real API
reads the emulator the same way."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from retailhub.sandbox.seed import Store

Body = dict[str, Any]

SHOP_DOMAIN = "retailhub-sandbox.myshopify.com"
SHOP_CURRENCY = "EUR"
CENT = Decimal("0.01")

_PROVINCES = {
    "Amsterdam": ("North Holland", "NH"),
    "Rotterdam": ("South Holland", "ZH"),
    "Den Haag": ("South Holland", "ZH"),
    "Utrecht": ("Utrecht", "UT"),
    "Eindhoven": ("North Brabant", "NB"),
    "Tilburg": ("North Brabant", "NB"),
}
_COUNTRIES = {"NL": "Netherlands", "BE": "Belgium", "DE": "Germany", "US": "United States"}


def timestamp(moment: datetime) -> str:
    """A Shopify date-time: whole seconds with the offset (`2026-01-01T10:00:00+00:00`)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, the emulator's comparable form of a date-time."""
    return int(moment.timestamp() * 1_000_000)


def money(amount: Decimal) -> str:
    """A Shopify amount: a decimal string with two places."""
    return format(amount.quantize(CENT, ROUND_HALF_EVEN), "f")


def token(*parts: object) -> str:
    """A stable 32-hex token (cart and order tokens) derived from the resource's ids."""
    return hashlib.md5("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def location_resource(store: Store, location_id: int, at: str) -> Body:
    """A store or the web shop's warehouse; the name starts with the estate's location code."""
    province, province_code = _PROVINCES.get(store.city, ("", ""))
    return {
        "id": location_id,
        "name": f"{store.code} {store.name}",
        "deleted_at": None,
        "address1": store.street,
        "address2": None,
        "city": store.city,
        "zip": store.postal_code,
        "province": province,
        "country": store.country,
        "phone": None,
        "created_at": at,
        "updated_at": at,
        "country_code": store.country,
        "country_name": _COUNTRIES.get(store.country, store.country),
        "province_code": province_code,
        "legacy": False,
        "active": True,
        "admin_graphql_api_id": f"gid://shopify/Location/{location_id}",
    }


def address_resource(
    address: Mapping[str, Any], address_id: int, customer: Mapping[str, Any], *, default: bool
) -> Body:
    """A customer's address with the fields Shopify fills in (names, country and province)."""
    country_code = str(address.get("country_code") or "NL").upper()
    city = str(address.get("city") or "")
    province, province_code = _PROVINCES.get(city, ("", ""))
    first, last = customer.get("first_name"), customer.get("last_name")
    return {
        "id": address_id,
        "customer_id": customer["id"],
        "address1": address.get("address1") or "",
        "address2": address.get("address2") or "",
        "city": city,
        "company": address.get("company"),
        "country": _COUNTRIES.get(country_code, country_code),
        "first_name": address.get("first_name", first),
        "last_name": address.get("last_name", last),
        "phone": address.get("phone") or customer.get("phone") or "",
        "province": address.get("province") or province,
        "zip": address.get("zip") or "",
        "name": " ".join(str(n) for n in (first, last) if n),
        "province_code": address.get("province_code") or province_code,
        "country_code": country_code,
        "country_name": _COUNTRIES.get(country_code, country_code),
        "default": default,
    }


def customer_resource(fields: Mapping[str, Any], at: str, existing: Body | None = None) -> Body:
    """A customer from the fields of a create or update (over `existing` on update)."""
    customer: Body = dict(existing) if existing is not None else _new_customer(fields["id"], at)
    for name in ("first_name", "last_name", "email", "phone", "note", "tags", "tax_exempt"):
        if name in fields:
            customer[name] = fields[name]
    for name in ("email_marketing_consent", "sms_marketing_consent"):
        if isinstance(fields.get(name), Mapping):
            consent = {"opt_in_level": "single_opt_in", "consent_updated_at": at, **fields[name]}
            customer[name] = consent
    state = (customer.get("email_marketing_consent") or {}).get("state")
    customer["accepts_marketing"] = state == "subscribed"
    customer["accepts_marketing_updated_at"] = (customer.get("email_marketing_consent") or {}).get(
        "consent_updated_at"
    ) or at
    customer["updated_at"] = at
    return customer


def _new_customer(customer_id: int, at: str) -> Body:
    return {
        "id": customer_id,
        "email": None,
        "accepts_marketing": False,
        "accepts_marketing_updated_at": at,
        "created_at": at,
        "updated_at": at,
        "first_name": None,
        "last_name": None,
        "orders_count": 0,
        "state": "disabled",
        "total_spent": "0.00",
        "last_order_id": None,
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "tags": "",
        "last_order_name": None,
        "currency": SHOP_CURRENCY,
        "phone": None,
        "addresses": [],
        "default_address": None,
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
    }


def with_addresses(customer: Body, addresses: Sequence[Body]) -> Body:
    """The customer holding `addresses`, the first default one as `default_address`."""
    default = next((a for a in addresses if a.get("default")), addresses[0] if addresses else None)
    return {**customer, "addresses": list(addresses), "default_address": default}


def variant_resource(
    fields: Mapping[str, Any], product_id: int, position: int, at: str, existing: Body | None
) -> Body:
    """A product variant from the fields sent (over `existing` on update)."""
    variant: Body = (
        dict(existing)
        if existing is not None
        else {
            "id": fields["id"],
            "product_id": product_id,
            "title": "Default Title",
            "price": "0.00",
            "sku": None,
            "position": position,
            "inventory_policy": "deny",
            "compare_at_price": None,
            "fulfillment_service": "manual",
            "inventory_management": "shopify",
            "option1": "Default Title",
            "option2": None,
            "option3": None,
            "created_at": at,
            "updated_at": at,
            "taxable": True,
            "barcode": None,
            "grams": 0,
            "weight": 0.0,
            "weight_unit": "kg",
            "inventory_item_id": fields["inventory_item_id"],
            "inventory_quantity": 0,
            "old_inventory_quantity": 0,
            "requires_shipping": True,
            "admin_graphql_api_id": f"gid://shopify/ProductVariant/{fields['id']}",
        }
    )
    for name in ("title", "sku", "barcode", "option1", "option2", "option3", "taxable"):
        if name in fields:
            variant[name] = fields[name]
    for name in ("price", "compare_at_price"):
        if name in fields:
            value = fields[name]
            variant[name] = None if value is None else money(Decimal(str(value)))
    if "option1" not in fields and "title" in fields:
        variant["option1"] = fields["title"]
    variant["position"] = position
    variant["updated_at"] = at
    return variant


def product_resource(
    fields: Mapping[str, Any], variants: list[Body], at: str, existing: Body | None
) -> Body:
    """A product from the fields sent, holding `variants` (over `existing` on update)."""
    product_id = fields["id"] if existing is None else existing["id"]
    product: Body = (
        dict(existing)
        if existing is not None
        else {
            "id": product_id,
            "title": "",
            "body_html": "",
            "vendor": "",
            "product_type": "",
            "created_at": at,
            "handle": "",
            "updated_at": at,
            "published_at": at,
            "template_suffix": None,
            "published_scope": "web",
            "tags": "",
            "status": "active",
            "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
            "images": [],
            "image": None,
        }
    )
    for name in ("title", "body_html", "vendor", "product_type", "tags", "status", "handle"):
        if fields.get(name) is not None:
            product[name] = fields[name]
    if not product["handle"]:
        product["handle"] = "-".join(str(product["title"]).lower().split())
    names = [o.get("name") for o in fields.get("options") or []] or [
        o["name"] for o in (existing or {}).get("options") or []
    ]
    product["options"] = [
        {
            "id": product_id * 10 + i,
            "product_id": product_id,
            "name": name or "Title",
            "position": i,
            "values": sorted({str(v.get(f"option{i}")) for v in variants if v.get(f"option{i}")}),
        }
        for i, name in enumerate(names or ["Title"], start=1)
    ]
    product["variants"] = variants
    product["updated_at"] = at
    return product


def inventory_level_resource(level: Mapping[str, Any]) -> Body:
    """An inventory level as Shopify shows it."""
    return {
        "inventory_item_id": level["inventory_item_id"],
        "location_id": level["location_id"],
        "available": level["available"],
        "updated_at": level["updated_at"],
        "admin_graphql_api_id": (
            f"gid://shopify/InventoryLevel/{level['inventory_item_id']}"
            f"?inventory_item_id={level['inventory_item_id']}"
        ),
    }


def price_rule_resource(fields: Mapping[str, Any], rule_id: int, at: str) -> Body:
    """A price rule from the fields of a create; `value` comes back as a decimal string."""
    rule: Body = {
        "id": rule_id,
        "value_type": "percentage",
        "value": "0.0",
        "customer_selection": "all",
        "target_type": "line_item",
        "target_selection": "all",
        "allocation_method": "across",
        "allocation_limit": None,
        "once_per_customer": False,
        "usage_limit": None,
        "starts_at": at,
        "ends_at": None,
        "created_at": at,
        "updated_at": at,
        "entitled_product_ids": [],
        "entitled_variant_ids": [],
        "entitled_collection_ids": [],
        "entitled_country_ids": [],
        "prerequisite_product_ids": [],
        "prerequisite_variant_ids": [],
        "prerequisite_collection_ids": [],
        "customer_segment_prerequisite_ids": [],
        "prerequisite_customer_ids": [],
        "prerequisite_subtotal_range": None,
        "prerequisite_quantity_range": None,
        "prerequisite_shipping_price_range": None,
        "prerequisite_to_entitlement_quantity_ratio": {
            "prerequisite_quantity": None,
            "entitled_quantity": None,
        },
        "prerequisite_to_entitlement_purchase": {"prerequisite_amount": None},
        "title": "",
        "admin_graphql_api_id": f"gid://shopify/PriceRule/{rule_id}",
    }
    for name, value in fields.items():
        if name in rule and name not in {"id", "created_at", "updated_at", "admin_graphql_api_id"}:
            rule[name] = value
    rule["value"] = format(Decimal(str(fields.get("value", "0"))).normalize(), "f")
    if "." not in rule["value"]:
        rule["value"] += ".0"
    return rule


def discount_code_resource(code: str, code_id: int, price_rule_id: int, at: str) -> Body:
    """A discount code of a price rule."""
    return {
        "id": code_id,
        "price_rule_id": price_rule_id,
        "code": code,
        "usage_count": 0,
        "created_at": at,
        "updated_at": at,
    }


def webhook_resource(topic: str, address: str, webhook_id: int, at: str, version: str) -> Body:
    """A webhook subscription."""
    return {
        "id": webhook_id,
        "address": address,
        "topic": topic,
        "created_at": at,
        "updated_at": at,
        "format": "json",
        "fields": [],
        "metafield_namespaces": [],
        "api_version": version,
        "private_metafield_namespaces": [],
    }
