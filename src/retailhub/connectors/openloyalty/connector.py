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
transfers carry a `transferId` derived from the key, refused twice the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransaction
from retailhub.canonical.order import Order
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.openloyalty import mapping
from retailhub.connectors.openloyalty.client import SYSTEM, OpenLoyaltyClient, refused_field
from retailhub.connectors.ports import LoyaltyPort, PointsOutcome
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
        """The member a transaction matched and the ledger rows it moved."""
        client = self.client
        transaction = await client.get(client.path("transaction", transaction_id))
        rows = [
            row
            async for transfer in client.items(
                client.path("points", "transfer"), {"transactionId": transaction_id}
            )
            if (row := mapping.transfer_to_ledger_row(transfer)) is not None
        ]
        member_id = transaction.get("customerId") or ""
        return PointsOutcome(str(member_id), sum(r.points for r in rows), tuple(rows))

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

    async def get_campaign(self, promotion_id: str) -> Promotion | None:
        rule = await self._published(promotion_id)
        if rule is None:
            rule = await self.client.get_or_none(self.client.path("earningRule", promotion_id))
        return None if rule is None else self._promotion(rule)

    async def tiers(self) -> list[dict[str, object]]:
        """The programme's tiers (levels) as Open Loyalty lists them."""
        client = self.client
        return [tier async for tier in client.items(client.path("tier"))]
