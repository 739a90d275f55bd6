"""How Shopify's numeric ids become the hub's business keys and location codes, and back.

Document ids derive from Shopify's ids, never from order names (`#1001`): ids are globally
unique across shops, never renumbered by a shop's prefix settings, and a refund webhook carries
only its order's id, so the return can name its order without a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping

from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.payload import Reader

_LOCATION_PREFIX = "SHOPIFY-"


def order_id(shopify_order_id: int) -> str:
    """The hub's order id for a Shopify order (`SHOPIFY-ORDER-450789469`)."""
    return f"SHOPIFY-ORDER-{shopify_order_id}"


def return_id(shopify_refund_id: int) -> str:
    """The hub's return id for a Shopify refund (`SHOPIFY-REFUND-509562969`)."""
    return f"SHOPIFY-REFUND-{shopify_refund_id}"


def customer_id(shopify_customer_id: int) -> str:
    """A provisional customer key until identity resolution links the golden record."""
    return f"SHOPIFY-CUSTOMER-{shopify_customer_id}"


def promotion_id(shopify_price_rule_id: int) -> str:
    """The promotion id of a price rule read back from Shopify (`SHOPIFY-PRICE-RULE-1213131`)."""
    return f"SHOPIFY-PRICE-RULE-{shopify_price_rule_id}"


def location_code(reader: Reader, field: str, codes: Mapping[int, str] | None) -> str:
    """The estate's code for the Shopify location in `field`.

    Without an estate mapping the code is `SHOPIFY-<location id>`, which maps back unchanged;
    with one, a location it does not list is an error rather than stock booked to nowhere.
    """
    shopify_location = reader.integer(field)
    if codes is None:
        return f"{_LOCATION_PREFIX}{shopify_location}"
    code = codes.get(shopify_location)
    if code is None:
        raise reader.fail(field, f"location {shopify_location} is not in the estate's location map")
    return code


def location_id(
    code: str, ids: Mapping[str, int] | None, resource: str, resource_id: str, path: str
) -> int:
    """The Shopify location id for an estate location code; the inverse of `location_code`."""
    if ids is not None:
        if code in ids:
            return ids[code]
        raise MappingError(
            resource, resource_id, path, f"location {code!r} is not in the estate's location map"
        )
    number = code.removeprefix(_LOCATION_PREFIX)
    if code.startswith(_LOCATION_PREFIX) and number.isdigit():
        return int(number)
    raise MappingError(
        resource, resource_id, path, f"location {code!r} has no Shopify id; pass a location map"
    )
