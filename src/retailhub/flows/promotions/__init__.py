"""Promotion-to-redemption: a promotion version authored in the CRM or the loyalty platform is
validated against the ERP's pricing controls, published as one version to the web shop, the POS
feed and the loyalty platform by a saga that never leaves it half published, read back from
each, and measured for drift.

Modules: `rules` (pure: targets, pricing controls, overlaps), `drift` (pure: field-by-field
comparison and accuracy), `channels` (the three systems behind their ports), `validation` (the
saga's first step), `publishing` (the saga), `store` (the projection and its queries),
`recheck` (drift read again on demand) and `wiring` (`subscribe_promotion_publishing`). See
docs/flows-promotion-to-redemption.md.
"""

from retailhub.flows.promotions.channels import PromotionChannels
from retailhub.flows.promotions.drift import ChannelCheck, FieldDrift
from retailhub.flows.promotions.publishing import (
    DRIFT_ALERT,
    SAGA_NAME,
    WITHDRAWAL_ALERT,
    PublicationResult,
    PublishingSettings,
)
from retailhub.flows.promotions.recheck import recheck_promotion
from retailhub.flows.promotions.store import (
    AccuracySummary,
    ChannelState,
    ChannelView,
    PromotionAccuracy,
    PromotionView,
    VersionState,
    VersionView,
    promotion_accuracy_summary,
    promotion_status,
)
from retailhub.flows.promotions.validation import REJECTED_ALERT, ValidationSettings
from retailhub.flows.promotions.wiring import SUBSCRIPTION, subscribe_promotion_publishing

__all__ = [
    "DRIFT_ALERT",
    "REJECTED_ALERT",
    "SAGA_NAME",
    "SUBSCRIPTION",
    "WITHDRAWAL_ALERT",
    "AccuracySummary",
    "ChannelCheck",
    "ChannelState",
    "ChannelView",
    "FieldDrift",
    "PromotionAccuracy",
    "PromotionChannels",
    "PromotionView",
    "PublicationResult",
    "PublishingSettings",
    "ValidationSettings",
    "VersionState",
    "VersionView",
    "promotion_accuracy_summary",
    "promotion_status",
    "recheck_promotion",
    "subscribe_promotion_publishing",
]
