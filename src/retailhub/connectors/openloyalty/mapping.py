"""Open Loyalty payloads <-> canonical documents, as pure functions.

Decisions:
- A member is a LoyaltyAccount: `memberId` is the member id, `activePoints` the spendable
  balance, `lockedPoints` the pending points, `currentLevel.name` the tier; an inactive member
  is blocked. Open Loyalty may hold fractional points; canonical points are whole, so a
  fraction is dropped (the member cannot spend it either).
- A points transfer is a ledger row when it is active: an `adding` from a transaction is the
  accrual of that sale, a `spending` from a transaction the reversal of that return, and every
  other transfer (manual add or spend, a block reserving points at checkout) an adjustment with
  its comment as the reason. Cancelled, pending and expired transfers move no spendable points,
  so the ledger of active transfers adds up to `activePoints`.
- A sale is a `sell` transaction whose `documentNumber` is the order id, so Open Loyalty itself
  refuses a second registration of the same order; a return is a `return` transaction whose
  `documentNumber` is the return id and whose `linkedDocumentNumber` is the original order id.
  An item's `grossValue` is what the customer paid for the line (after line discounts): the
  platform's earning rules apply to it.
- A promotion is an earning rule: bonus points per unit -> `product_purchase` with
  `pointsAmount`, a points multiplier -> `multiply_for_product` with `multiplier`, eligible
  SKUs in `skuIds`, channels as purchase places (`allPos`, or `pos` naming the web shop's place
  and the stores), and the promotion's id, version and status in the rule's `labels` so it can
  be read back. The general spending rule is the programme's base rate, not a promotion.
- Money crosses the wire as JSON numbers: a Decimal with at most 15 significant digits
  survives the float that carries it exactly (its shortest repr is the same digits).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from pydantic import ValidationError

from retailhub.canonical.base import Channel
from retailhub.canonical.loyalty import (
    LoyaltyAccount,
    LoyaltyTransaction,
    LoyaltyTransactionType,
    MemberStatus,
)
from retailhub.canonical.order import Order, OrderStatus
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.canonical.returns import Return
from retailhub.connectors.errors import MappingError

SYSTEM = "openloyalty"
PROMOTION_LABEL = "retailhub.promotion"
VERSION_LABEL = "retailhub.version"
STATUS_LABEL = "retailhub.status"
_TRANSFER_IDS = uuid.UUID("0c6f2a9e-7d41-4b8e-a5f3-2e9d81c4b7a0")
_RULE_TYPES = {
    RewardType.BONUS_POINTS: "product_purchase",
    RewardType.POINTS_MULTIPLIER: "multiply_for_product",
}


def transfer_id(key: str) -> str:
    """The points transfer id written under an idempotency key: the same key, the same id."""
    return str(uuid.uuid5(_TRANSFER_IDS, key))


def wire_number(value: Decimal) -> float:
    """A Decimal as the JSON number Open Loyalty reads (see the module's note on exactness)."""
    return float(value)


def whole_points(value: Any, resource: str, resource_id: str | None, path: str) -> int:
    """Points as the canonical whole number; a fraction is dropped, anything else refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError(resource, resource_id, path, f"points must be a number, not {value!r}")
    return int(Decimal(str(value)).to_integral_value(rounding=ROUND_FLOOR))


def _moment(value: Any, resource: str, resource_id: str | None, path: str) -> datetime:
    if not isinstance(value, str):
        raise MappingError(resource, resource_id, path, "a date-time is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MappingError(resource, resource_id, path, f"{value!r} is not a date-time") from None
    if moment.tzinfo is None:
        raise MappingError(resource, resource_id, path, f"{value!r} has no UTC offset")
    return moment


def member_to_account(member: Mapping[str, Any]) -> LoyaltyAccount:
    """Map a member with its point counters to the member's loyalty account."""
    member_id = member.get("memberId")
    if not isinstance(member_id, str) or not member_id:
        raise MappingError("member", None, "$.memberId", "a member needs its memberId")
    level = member.get("currentLevel")
    card = member.get("loyaltyCardNumber")
    updated = member.get("updatedAt")
    try:
        return LoyaltyAccount(
            member_id=member_id,
            card_numbers=[card] if isinstance(card, str) and card else [],
            tier=level.get("name") if isinstance(level, dict) else None,
            points_balance=whole_points(
                member.get("activePoints", 0), "member", member_id, "$.activePoints"
            ),
            pending_points=whole_points(
                member.get("lockedPoints", 0), "member", member_id, "$.lockedPoints"
            ),
            status=MemberStatus.ACTIVE if member.get("active", True) else MemberStatus.BLOCKED,
            updated_at=_moment(updated, "member", member_id, "$.updatedAt") if updated else None,
            external_ids={SYSTEM: member_id},
        )
    except ValidationError as error:
        raise MappingError("member", member_id, "$", str(error)) from None


def transfer_to_ledger_row(transfer: Mapping[str, Any]) -> LoyaltyTransaction | None:
    """Map a points transfer to a signed ledger row, or None when it moves no spendable points."""
    transfer_id_ = transfer.get("transferId")
    if not isinstance(transfer_id_, str) or not transfer_id_:
        raise MappingError("points transfer", None, "$.transferId", "a transfer needs its id")
    if transfer.get("state") != "active":
        return None
    kind = transfer.get("type")
    points = whole_points(transfer.get("value"), "points transfer", transfer_id_, "$.value")
    if points == 0:
        return None
    document = transfer.get("transactionDocumentNumber") if transfer.get("transactionId") else None
    comment = transfer.get("comment") or None
    fields: dict[str, Any] = {}
    if kind == "adding" and document:
        fields = {"type": LoyaltyTransactionType.ACCRUAL, "points": points, "order_id": document}
    elif kind == "spending" and document:
        fields = {"type": LoyaltyTransactionType.REVERSAL, "points": -points, "return_id": document}
    elif kind in ("adding", "spending", "blocked"):
        sign = 1 if kind == "adding" else -1
        reason = comment or f"points {kind}"
        if kind == "blocked":
            reason = f"blocked for a sale in progress: {reason}"
        fields = {"type": LoyaltyTransactionType.ADJUSTMENT, "points": sign * points}
        fields["reason"] = reason
    else:
        raise MappingError("points transfer", transfer_id_, "$.type", f"unknown type {kind!r}")
    try:
        return LoyaltyTransaction(
            transaction_id=transfer_id_,
            member_id=transfer.get("memberId") or "",
            occurred_at=_moment(
                transfer.get("createdAt"), "points transfer", transfer_id_, "$.createdAt"
            ),
            **({"reason": comment} | fields),
        )
    except ValidationError as error:
        raise MappingError("points transfer", transfer_id_, "$", str(error)) from None


def _customer_data(card: str | None, email: str | None) -> dict[str, str]:
    data = {}
    if card:
        data["loyaltyCardNumber"] = card
    if email:
        data["email"] = email
    return data


def order_to_transaction(order: Order, *, web_place: str = "WEB") -> dict[str, Any]:
    """The body of `POST /transaction` registering a completed sale for its member."""
    if order.status is not OrderStatus.COMPLETED:
        raise MappingError(
            "order", order.order_id, "$.status", "only a completed sale earns loyalty points"
        )
    customer = _customer_data(order.loyalty_card, order.email)
    if not customer:
        raise MappingError(
            "order", order.order_id, "$.loyalty_card", "no loyalty card or email to match a member"
        )
    place = order.location or (web_place if order.channel is Channel.WEB else None)
    if place is None:
        raise MappingError("order", order.order_id, "$.location", "a store sale needs its store")
    items = [
        {
            "sku": {"code": line.sku or line.gtin},
            "name": line.title or line.sku or line.gtin,
            "quantity": wire_number(line.quantity),
            "grossValue": wire_number(line.net.amount),
            "labels": [{"key": "lineId", "value": line.line_id}],
        }
        for line in order.lines
    ]
    return {
        "transaction": {
            "header": {
                "documentNumber": order.order_id,
                "documentType": "sell",
                "purchasedAt": order.placed_at.isoformat(),
                "purchasePlace": place,
                "labels": [{"key": "channel", "value": order.channel.value}],
            },
            "items": items,
            "customerData": customer,
        }
    }


def return_to_transaction(document: Return, *, web_place: str = "WEB") -> dict[str, Any]:
    """The body of `POST /transaction` registering a return against its original sale."""
    header: dict[str, Any] = {
        "documentNumber": document.return_id,
        "documentType": "return",
        "purchasedAt": document.created_at.isoformat(),
        "purchasePlace": document.received_location or document.initiated_location or web_place,
        "labels": [{"key": "channel", "value": document.initiated_channel.value}],
    }
    if document.original_order_id:
        header["linkedDocumentNumber"] = document.original_order_id
    items = [
        {
            "sku": {"code": line.sku or line.gtin},
            "name": line.sku or line.gtin,
            "quantity": wire_number(line.quantity),
            "grossValue": wire_number(line.refund_amount.amount),
            "labels": [{"key": "lineId", "value": line.original_line_id or line.line_id}],
        }
        for line in document.lines
    ]
    return {
        "transaction": {
            "header": header,
            "items": items,
            "customerData": _customer_data(document.loyalty_card, None),
        }
    }


def points_transfer_body(
    member_id: str, points: int, comment: str, transfer_id_: str
) -> dict[str, Any]:
    """The body of `POST /points/add|spend|block`: who, how many, why, under which id."""
    return {
        "transfer": {
            "member": member_id,
            "points": points,
            "comment": comment,
            "transferId": transfer_id_,
        }
    }


def _places(
    promotion: Promotion, web_place: str, store_places: Sequence[str]
) -> tuple[bool, list[str]]:
    """(`allPos`, `pos`) for the promotion's channels and stores."""
    at = f"{promotion.promotion_id}:v{promotion.version}"
    unsupported = set(promotion.channels) - {Channel.STORE, Channel.WEB}
    if unsupported:
        names = ", ".join(sorted(c.value for c in unsupported))
        raise MappingError("promotion", at, "$.channels", f"Open Loyalty has no place for {names}")
    in_store, online = Channel.STORE in promotion.channels, Channel.WEB in promotion.channels
    if in_store and online and not promotion.stores:
        return True, []
    places = list(promotion.stores or store_places) if in_store else []
    if in_store and not places:
        raise MappingError(
            "promotion", at, "$.stores", "a store-only promotion needs the stores' codes"
        )
    return False, places + ([web_place] if online else [])


def promotion_to_earning_rule(
    promotion: Promotion, *, web_place: str = "WEB", store_places: Sequence[str] = ()
) -> dict[str, Any]:
    """The body of `POST`/`PUT /earningRule` publishing a loyalty promotion."""
    at = f"{promotion.promotion_id}:v{promotion.version}"
    reward, eligibility = promotion.reward, promotion.eligibility
    if reward.type not in _RULE_TYPES:
        raise MappingError(
            "promotion", at, "$.reward.type", f"{reward.type.value} is not a loyalty earning rule"
        )
    if not eligibility.skus or eligibility.hierarchy_nodes:
        raise MappingError(
            "promotion", at, "$.eligibility", "an earning rule names its SKUs (skuIds)"
        )
    if eligibility.customer_tiers or eligibility.customer_segments or eligibility.minimum_spend:
        raise MappingError(
            "promotion", at, "$.eligibility", "tier, segment and spend conditions are not mapped"
        )
    all_pos, pos = _places(promotion, web_place, store_places)
    rule: dict[str, Any] = {
        "name": promotion.name,
        "description": promotion.description or "",
        "type": _RULE_TYPES[reward.type],
        "active": promotion.status is PromotionStatus.ACTIVE,
        "allTimeActive": False,
        "startAt": promotion.valid_from.isoformat(),
        "endAt": promotion.valid_to.isoformat(),
        "skuIds": list(eligibility.skus),
        "allPos": all_pos,
        "pos": pos,
        "labels": [
            {"key": PROMOTION_LABEL, "value": promotion.promotion_id},
            {"key": VERSION_LABEL, "value": str(promotion.version)},
            {"key": STATUS_LABEL, "value": promotion.status.value},
        ],
    }
    if reward.type is RewardType.BONUS_POINTS:
        rule["pointsAmount"] = reward.points
    else:
        assert reward.multiplier is not None
        rule["multiplier"] = wire_number(reward.multiplier)
    return {"earningRule": rule}


def labels_of(rule: Mapping[str, Any]) -> dict[str, str]:
    """A rule's labels as a dict."""
    found: dict[str, str] = {}
    for label in rule.get("labels") or []:
        if isinstance(label, dict) and isinstance(label.get("key"), str):
            found[label["key"]] = str(label.get("value", ""))
    return found


def earning_rule_to_promotion(
    rule: Mapping[str, Any], *, web_place: str = "WEB", store_places: Sequence[str] = ()
) -> Promotion | None:
    """Map a bonus or multiplier earning rule back to its promotion; None for rules that are no
    promotion (the general spending rule, rules without an end)."""
    rule_id = rule.get("earningRuleId")
    if not isinstance(rule_id, str) or not rule_id:
        raise MappingError("earning rule", None, "$.earningRuleId", "a rule needs its id")
    kind = rule.get("type")
    if kind not in _RULE_TYPES.values() or rule.get("allTimeActive"):
        return None
    labels = labels_of(rule)
    if kind == "product_purchase":
        points = whole_points(rule.get("pointsAmount"), "earning rule", rule_id, "$.pointsAmount")
        reward = {"type": RewardType.BONUS_POINTS, "points": points}
    else:
        reward = {"type": RewardType.POINTS_MULTIPLIER, "multiplier": str(rule.get("multiplier"))}
    pos = list(rule.get("pos") or [])
    stores = [place for place in pos if place != web_place]
    channels = [Channel.STORE, Channel.WEB] if rule.get("allPos") else []
    if not channels:
        channels = ([Channel.STORE] if stores else []) + ([Channel.WEB] if web_place in pos else [])
    active = bool(rule.get("active"))
    status = labels.get(STATUS_LABEL) or ("active" if active else "draft")
    if not active and status == "active":
        status = "draft"
    try:
        return Promotion(
            promotion_id=labels.get(PROMOTION_LABEL) or f"OPENLOYALTY-RULE-{rule_id}",
            version=int(labels.get(VERSION_LABEL) or 1),
            name=rule.get("name") or rule_id,
            description=rule.get("description") or None,
            source=SYSTEM,
            channels=channels,
            stores=[] if set(stores) == set(store_places) else sorted(stores),
            eligibility=Eligibility(skus=list(rule.get("skuIds") or [])),
            reward=Reward.model_validate(reward),
            valid_from=_moment(rule.get("startAt"), "earning rule", rule_id, "$.startAt"),
            valid_to=_moment(rule.get("endAt"), "earning rule", rule_id, "$.endAt"),
            status=PromotionStatus(status),
            external_ids={SYSTEM: rule_id},
        )
    except (ValidationError, ValueError) as error:
        raise MappingError("earning rule", rule_id, "$", str(error)) from None
