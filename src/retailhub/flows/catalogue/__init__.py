"""Product, inventory and price sync, choreographed on the bus.

The ERP's item master, stock and prices are captured by a poller (`capture`) into catalogue
events, and six independent subscriptions (`wiring`) carry them to the commerce platform, the
POS and the loyalty catalogue, each guarded by source sequence (`ledger`). A bulk initial load
(`load`) fills the three targets with the whole item master, resumable from its checkpoint.
Modules: `settings`, `decisions` (pure), `events`, `storage`, `ledger`, `capture`, `products`,
`stock`, `prices`, `load`, `status`, `wiring`. See docs/flows-catalogue-sync.md.
"""

from retailhub.flows.catalogue.capture import CaptureReport, ErpChangeCapture, run_catalogue_poller
from retailhub.flows.catalogue.decisions import available_to_sell
from retailhub.flows.catalogue.ledger import Refusal, refusals
from retailhub.flows.catalogue.load import (
    LoadProgress,
    LoadState,
    LoadTargets,
    NothingToResume,
    load_catalogue,
    load_progress,
)
from retailhub.flows.catalogue.settings import CatalogueSettings, SafetyStock
from retailhub.flows.catalogue.status import CatalogueStatus, catalogue_status
from retailhub.flows.catalogue.wiring import (
    SUBSCRIPTIONS,
    CatalogueSync,
    subscribe_catalogue_sync,
)

__all__ = [
    "SUBSCRIPTIONS",
    "CaptureReport",
    "CatalogueSettings",
    "CatalogueStatus",
    "CatalogueSync",
    "ErpChangeCapture",
    "LoadProgress",
    "LoadState",
    "LoadTargets",
    "NothingToResume",
    "Refusal",
    "SafetyStock",
    "available_to_sell",
    "catalogue_status",
    "load_catalogue",
    "load_progress",
    "refusals",
    "run_catalogue_poller",
    "subscribe_catalogue_sync",
]
