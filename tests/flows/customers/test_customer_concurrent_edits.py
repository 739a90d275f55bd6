"""Names and phones edited in several systems at once settle, by example: the edit sequences the
convergence properties found not settling (a second-stamped edit made just after a CRM edit in
the same second; reports repeating either side of an open conflict), replayed through `merge`
with the moments and log positions the sandbox gave them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from retailhub.flows.customers.golden import GoldenRecord, ProfileChange
from retailhub.flows.customers.survivorship import MergeOutcome, merge

from .profiles import change

ID = "GC-BAS"
ONBOARDED = datetime(2019, 12, 24, 23, 0, tzinfo=UTC)
CRM_EDIT = datetime(2026, 11, 28, 0, 25, 43, 200000, tzinfo=UTC)
"""HubSpot stamps a change to the millisecond."""
SAME_SECOND = datetime(2026, 11, 28, 0, 25, 43, tzinfo=UTC)
"""Open Loyalty and Shopify stamp a change to the second: an edit made after the CRM's, in the
same second, carries an earlier moment."""
ONE_BRAM = {"given_name": "Bram", "family_name": "Visser"}
BAS = {**ONE_BRAM, "given_name": "Bas"}
ANOUK = {**ONE_BRAM, "given_name": "Anouk"}


def report(system: str, at: datetime, sequence: int, event_id: str, **values: str) -> ProfileChange:
    """A system's report of a profile, made at `at`, arriving `sequence`-th in the hub's log."""
    return replace(change(system, 0, event_id, **values), at=at, sequence=sequence)


def onboarded() -> GoldenRecord:
    """The three systems report the same Bram at onboarding."""
    golden: GoldenRecord | None = None
    for sequence, system in enumerate(("hubspot", "shopify", "openloyalty"), start=1):
        item = report(system, ONBOARDED, sequence, f"{system}-onboard", **ONE_BRAM)
        golden = merge(golden, item, customer_id=ID).golden
    assert golden is not None
    return golden


def quiet(outcome: MergeOutcome) -> bool:
    """Whether a merge changed nothing anyone would see: no field, send or conflict."""
    return not (outcome.changes or outcome.propagations or outcome.conflicts or outcome.resolved)


def test_a_loyalty_edit_in_the_second_of_a_crm_edit_is_a_conflict_and_then_settles() -> None:
    renamed = merge(onboarded(), report("hubspot", CRM_EDIT, 6, "crm-bas", **BAS))
    sent = {p.system: dict(p.fields) for p in renamed.propagations}
    assert sent == {"openloyalty": {"given_name": "Bas"}, "shopify": {"given_name": "Bas"}}

    # The member types Anouk in Open Loyalty after the hub's write of Bas, in the same second.
    retyped = report("openloyalty", SAME_SECOND, 12, "ol-anouk", **ANOUK)
    outcome = merge(renamed.golden, retyped)
    assert outcome.golden.customer.given_name == "Bas"
    (conflict,) = outcome.conflicts
    assert (conflict.field, conflict.standing.value, conflict.challenger.value) == (
        "given_name",
        "Bas",
        "Anouk",
    )
    assert outcome.propagations == ()

    # Open Loyalty's later webhooks, and the CRM's full profile after a family name edit,
    # repeat both sides: the conflict stays open as it is, nothing else changes.
    golden = outcome.golden
    for repeat in (
        report("openloyalty", SAME_SECOND, 17, "ol-again", **ANOUK),
        report("hubspot", CRM_EDIT, 15, "crm-again", **BAS),
    ):
        again = merge(golden, repeat)
        assert quiet(again), repeat.event_id
        assert again.golden.conflicts == (conflict,)
        golden = again.golden


def test_reports_repeating_either_side_of_an_open_conflict_neither_close_nor_reopen_it() -> None:
    phone = {"phones": ["+31610000040"]}
    golden = merge(None, report("hubspot", ONBOARDED, 1, "crm-onboard"), customer_id=ID).golden
    shop = merge(golden, report("shopify", SAME_SECOND, 5, "shop-phone", **phone)).golden
    loyalty_phone = {"phones": ["+31610000041"]}
    member = report("openloyalty", CRM_EDIT.replace(second=50), 9, "ol-phone", **loyalty_phone)
    opened = merge(shop, member)
    (conflict,) = opened.conflicts
    assert (conflict.standing.source.system, conflict.challenger.source.event_id) == (
        "shopify",
        "ol-phone",
    )

    golden = opened.golden
    for sequence, (system, values) in enumerate(
        (("hubspot", {}), ("shopify", phone), ("openloyalty", loyalty_phone)) * 2, start=20
    ):
        at = CRM_EDIT.replace(minute=40, second=sequence)
        again = merge(golden, report(system, at, sequence, f"{system}-{sequence}", **values))
        assert quiet(again), (system, sequence)
        assert again.golden.conflicts == (conflict,)
        golden = again.golden


def test_two_crm_edits_in_one_second_keep_their_order_when_their_webhooks_arrive_reversed() -> None:
    first = datetime(2026, 11, 28, 0, 25, 43, 100000, tzinfo=UTC)
    second = datetime(2026, 11, 28, 0, 25, 43, 900000, tzinfo=UTC)
    renamed = merge(onboarded(), report("hubspot", second, 10, "crm-bas", **BAS))
    assert renamed.golden.customer.given_name == "Bas"

    late = merge(
        renamed.golden, report("hubspot", first, 11, "crm-ben", **{**BAS, "given_name": "Ben"})
    )

    assert late.golden.customer.given_name == "Bas"
    assert quiet(late), "an older edit of the same system arriving late changes nothing"
