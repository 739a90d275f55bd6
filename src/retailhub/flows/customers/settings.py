"""The customer sync rules an estate configures: how people are recognised (identity keys, in
priority order) and which system wins each golden field (priority, recency window, strategy).

`CustomerSyncRules.from_dict` reads the estate file's `[customer_sync]` table; everything it
leaves out keeps the defaults of `identity.DEFAULT_MATCH_RULES` and `rules.DEFAULT_FIELD_RULES`
(docs/flows-customer-sync.md has both tables):

    [customer_sync]
    match = [{ key = "system_id" }, { key = "loyalty_card" }, { key = "email" },
             { key = "phone", confirm = ["family_name"] }]
    create_missing = ["hubspot"]
    [customer_sync.fields.phones]
    strategy = "priority"
    priority = ["hubspot", "shopify"]
    window_days = 7
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from retailhub.flows.customers.identity import MatchRules
from retailhub.flows.customers.rules import SurvivorshipRules


@dataclass(frozen=True)
class CustomerSyncRules:
    """Identity keys and survivorship rules, defaults for what the estate does not say."""

    match: MatchRules = field(default_factory=MatchRules)
    survivorship: SurvivorshipRules = field(default_factory=SurvivorshipRules)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomerSyncRules:
        """Rules from the estate's `[customer_sync]` table; ValueError names the fault."""
        return cls(MatchRules.from_dict(data), SurvivorshipRules.from_dict(data))

    @property
    def systems(self) -> frozenset[str]:
        """The systems that take part in customer sync."""
        return frozenset(self.survivorship.systems)
