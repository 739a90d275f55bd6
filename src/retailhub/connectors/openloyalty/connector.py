"""The loyalty port on Open Loyalty's REST API.

Follows the Open Loyalty API reference (help.openloyalty.io, API reference "Member",
"Transactions", "Points", "Tier"; `/api/{storeCode}/member`, `transaction` bodies with `header`,
`items`, `customerData`; lists as `{"items", "total": {"all", "filtered"}}`) and its technical
guide for auth (`X-AUTH-TOKEN` permanent token, or a JWT bearer from `login_check`), with Open
Loyalty's 4.x documentation (docs.openloyalty.io) for earning rules and for paging (`page`,
`perPage`). The tests check the connector's bodies and the emulator's answers against
retailhub's own transcription of those pages
(tests/connectors/openloyalty/openloyalty_api_shapes.json).

Idempotency: a sale's or return's `documentNumber` is its order or return id, and Open Loyalty
refuses a document number twice, so a repeat is answered with the first registration; points
transfers (captures of a reservation included) carry a `transferId` derived from the key,
refused twice the same way; a member is enrolled once per email and card (Open Loyalty keeps
both unique), found by them before enrolling; profile, catalogue and earning-rule writes are
PUTs of the whole document.

Members are enrolled with `POST /member {"customer": {...}}`, answered `{"customerId",
"email"}` (help.openloyalty.io, getting-started guide "Add Member"). To confirm on a real Open
Loyalty before going live (the emulator follows these choices): `PUT /member/{id}` taking the
same `{"customer": {...}}`; `POST /transaction/simulate` answering `points` with the points per earning rule in
`earningRules`; `GET /reward` listing rewards with `costInPoints`; `PUT /product/{sku}` for the
catalogue; `POST /points/transfer/{id}/spend` spending what a block reserved.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp

from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Customer
from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransaction
from retailhub.canonical.order import Order
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion, PromotionStatus
from retailhub.canonical.returns import Return
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.openloyalty import mapping, profiles
from retailhub.connectors.openloyalty.client import SYSTEM, OpenLoyaltyClient, refused_field
from retailhub.connectors.ports import (
    BasketLine,
    LoyaltyPort,
    LoyaltyQuote,
    PointsOutcome,
)
from retailhub.resilience import ResiliencePolicy, Resilient

_DOCUMENT_NUMBER = "transaction.header.documentNumber"
_TRANSFER_ID = "transfer.transferId"


class OpenLoyaltyConnector(LoyaltyPort):
    """Members, transactions, points transfers and earning rules of one Open Loyalty store."""

    name = SYSTEM

    def __init__(
        self,
        base_url: str,
        *,
        api_token: str | None = None,
        jwt: str | None = None,
        policy: ResiliencePolicy | None = None,
        store_code: str = "DEFAULT",
        web_place: str = "WEB",
        store_places: Sequence[str] = (),
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.resilient = Resilient(SYSTEM, policy or ResiliencePolicy())
        self.client = OpenLoyaltyClient(
            base_url,
            self.resilient,
            api_token=api_token,
            jwt=jwt,
            store_code=store_code,
            session=session,
        )
        self.web_place = web_place
        self.store_places = tuple(store_places)

    async def close(self) -> None:
        await self.client.close()

    def circuit_state(self) -> str:
        """The state of the breaker guarding calls to this Open Loyalty store."""
        return self.resilient.circuit_state()

    # members

    async def find_member_profile(self, member_id: str) -> Customer | None:
        """The member's profile as a customer (`GET /member/{id}`); None for an unknown id."""
        member = await self.client.get_or_none(self.client.path("member", member_id))
        return None if member is None else profiles.member_to_customer(member)

    async def register_member(self, customer: Customer, key: str) -> str:
        """Enrol the customer unless a member already has their card or email (the key adds
        nothing: Open Loyalty keeps both unique, so they are what makes a repeat safe)."""
        body = profiles.customer_to_member(customer)
        if not customer.loyalty_cards and customer.primary_email is None:
            raise MappingError(
                "customer",
                customer.customer_id,
                "$.emails",
                "a member needs an email or a loyalty card to be found again",
            )
        existing = await self._member_of(customer)
        if existing is not None:
            return existing
        client = self.client
        try:
            created = await client.post(client.path("member"), body)
        except RequestRefused as refusal:
            if refused_field(refusal) not in ("customer.email", "customer.loyaltyCardNumber"):
                raise
            existing = await self._member_of(customer)
            if existing is None:
                raise
            return existing
        return str(created["customerId"])

    async def _member_of(self, customer: Customer) -> str | None:
        """The member holding the customer's card, else their email."""
        for card in customer.loyalty_cards[:1]:
            found = await self.find_member(card=card)
            if found is not None:
                return found.member_id
        email = customer.primary_email
        found = None if email is None else await self.find_member(email=email)
        return None if found is None else found.member_id

    async def update_member(self, member_id: str, customer: Customer) -> None:
        """Write the customer's names, email, phone and card onto the member (a PUT of the
        fields the customer has: safe to repeat)."""
        client = self.client
        await client.put(client.path("member", member_id), profiles.customer_to_member(customer))

    async def quote(
        self,
        member_id: str | None,
        lines: Sequence[BasketLine],
        channel: Channel,
        location: str | None,
    ) -> LoyaltyQuote:
        """Ask the platform's own earning engine what the basket would earn now
        (`POST /transaction/simulate`, nothing recorded), and offer the member the active
        rewards their balance pays for."""
        client = self.client
        member = None
        if member_id is not None:
            member = await client.get_or_none(client.path("member", member_id))
            if member is None:
                raise MappingError("basket", None, "$.member_id", f"no member {member_id}")
        card = (member or {}).get("loyaltyCardNumber")
        customer_data = {"loyaltyCardNumber": card} if card else {}
        place = profiles.quote_place(channel, location, self.web_place)
        body = profiles.quote_transaction(lines, place, datetime.now(UTC), customer_data)
        answer = await client.post(client.path("transaction", "simulate"), body, idempotent=True)
        points, bonus = profiles.simulated_points(answer)
        if member is None:
            return LoyaltyQuote(points, bonus, ())
        balance = mapping.member_to_account(member).points_balance
        offers = [
            profiles.reward_offer(reward)
            async for reward in client.items(client.path("reward"), {"active": "1"})
        ]
        affordable = tuple(offer for offer in offers if offer.points_cost <= balance)
        return LoyaltyQuote(points, bonus, affordable)

    async def put_products(self, products: Sequence[Product]) -> None:
        """Publish each item to the programme's product catalogue (`PUT /product/{sku}`, one
        request per item, safe to repeat)."""
        client = self.client
        for product in products:
            await client.put(client.path("product", product.sku), profiles.product_to_item(product))

    # sales, returns and points

    async def find_member(
        self, *, card: str | None = None, email: str | None = None, member_id: str | None = None
    ) -> LoyaltyAccount | None:
        """One request: the member by id, else the first member with the card, else the email."""
        client = self.client
        if member_id:
            member = await client.get_or_none(client.path("member", member_id))
        elif card:
            member = await client.first(client.path("member"), {"loyaltyCardNumber": card})
        elif email:
            address = email.strip().lower()
            member = await client.first(client.path("member"), {"email": address})
        else:
            raise ValueError("find_member needs a card, an email or a member id")
        return None if member is None else mapping.member_to_account(member)

    async def register_sale(self, order: Order, key: str) -> PointsOutcome:
        """Register the sale (its order id is the document number Open Loyalty dedupes on) and
        report the points its earning rules accrued."""
        body = mapping.order_to_transaction(order, web_place=self.web_place)
        return await self._register(order.order_id, body)

    async def register_return(self, document: Return, key: str) -> PointsOutcome:
        """Register the return so Open Loyalty reverses what the returned lines earned, then
        credit back any points that paid for them (once, under a key derived from `key`)."""
        body = mapping.return_to_transaction(document, web_place=self.web_place)
        outcome = await self._register(document.return_id, body)
        refunded = document.points_refunded()
        if refunded <= 0:
            return outcome
        if not outcome.member_id:
            raise MappingError(
                "return", document.return_id, "$.loyalty_card", "no member to credit points to"
            )
        reason = f"points tender refunded for return {document.return_id}"
        credit_id = await self.add_points(outcome.member_id, refunded, reason, f"{key}:points")
        credit = await self.client.get(self.client.path("points", "transfer", credit_id))
        row = mapping.transfer_to_ledger_row(credit)
        rows = outcome.transactions + ((row,) if row else ())
        return PointsOutcome(outcome.member_id, outcome.points + refunded, rows)

    async def _register(self, document_number: str, body: dict[str, object]) -> PointsOutcome:
        """POST the transaction, or find the first registration of its document number."""
        client = self.client
        try:
            created = await client.post(client.path("transaction"), body, idempotent=True)
            transaction_id = str(created["transactionId"])
        except RequestRefused as refusal:
            if refused_field(refusal) != _DOCUMENT_NUMBER:
                raise
            existing = await client.first(
                client.path("transaction"), {"documentNumber": document_number}
            )
            if existing is None:
                raise
            transaction_id = str(existing["transactionId"])
        return await self._outcome(transaction_id)

    async def _outcome(self, transaction_id: str) -> PointsOutcome:
        """The member a transaction matched and the ledger rows it moved. The transfers name
        their member; only a transaction that moved no points is read for its member."""
        client = self.client
        rows = [
            row
            async for transfer in client.items(
                client.path("points", "transfer"), {"transactionId": transaction_id}
            )
            if (row := mapping.transfer_to_ledger_row(transfer)) is not None
        ]
        members = {row.member_id for row in rows}
        if len(members) == 1:
            member_id = members.pop()
        else:
            transaction = await client.get(client.path("transaction", transaction_id))
            member_id = str(transaction.get("customerId") or "")
        return PointsOutcome(member_id, sum(r.points for r in rows), tuple(rows))

    async def _transfer(
        self, action: str, member_id: str, points: int, comment: str, key: str
    ) -> str:
        """POST a points transfer under the id derived from `key`; a repeat finds the first."""
        if points <= 0:
            raise ValueError(f"points to {action} must be positive, not {points}")
        client = self.client
        wanted = mapping.transfer_id(key)
        body = mapping.points_transfer_body(member_id, points, comment, wanted)
        try:
            created = await client.post(client.path("points", action), body, idempotent=True)
        except RequestRefused as refusal:
            if refused_field(refusal) != _TRANSFER_ID:
                raise
            return wanted
        return str(created["transferId"])

    async def add_points(self, member_id: str, points: int, reason: str, key: str) -> str:
        return await self._transfer("add", member_id, points, reason, key)

    async def spend_points(self, member_id: str, points: int, reason: str, key: str) -> str:
        return await self._transfer("spend", member_id, points, reason, key)

    async def block_points(self, member_id: str, points: int, key: str) -> str:
        return await self._transfer("block", member_id, points, f"checkout reservation {key}", key)

    async def capture_points(self, transfer_id: str, key: str) -> str:
        """Spend the points a reservation holds (`POST /points/transfer/{id}/spend`) under the
        transfer id derived from `key`; a repeat is refused for that id and answered with it.
        A reservation released or captured under another key is refused."""
        client = self.client
        wanted = mapping.transfer_id(key)
        body = {"transfer": {"transferId": wanted, "comment": f"checkout capture {key}"}}
        try:
            created = await client.post(
                client.path("points", "transfer", transfer_id, "spend"), body, idempotent=True
            )
        except RequestRefused as refusal:
            if refused_field(refusal) != _TRANSFER_ID:
                raise
            return wanted
        return str(created["transferId"])

    async def unblock_points(self, transfer_id: str) -> None:
        """Release a reservation; releasing it again changes nothing."""
        await self._undo(transfer_id, "unblock")

    async def cancel_transfer(self, transfer_id: str) -> None:
        """Cancel a transfer; cancelling it again changes nothing, so compensation can repeat."""
        await self._undo(transfer_id, "cancel")

    async def _undo(self, transfer_id: str, action: str) -> None:
        """POST the cancel or unblock; a refusal of a transfer already cancelled means done."""
        client = self.client
        try:
            await client.post(
                client.path("points", "transfer", transfer_id, action), idempotent=True
            )
        except RequestRefused as refusal:
            if refusal.status != 400:
                raise
            transfer = await client.get(client.path("points", "transfer", transfer_id))
            if transfer.get("state") != "canceled":
                raise

    async def ledger(self, member_id: str) -> list[LoyaltyTransaction]:
        client = self.client
        return [
            row
            async for transfer in client.items(
                client.path("points", "transfer"), {"member": member_id}
            )
            if (row := mapping.transfer_to_ledger_row(transfer)) is not None
        ]

    async def _rules(self, *, live_only: bool) -> list[dict[str, object]]:
        client = self.client
        params = {"active": "1"} if live_only else {}
        return [rule async for rule in client.items(client.path("earningRule"), params)]

    def _promotion(self, rule: dict[str, object]) -> Promotion | None:
        return mapping.earning_rule_to_promotion(
            rule, web_place=self.web_place, store_places=self.store_places
        )

    async def campaigns(self) -> list[Promotion]:
        promotions = [self._promotion(rule) for rule in await self._rules(live_only=True)]
        return [promotion for promotion in promotions if promotion is not None]

    async def put_campaign(self, promotion: Promotion) -> str:
        """Create the promotion's earning rule, or update the one published for an earlier
        version; the same version again changes nothing."""
        body = mapping.promotion_to_earning_rule(
            promotion, web_place=self.web_place, store_places=self.store_places
        )
        published = await self._published(promotion.promotion_id)
        client = self.client
        if published is None:
            created = await client.post(client.path("earningRule"), body)
            return str(created["earningRuleId"])
        rule_id = str(published["earningRuleId"])
        version = int(mapping.labels_of(published).get(mapping.VERSION_LABEL) or 0)
        if version < promotion.version:
            await client.put(client.path("earningRule", rule_id), body)
        return rule_id

    async def _published(self, promotion_id: str) -> dict[str, object] | None:
        for rule in await self._rules(live_only=False):
            if mapping.labels_of(rule).get(mapping.PROMOTION_LABEL) == promotion_id:
                return rule
        return None

    async def withdraw_campaign(self, promotion_id: str) -> None:
        """Deactivate the promotion's earning rule (a PUT of the rule with `active` false and
        the status label `cancelled`, so it is read back as withdrawn); no rule, nothing to do."""
        rule = await self._published(promotion_id)
        if rule is None:
            return
        body = {key: value for key, value in rule.items() if key != "earningRuleId"}
        held = body.get("labels")
        labels = [
            label
            for label in (held if isinstance(held, list) else [])
            if not (isinstance(label, dict) and label.get("key") == mapping.STATUS_LABEL)
        ]
        labels.append({"key": mapping.STATUS_LABEL, "value": PromotionStatus.CANCELLED.value})
        body |= {"active": False, "labels": labels}
        await self.client.put(
            self.client.path("earningRule", str(rule["earningRuleId"])), {"earningRule": body}
        )

    async def get_campaign(self, promotion_id: str) -> Promotion | None:
        rule = await self._published(promotion_id)
        if rule is None:
            rule = await self.client.get_or_none(self.client.path("earningRule", promotion_id))
        return None if rule is None else self._promotion(rule)

    async def tiers(self) -> list[dict[str, object]]:
        """The programme's tiers (levels) as Open Loyalty lists them."""
        client = self.client
        return [tier async for tier in client.items(client.path("tier"))]
