"""Item lines: which survive voids, how they name the item, and in what unit they are counted."""

from __future__ import annotations

import re
from decimal import Decimal

from retailhub.canonical.identifiers import is_valid_gtin, normalise_gtin
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.returns import ReturnReason
from retailhub.connectors.poslog.parser import FieldError
from retailhub.connectors.poslog.records import ItemAction, ItemRecord

_UNIT_CODES = {
    **dict.fromkeys(
        ("EA", "EACH", "PCE", "PC", "PCS", "C62", "H87", "UN", "ST"), UnitOfMeasure.EACH
    ),
    **dict.fromkeys(("KGM", "KG", "KILOGRAM"), UnitOfMeasure.KG),
    **dict.fromkeys(("GRM", "G", "GRAM"), UnitOfMeasure.G),
    **dict.fromkeys(("LTR", "L", "LITRE", "LITER"), UnitOfMeasure.L),
    **dict.fromkeys(("MTR", "M", "METRE", "METER"), UnitOfMeasure.M),
    **dict.fromkeys(("LBR", "LB", "LBS", "POUND"), UnitOfMeasure.LB),
}
_GTIN_ID_TYPES = {"GTIN", "EAN", "EAN8", "EAN13", "UPC", "UPCA", "UPCE", "BARCODE"}
_REASONS: dict[str, ReturnReason] = {
    **{reason.value.replace("_", ""): reason for reason in ReturnReason},
    "faulty": ReturnReason.DEFECTIVE,
    "broken": ReturnReason.DAMAGED,
    "wrongsize": ReturnReason.SIZE_OR_FIT,
    "size": ReturnReason.SIZE_OR_FIT,
    "fit": ReturnReason.SIZE_OR_FIT,
    "unwanted": ReturnReason.CHANGED_MIND,
    "notwanted": ReturnReason.CHANGED_MIND,
    "nolongerwanted": ReturnReason.CHANGED_MIND,
    "wrongitem": ReturnReason.WRONG_ITEM,
    "late": ReturnReason.LATE_DELIVERY,
}


def live_items(items: tuple[ItemRecord, ...]) -> list[ItemRecord]:
    """The lines that count: voided lines are dropped, and so is the line a reversal cancels.

    ARTS flags the voided line itself (`VoidFlag="true"`, amounts as rung up); NCR instead adds
    a flagged reversal line with the negative quantity, so the earlier line it cancels goes too.
    """
    live: list[ItemRecord] = []
    for item in items:
        if not item.voided:
            live.append(item)
            continue
        if item.quantity < 0:
            cancelled = next(
                (
                    i
                    for i in range(len(live) - 1, -1, -1)
                    if live[i].action is item.action
                    and live[i].quantity == -item.quantity
                    and (live[i].item_id, live[i].pos_item_id) == (item.item_id, item.pos_item_id)
                ),
                None,
            )
            if cancelled is not None:
                del live[cancelled]
    return live


def is_returned(item: ItemRecord) -> bool:
    """Goods coming back: a `Return` line, or a sale line with a negative quantity."""
    return item.action is ItemAction.RETURN or item.quantity < 0


def item_sku(item: ItemRecord) -> str:
    """The POS item code: `ItemID`, else `POSIdentity/POSItemID`."""
    sku = item.item_id or item.pos_item_id
    if sku is None:
        raise FieldError(_at(item), "names no item (neither ItemID nor POSIdentity/POSItemID)")
    return sku


def item_gtin(item: ItemRecord) -> str | None:
    """The item's GTIN when it has one; PLUs and short codes are not GTINs and stay SKUs only.

    A code counts when its check digit is right and it keeps 8 or more digits without its
    padding zeros, so a 4- or 5-digit PLU padded to 14 digits is never taken for a GTIN.
    """
    candidates = [item.item_id]
    if item.pos_id_type is None or item.pos_id_type.upper() in _GTIN_ID_TYPES:
        candidates.insert(0, item.pos_item_id)
    for code in candidates:
        if code and code.isdigit() and len(code.lstrip("0")) >= 8 and is_valid_gtin(code):
            return normalise_gtin(code)
    return None


def unit_of_measure(
    item: ItemRecord, currency: str, weight_unit: UnitOfMeasure | None
) -> UnitOfMeasure:
    """The unit the quantity counts: the file's UnitOfMeasureCode, else each or, for weighed items,
    `weight_unit` (pounds for US-dollar stores, kilograms elsewhere, when not given)."""
    if item.unit_code:
        try:
            return _UNIT_CODES[item.unit_code.upper()]
        except KeyError:
            raise FieldError(
                f"{_at(item)}/Quantity/@UnitOfMeasureCode",
                f"unknown unit of measure {item.unit_code!r}",
            ) from None
    if item.weighed or item.quantity != item.quantity.to_integral():
        if weight_unit is not None:
            return weight_unit
        return UnitOfMeasure.LB if currency == "USD" else UnitOfMeasure.KG
    return UnitOfMeasure.EACH


def return_reason(code: str | None) -> ReturnReason:
    """A POS reason code in the hub's words; unknown or generic codes (`Return`) become `other`."""
    if code is None:
        return ReturnReason.OTHER
    return _REASONS.get(re.sub(r"[^a-z]", "", code.lower()), ReturnReason.OTHER)


def unit_price(item: ItemRecord) -> Decimal:
    """The price actually charged per unit: `ActualSalesUnitPrice`, else the regular price."""
    price = item.actual_price if item.actual_price is not None else item.regular_price
    if price is None:
        raise FieldError(f"{_at(item)}/RegularSalesUnitPrice", "is missing")
    return abs(price)


def _at(item: ItemRecord) -> str:
    return (
        f"LineItem[{item.line_number}]/{'Return' if item.action is ItemAction.RETURN else 'Sale'}"
    )
