"""The integrity invariants, read from the systems themselves through the connectors' ports
(and the hub's own status of each return): each check answers what it found wrong, so a
failing example names every breach at once.

- Every completed (refunded) return has exactly one live ERP credit note, and the loyalty
  reversal of what its lines earned, campaign bonus included; a return that was refused or
  compensated has neither. No line is refunded beyond what was bought.
- Each member's loyalty ledger sums to their balance.
- No order is posted twice: one ERP sale order per order, and no key twice in the ERP.
- Every shopper's CRM contact, Shopify customer and loyalty member hold the golden record
  each is linked to, except fields under an open conflict.
- No promotion is half published: each version's saga ended, the live version is what every
  one of its systems holds, and a promotion with no live version is live nowhere.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransactionType
from retailhub.canonical.order import Order, OrderLine
from retailhub.canonical.promotion import PromotionStatus
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import Posting
from retailhub.flows.alerts import open_alerts
from retailhub.flows.customers import CustomerSyncRules, golden_record_by_system_id
from retailhub.flows.customers.fields import is_empty, profile_fields, same_value
from retailhub.flows.promotions import VersionState, promotion_status
from retailhub.flows.returns import ReturnState, ReturnStatusView, return_status
from retailhub.sandbox.seed import Estate, EstateCustomer

from .documents import external_id
from .driver import Sent, read_profile
from .plans import PROFILE_SYSTEMS
from .world import World

SETTLED = {
    ReturnState.REFUNDED,
    ReturnState.REFUSED,
    ReturnState.COMPENSATED,
    ReturnState.ATTENTION,
}
"""Where a return ends: an undo that could not finish leaves it to an operator, alerted."""
RULES = CustomerSyncRules()


def credit_note_key(return_id: str) -> str:
    """The key return-to-refund writes a return's credit note under."""
    return f"return_to_refund:{return_id}:erp"


def whole(value: Decimal) -> int:
    """Whole points, rounded down as the loyalty platform does."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def earned_by_line(estate: Estate, order: Order) -> dict[str, dict[str, int]]:
    """What each line (by SKU) earns under the programme's rules, per rule: the base rule's
    point per whole EUR of the line's value, and the winter campaign's bonus per unit of its
    SKUs while it runs. Plans sell only SKUs no promotion of theirs touches."""
    campaign = estate.campaign
    running = campaign.valid_from <= order.placed_at < campaign.valid_to
    bonus_skus = set(campaign.eligibility.skus) if running else set()
    earned: dict[str, dict[str, int]] = {}
    for line in order.lines:
        assert line.sku is not None
        rules = {"base": whole(line.net.amount)}
        if line.sku in bonus_skus:
            rules["bonus"] = (campaign.reward.points or 0) * whole(line.quantity)
        earned[line.sku] = {rule: points for rule, points in rules.items() if points > 0}
    return earned


def share(points: int, returned: Decimal, sold: Decimal) -> int:
    """The part of a line's points that `returned` of its `sold` units stand for."""
    return whole(points * min(returned, sold) / sold)


@dataclass
class Evidence:
    """What the systems hold after a plan, read once for all the checks."""

    statuses: dict[str, ReturnStatusView | None]
    postings: list[Posting]
    members: dict[str, LoyaltyAccount]
    """Member of each order that names one (by card or email), by order id."""


async def gather(world: World, sent: Sent) -> Evidence:
    """Read each return's status, the ERP's postings of the plan's days and the orders' members."""
    async with world.hub.bus.transaction() as transaction:
        statuses = {
            g.return_id: await return_status(transaction, g.return_id) for g in sent.returns
        }
    days = {o.placed_at.date() for o in sent.orders} | {r.created_at.date() for r in sent.returns}
    around = {d + timedelta(days=n) for d in days for n in (-1, 0, 1)}
    postings = [p for day in sorted(around) for p in await world.erp.postings(day)]
    members = {}
    for order in sent.orders:
        member = await member_of(world, order)
        if member is not None:
            members[order.order_id] = member
    return Evidence(statuses, postings, members)


async def member_of(world: World, order: Order) -> LoyaltyAccount | None:
    """The member an order earns for: its card's, else its email's."""
    if order.loyalty_card:
        return await world.loyalty.find_member(card=order.loyalty_card)
    if order.email:
        return await world.loyalty.find_member(email=order.email)
    return None


def returns_settled(evidence: Evidence) -> list[str]:
    """Every return received reached an end: refunded, refused, compensated, or left to an
    operator (see `attention_alerted`)."""
    return [
        f"{return_id}: {status.state if status else 'unknown to the hub'}"
        f" ({status.reason if status else ''})"
        for return_id, status in evidence.statuses.items()
        if status is None or status.state not in SETTLED
    ]


def one_credit_note_per_refund(sent: Sent, evidence: Evidence) -> list[str]:
    """A refunded return has exactly one live credit note; any other return none."""
    found = []
    for goods in sent.returns:
        status = evidence.statuses[goods.return_id]
        key = credit_note_key(goods.return_id)
        notes = [p for p in evidence.postings if p.key == key]
        live = [p for p in notes if p.status != "cancel"]
        refunded = status is not None and status.state is ReturnState.REFUNDED
        if status is not None and status.state is ReturnState.ATTENTION:
            continue
        if refunded and (len(notes), len(live)) != (1, 1):
            found.append(f"{goods.return_id} refunded with credit notes {notes}")
        if not refunded and live:
            state = status.state if status else None
            found.append(f"{goods.return_id} {state} yet credit notes stand: {live}")
    return found


def nothing_refunded_twice(sent: Sent, evidence: Evidence) -> list[str]:
    """Refunded returns never take back more of a line than was bought."""
    orders = {o.order_id: o for o in sent.orders}
    taken: Counter[tuple[str, str]] = Counter()
    for goods in sent.returns:
        status = evidence.statuses[goods.return_id]
        if status is None or status.state is not ReturnState.REFUNDED:
            continue
        for line in goods.lines:
            taken[(goods.original_order_id or "", line.original_line_id or "")] += line.quantity  # type: ignore[assignment]
    found = []
    for (order_id, line_id), quantity in taken.items():
        sold = {line.line_id: line.quantity for line in orders[order_id].lines}[line_id]
        if quantity > sold:
            found.append(f"{order_id} line {line_id}: {quantity} refunded of {sold} bought")
    return found


def no_order_posted_twice(sent: Sent, evidence: Evidence) -> list[str]:
    """Each order is one ERP sale order, and no key is written twice in the ERP."""
    keys = Counter(p.key for p in evidence.postings)
    found = [f"{key} posted {n} times" for key, n in keys.items() if n > 1]
    found += [
        f"{order.order_id} posted {keys[order.order_id]} times"
        for order in sent.orders
        if keys[order.order_id] != 1
    ]
    return found


async def points_reversed_as_earned(world: World, sent: Sent, evidence: Evidence) -> list[str]:
    """Each order accrued what its lines earn; each refunded return reversed the share of it
    its units stand for (each rule rounds down over the units back so far, so one return may
    take a point more than its own share), all the refunded returns of an order together
    exactly that share of the units they took back; a return not refunded reversed nothing."""
    found = []
    ledgers = {
        member.member_id: await world.loyalty.ledger(member.member_id)
        for member in evidence.members.values()
    }
    by_order: dict[str, list[Return]] = defaultdict(list)
    for goods in sent.returns:
        by_order[goods.original_order_id or ""].append(goods)
    for order in sent.orders:
        member = evidence.members.get(order.order_id)
        rows = ledgers[member.member_id] if member else []
        earned = earned_by_line(world.estate, order)
        accrued = sum(
            r.points
            for r in rows
            if r.order_id == order.order_id and r.type is LoyaltyTransactionType.ACCRUAL
        )
        expected = sum(sum(rules.values()) for rules in earned.values()) if member else 0
        if accrued != expected:
            found.append(f"{order.order_id} accrued {accrued} points, its lines earn {expected}")
        lines = {line.sku: line for line in order.lines}
        back: Counter[str] = Counter()
        total = 0
        for goods in by_order[order.order_id]:
            status = evidence.statuses[goods.return_id]
            reversed_ = -sum(r.points for r in rows if r.return_id == goods.return_id)
            if status is not None and status.state is ReturnState.ATTENTION:
                continue
            if status is None or status.state is not ReturnState.REFUNDED:
                if reversed_:
                    found.append(f"{goods.return_id} not refunded, yet {reversed_} reversed")
                continue
            low, high = _bounds(goods, lines, earned) if member else (0, 0)
            if not low <= reversed_ <= high:
                loyalty = status.systems.get("loyalty")
                found.append(
                    f"{goods.return_id} reversed {reversed_} points, its lines earned"
                    f" {low}..{high} (the hub says: {loyalty})"
                )
            total += reversed_
            for line in goods.lines:
                back[line.sku or ""] += line.quantity  # type: ignore[assignment]
        if any(
            (s := evidence.statuses[g.return_id]) is not None and s.state is ReturnState.ATTENTION
            for g in by_order[order.order_id]
        ):
            continue  # what an undo left standing is the operator's to settle
        due = sum(
            share(points, Decimal(back[sku]), lines[sku].quantity)
            for sku, rules in earned.items()
            for points in rules.values()
        )
        if member and total != due:
            found.append(
                f"{order.order_id}: refunded returns reversed {total} points in all, the units"
                f" they took back earned {due}"
            )
    return found


def _bounds(
    goods: Return, lines: dict[str | None, OrderLine], earned: dict[str, dict[str, int]]
) -> tuple[int, int]:
    """The fewest and most points a return may reverse: per line and rule, its units' share,
    or one point more where an earlier return's rounding left one behind."""
    low = high = 0
    for line in goods.lines:
        sold = lines[line.sku].quantity
        for points in earned.get(line.sku or "", {}).values():
            part = share(points, line.quantity, sold)
            low += part
            high += part + (1 if line.quantity < sold else 0)
    return low, high


async def ledgers_sum_to_balances(world: World, members: Iterable[LoyaltyAccount]) -> list[str]:
    """Each member's active ledger rows add up to the balance the platform reports."""
    found = []
    for member_id in sorted({m.member_id for m in members}):
        account = await world.loyalty.find_member(member_id=member_id)
        assert account is not None, member_id
        total = sum(row.points for row in await world.loyalty.ledger(member_id))
        if total != account.points_balance:
            found.append(
                f"member {member_id}: ledger sums to {total}, balance {account.points_balance}"
            )
    return found


async def shopper_members(world: World, shoppers: Iterable[EstateCustomer]) -> list[LoyaltyAccount]:
    """The shoppers' loyalty members."""
    found = []
    for shopper in shoppers:
        account = await world.loyalty.find_member(member_id=external_id(shopper, "openloyalty"))
        assert account is not None, shopper.golden.customer_id
        found.append(account)
    return found


async def systems_hold_golden_records(
    world: World, shoppers: Iterable[EstateCustomer]
) -> list[str]:
    """Every shopper's CRM contact, Shopify customer and loyalty member hold the golden record
    it is linked to, as each system can hold it, except fields an open conflict holds back.

    Each system is compared with its own link: a person whose systems share no decisive key
    (another email in the CRM and no card there) is two golden customers, and rightly so."""
    found = []
    for shopper in shoppers:
        for system in PROFILE_SYSTEMS:
            system_id = external_id(shopper, system)
            async with world.hub.bus.transaction() as transaction:
                view = await golden_record_by_system_id(transaction, system, system_id)
            if view is None:
                found.append(f"{system} {system_id}: linked to no golden record")
                continue
            golden = view.golden
            ours = profile_fields(golden.customer)
            theirs = profile_fields(await read_profile(world, system, system_id))
            keeps = RULES.survivorship.system(system)
            for name in sorted(keeps.fields - golden.conflicted_fields()):
                expected = keeps.project(name, ours[name])
                held = keeps.project(name, theirs[name])
                if not is_empty(expected) and not same_value(expected, held):
                    found.append(
                        f"{golden.customer.customer_id} {system} {name}: holds {held!r},"
                        f" golden {expected!r}"
                    )
    return found


async def promotions_whole(world: World, sent: Sent) -> list[str]:
    """Each promotion's versions all ended; the live one is what its systems hold; without a
    live version the promotion is live nowhere, unless an alert asks an operator to take it
    out of a system the saga could not withdraw it from."""
    found = []
    connectors = world.hub.connectors
    assert connectors.pos is not None
    async with world.hub.bus.transaction() as transaction:
        alerts = [a.alert.key for a in await open_alerts(transaction, "promotion_publishing")]
    for promotion_id, latest in sent.promotions.items():
        async with world.hub.bus.transaction() as transaction:
            view = await promotion_status(transaction, promotion_id)
        if view is None or view.latest.version != latest:
            found.append(f"{promotion_id}: version {latest} never reached the hub ({view})")
            continue
        running = [v for v, state in view.versions if state is VersionState.PUBLISHING]
        if running:
            found.append(f"{promotion_id}: versions {running} still publishing")
        held = {
            "commerce": await world.commerce.get_promotion(promotion_id),
            "pos": await connectors.pos.get_promotion(promotion_id),
            "loyalty": await world.loyalty.get_campaign(promotion_id),
        }
        live = view.live
        for target, copy in held.items():
            on = copy is not None and copy.status is not PromotionStatus.CANCELLED
            if live is not None and target in live.targets:
                if copy is None or copy.version != live.version or not on:
                    found.append(
                        f"{promotion_id}: {target} holds"
                        f" {copy.version if copy else None}, live is v{live.version}"
                    )
            elif on and copy is not None and not any(promotion_id in key for key in alerts):
                found.append(f"{promotion_id}: {target} still runs v{copy.version}, live: {live}")
    return found


async def attention_alerted(world: World, evidence: Evidence) -> list[str]:
    """A return an undo could not finish has an open alert asking for an operator."""
    async with world.hub.bus.transaction() as transaction:
        alerted = {a.alert.key for a in await open_alerts(transaction, "return_to_refund")}
    return [
        f"{return_id} needs attention without an alert"
        for return_id, status in evidence.statuses.items()
        if status is not None
        and status.state is ReturnState.ATTENTION
        and f"return_to_refund:{return_id}" not in alerted
        and return_id not in alerted
    ]
