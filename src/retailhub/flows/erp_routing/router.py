"""`RoutedErp`: one ErpPort over several ERP instances, so flows post to "the ERP" and routing
rules decide which one.

Writes go to the ERP the plan chooses for the document (see `rules`), under the caller's key:
a document always routes the same way, so a repeat finds the first posting on the same ERP.
(Changing the rules while documents are in flight can send a repeat elsewhere: change them at
a business-day boundary; reconciliation finds a posting made twice.) Calls that carry only a
key search the routed ERPs in `RoutingPlan.lookup_order`: `find_posting` answers the first
posting found, and `cancel_sale_order` and `void_credit_note` act where the document is found.
`circuit_state` is the worst breaker among the routed ERPs (the shadow's never counts). Postings and
stock levels are stamped with the instance's system name, so reconciliation tells them apart.

Reads, which no single document routes:
- `stock_levels(location)` asks the ERP that stock adjustments at that location route to;
  without a location every routed ERP is asked and each location's levels come from its owner.
  `changed_since` passes through.
- `products`, `prices` and `pricing_controls` merge the routed ERPs in precedence order (the
  default first, then in rule order): the first ERP to know a SKU (a price slot) answers for it.
  With `changed_since`, a SKU whose item or price changed in any routed ERP is answered by the
  first ERP in precedence that holds it, so an ERP further down never answers for a SKU or a
  price slot another one owns.
- `postings(day, location)` asks the ERPs that sale orders or credit notes at the location may
  route to (every routed ERP without a location); shadow copies are left out.

Shadow mode (`plan.shadow`): after the primary call succeeds, the same call with the same key
is queued for the shadow ERP (`shadow_queue`), compared, and the finding recorded. The shadow
never changes the primary's outcome or latency, and it is never read from unless it is also a
routed ERP. A document routed to the shadow itself is not copied.

`close()` stops shadow mode; the member ERPs belong to the caller, who closes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import ErpPort, Posting, PricingControl
from retailhub.flows.erp_routing.rules import (
    DocumentType,
    RoutingFacts,
    RoutingPlan,
    facts_of_order,
    facts_of_return,
    facts_of_stock_adjustment,
)
from retailhub.flows.erp_routing.shadow import (
    FieldDifference,
    InMemoryShadowRecorder,
    ShadowOperation,
    ShadowRecorder,
    compare_postings,
)
from retailhub.flows.erp_routing.shadow_queue import ShadowCopy, ShadowQueue

ShadowCall = Callable[[ErpPort], Awaitable[tuple[FieldDifference, ...]]]


class RoutedErp(ErpPort):
    """The ERP port over several ERPs by system name, routed by a plan, optionally shadowed
    (copies go through `shadow`, by default four lanes of 1,000 with a 10 s timeout, recorded
    in memory)."""

    name = "erp"

    def __init__(
        self,
        erps: Mapping[str, ErpPort],
        plan: RoutingPlan,
        *,
        shadow: ShadowQueue | None = None,
    ) -> None:
        named = {*plan.targets, *([plan.shadow] if plan.shadow else [])}
        missing = sorted(named - set(erps))
        if missing:
            raise ValueError(f"routing names ERPs that are not built: {', '.join(missing)}")
        self.erps = dict(erps)
        self.plan = plan
        self.shadow = shadow or ShadowQueue(InMemoryShadowRecorder())

    @property
    def recorder(self) -> ShadowRecorder:
        """Where shadow findings are recorded."""
        return self.shadow.recorder

    async def close(self) -> None:
        """Let queued shadow copies finish (bounded), then stop shadow mode."""
        await self.shadow.close()

    def route(self, facts: RoutingFacts) -> str:
        """The ERP a document with these facts goes to."""
        return self.plan.choose(facts)

    # writes

    async def post_sale_order(self, order: Order, key: str) -> Posting:
        system = self.route(facts_of_order(order))
        posting = _stamped(await self.erps[system].post_sale_order(order, key), system)

        async def copy(shadow: ErpPort) -> tuple[FieldDifference, ...]:
            return compare_postings(posting, await shadow.post_sale_order(order, key))

        await self._copy(key, ShadowOperation.POST_SALE_ORDER, system, copy)
        return posting

    async def post_credit_note(self, document: Return, key: str) -> Posting:
        system = self.route(facts_of_return(document))
        posting = _stamped(await self.erps[system].post_credit_note(document, key), system)

        async def copy(shadow: ErpPort) -> tuple[FieldDifference, ...]:
            return compare_postings(posting, await shadow.post_credit_note(document, key))

        await self._copy(key, ShadowOperation.POST_CREDIT_NOTE, system, copy)
        return posting

    async def cancel_sale_order(self, key: str) -> Posting | None:
        """Cancel the sale order on the routed ERP that holds `key` (None when none does), and
        copy the cancellation to the shadow that received the order."""
        found = await self._locate(key)
        if found is None:
            return None
        system, _ = found
        cancelled = await self.erps[system].cancel_sale_order(key)
        if cancelled is None:
            return None
        posting = _stamped(cancelled, system)

        async def copy(shadow: ErpPort) -> tuple[FieldDifference, ...]:
            copied = await shadow.cancel_sale_order(key)
            return () if copied is None else compare_postings(posting, copied)

        await self._copy(key, ShadowOperation.CANCEL_SALE_ORDER, system, copy)
        return posting

    def circuit_state(self) -> str:
        """The worst breaker among the routed ERPs: `open` if any is open, else `half_open` if
        any is, else `closed`. The shadow ERP never holds up the primary, so it does not count."""
        states = {self.erps[system].circuit_state() for system in self.plan.targets}
        return next((state for state in ("open", "half_open") if state in states), "closed")

    async def void_credit_note(self, key: str) -> None:
        found = await self._locate(key)
        if found is None:
            return
        system, _ = found
        await self.erps[system].void_credit_note(key)

        async def copy(shadow: ErpPort) -> tuple[FieldDifference, ...]:
            await shadow.void_credit_note(key)
            return ()

        await self._copy(key, ShadowOperation.VOID_CREDIT_NOTE, system, copy)

    async def adjust_stock(self, sku: str, location: str, delta: Decimal, key: str) -> None:
        system = self.route(facts_of_stock_adjustment(location))
        await self.erps[system].adjust_stock(sku, location, delta, key)

        async def copy(shadow: ErpPort) -> tuple[FieldDifference, ...]:
            await shadow.adjust_stock(sku, location, delta, key)
            return ()

        await self._copy(key, ShadowOperation.ADJUST_STOCK, system, copy)

    async def _copy(
        self, key: str, operation: ShadowOperation, primary: str, call: ShadowCall
    ) -> None:
        """Queue the call for the shadow ERP, unless there is none or it is the primary."""
        shadow_system = self.plan.shadow
        if shadow_system is None or shadow_system == primary:
            return
        shadow = self.erps[shadow_system]
        await self.shadow.submit(
            ShadowCopy(key, operation, primary, shadow_system, lambda: call(shadow))
        )

    # lookups by key

    async def find_posting(self, key: str) -> Posting | None:
        found = await self._locate(key)
        return None if found is None else found[1]

    async def _locate(self, key: str) -> tuple[str, Posting] | None:
        """The routed ERP holding the document written under `key`, and its posting. An ERP
        that fails is passed over while another routed ERP may still hold the key, but absence
        is only certain when every ERP answered, and what may be a copy in the shadow ERP is
        never taken for the document: then the error of the ERP that failed is raised."""
        failure: Exception | None = None
        for system in self.plan.lookup_order:
            try:
                posting = await self.erps[system].find_posting(key)
            except Exception as error:  # another ERP may still hold it
                failure = failure or error
                continue
            if posting is None:
                continue
            stamped = _stamped(posting, system)
            if system == self.plan.shadow and self._may_be_copy(stamped, failure is not None):
                break
            return system, stamped
        if failure is not None:
            raise failure
        return None

    def _may_be_copy(self, posting: Posting, someone_failed: bool) -> bool:
        """True when a posting found in the shadow ERP may be a shadow copy: its location is
        never routed to the shadow, or is shared with an ERP that did not answer."""
        owners = self._owners(posting.location)
        if self.plan.shadow not in owners:
            return True
        return someone_failed and owners != (self.plan.shadow,)

    # reads

    async def stock_levels(
        self, location: str | None = None, changed_since: datetime | None = None
    ) -> list[InventoryLevel]:
        if location is not None:
            system = self.route(facts_of_stock_adjustment(location))
            erp = self.erps[system]
            return _sourced(await erp.stock_levels(location, changed_since=changed_since), system)
        levels: list[InventoryLevel] = []
        for system in self.plan.targets:
            for level in await self.erps[system].stock_levels(changed_since=changed_since):
                if self.route(facts_of_stock_adjustment(level.location)) == system:
                    levels.append(level.model_copy(update={"source": system}))
        return levels

    async def products(self, changed_since: datetime | None = None) -> AsyncIterator[Product]:
        if changed_since is not None and len(self.plan.targets) > 1:
            for product in await self._changed_products(changed_since):
                yield product
            return
        seen: set[str] = set()
        for system in self.plan.targets:
            async for product in self.erps[system].products(changed_since):
                if product.sku not in seen:
                    seen.add(product.sku)
                    yield product

    async def _changed_products(self, changed_since: datetime) -> list[Product]:
        """Items changed in any routed ERP, each as the ERP first in precedence holds it: an
        item changed only in a later ERP is looked for in the earlier ones' whole masters, so
        the later ERP's copy never overrides the one that wins a full read."""
        targets = self.plan.targets
        changed = {
            system: [p async for p in self.erps[system].products(changed_since)]
            for system in targets
        }
        chosen: dict[str, Product] = {}
        contested: dict[str, int] = {}
        for rank, system in enumerate(targets):
            for product in changed[system]:
                if product.sku not in chosen:
                    chosen[product.sku] = product
                    if rank > 0:
                        contested[product.sku] = rank
        if contested:
            for rank, system in enumerate(targets[: max(contested.values())]):
                async for product in self.erps[system].products():
                    if contested.get(product.sku, 0) > rank:
                        chosen[product.sku] = product
                        contested[product.sku] = rank
        return list(chosen.values())

    async def prices(
        self, skus: Sequence[str] | None = None, changed_since: datetime | None = None
    ) -> list[Price]:
        if changed_since is not None and len(self.plan.targets) > 1:
            # A price changed in one ERP is read again from all, so precedence still decides.
            changed = {
                price.sku
                for system in self.plan.targets
                for price in await self.erps[system].prices(skus, changed_since=changed_since)
            }
            return await self.prices(sorted(changed)) if changed else []
        chosen: dict[tuple[str, Channel, str | None, str | None], Price] = {}
        for system in self.plan.targets:
            for price in await self.erps[system].prices(skus, changed_since=changed_since):
                chosen.setdefault((price.sku, price.channel, price.store, price.zone), price)
        return list(chosen.values())

    async def pricing_controls(self, skus: Sequence[str]) -> list[PricingControl]:
        wanted = list(dict.fromkeys(skus))
        controls: list[PricingControl] = []
        for system in self.plan.targets:
            if not wanted:
                break
            answered = await self.erps[system].pricing_controls(wanted)
            known = {control.sku for control in answered}
            controls += [control for control in answered if control.sku in wanted]
            wanted = [sku for sku in wanted if sku not in known]
        return controls

    async def postings(self, business_day: date, location: str | None = None) -> list[Posting]:
        systems = self.plan.targets if location is None else self._owners(location)
        found = [
            _stamped(posting, system)
            for system in systems
            for posting in await self.erps[system].postings(business_day, location)
        ]
        return [p for p in found if not self._is_shadow_copy(p, found)]

    def _owners(self, location: str | None) -> tuple[str, ...]:
        """The ERPs sale orders and credit notes at `location` may route to, in target order."""
        owners = {
            self.route(RoutingFacts(document_type, location, channel))
            for document_type in (DocumentType.SALE_ORDER, DocumentType.CREDIT_NOTE)
            for channel in (*Channel, None)
        }
        return tuple(system for system in self.plan.targets if system in owners)

    def _is_shadow_copy(self, posting: Posting, found: Sequence[Posting]) -> bool:
        """True for a posting in the shadow ERP that its rules never send there (a copy) or
        whose key another ERP also holds."""
        if posting.system != self.plan.shadow:
            return False
        if posting.system not in self._owners(posting.location):
            return True
        return any(p.key == posting.key and p.system != posting.system for p in found)


def _stamped(posting: Posting, system: str) -> Posting:
    """The posting named after the ERP instance that holds it, not the product."""
    return dataclasses.replace(posting, system=system)


def _sourced(levels: list[InventoryLevel], system: str) -> list[InventoryLevel]:
    return [level.model_copy(update={"source": system}) for level in levels]
