"""The three systems a promotion is published to, behind their ports, addressed by target name.

`commerce` (price rule and discount code), `pos` (the store promotion feed) and `loyalty`
(an earning rule): each can take a version, give it back for drift checks, and withdraw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retailhub.canonical.promotion import Promotion
from retailhub.connectors.ports import CommercePort, LoyaltyPort, PosPort, System
from retailhub.flows.promotions.drift import ChannelCheck, compare, unreadable
from retailhub.flows.promotions.rules import COMMERCE, LOYALTY, POS, as_sent


@dataclass(frozen=True)
class PromotionChannels:
    """The web shop, the POS feed and the loyalty platform, as the publishing flow uses them."""

    commerce: CommercePort
    pos: PosPort
    loyalty: LoyaltyPort

    def _port(self, target: str) -> System:
        ports: dict[str, System] = {COMMERCE: self.commerce, POS: self.pos, LOYALTY: self.loyalty}
        try:
            return ports[target]
        except KeyError:
            raise ValueError(f"{target!r} is not a promotion target") from None

    def system(self, target: str) -> str:
        """The name of the system behind a target (`shopify`, `pos`, `openloyalty`)."""
        return self._port(target).name

    async def publish(self, target: str, promotion: Promotion) -> str:
        """Publish the version to one system; its id there (the version's key on the POS feed,
        which names promotions by the hub's own id)."""
        if target == COMMERCE:
            return await self.commerce.put_promotion(promotion)
        if target == POS:
            await self.pos.publish_promotion(promotion)
            return promotion.key
        if target == LOYALTY:
            return await self.loyalty.put_campaign(promotion)
        raise ValueError(f"{target!r} is not a promotion target")

    async def withdraw(self, target: str, promotion_id: str) -> None:
        """Take the promotion out of one system; nothing to do when it holds none."""
        if target == COMMERCE:
            await self.commerce.withdraw_promotion(promotion_id)
        elif target == POS:
            await self.pos.withdraw_promotion(promotion_id)
        elif target == LOYALTY:
            await self.loyalty.withdraw_campaign(promotion_id)
        else:
            raise ValueError(f"{target!r} is not a promotion target")

    async def read(self, target: str, promotion_id: str) -> Promotion | None:
        """The promotion as one system holds it now, or None."""
        if target == COMMERCE:
            return await self.commerce.get_promotion(promotion_id)
        if target == POS:
            return await self.pos.get_promotion(promotion_id)
        if target == LOYALTY:
            return await self.loyalty.get_campaign(promotion_id)
        raise ValueError(f"{target!r} is not a promotion target")

    async def check(self, target: str, promotion: Promotion, skus: Sequence[str]) -> ChannelCheck:
        """Read one system's copy back and compare it with what was sent to it (`skus`: the
        eligible SKUs validation resolved); a failed read is reported as unreadable rather than
        raised, so one system does not hide the others."""
        sent = as_sent(promotion, target, skus)
        try:
            found = await self.read(target, sent.promotion_id)
        except Exception as error:
            return unreadable(target, sent, f"{type(error).__name__}: {error}")
        return compare(target, sent, found)

    async def check_all(
        self, targets: Sequence[str], promotion: Promotion, skus: Sequence[str]
    ) -> list[ChannelCheck]:
        """Every target's copy compared with what was sent to it, in target order."""
        return [await self.check(target, promotion, skus) for target in targets]
