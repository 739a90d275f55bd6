"""More than one ERP: routing rules on canonical fields pick the ERP instance a document goes
to, and shadow mode sends a copy to a second ERP and records where its postings differ.

Modules: `rules` (pure: which ERP a document goes to), `shadow` (the comparison record, the
recorder protocol and its in-memory implementation), `router` (`RoutedErp`, an ErpPort over
several ERPs). See docs/flows-erp-routing.md.
"""

from retailhub.flows.erp_routing.router import RoutedErp
from retailhub.flows.erp_routing.rules import (
    DocumentType,
    RoutingConfigError,
    RoutingFacts,
    RoutingPlan,
    RuleKey,
    load_plan,
    plan_from_routing,
)
from retailhub.flows.erp_routing.shadow import (
    FieldDifference,
    InMemoryShadowRecorder,
    ShadowOperation,
    ShadowOutcome,
    ShadowRecord,
    ShadowRecorder,
)
from retailhub.flows.erp_routing.shadow_queue import ShadowQueue

__all__ = [
    "DocumentType",
    "FieldDifference",
    "InMemoryShadowRecorder",
    "RoutedErp",
    "RoutingConfigError",
    "RoutingFacts",
    "RoutingPlan",
    "RuleKey",
    "ShadowOperation",
    "ShadowOutcome",
    "ShadowQueue",
    "ShadowRecord",
    "ShadowRecorder",
    "load_plan",
    "plan_from_routing",
]
