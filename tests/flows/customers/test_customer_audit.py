"""The audit trail's records for echoes and identity conflicts (merges: see survivorship)."""

from __future__ import annotations

from datetime import date

from retailhub.canonical.customer import Address
from retailhub.flows.customers.audit import AuditKind, audit_echo, audit_identity_conflict
from retailhub.flows.customers.fields import to_json
from retailhub.flows.customers.identity import IdentityConflict, KeyMatch, MatchKey

from .profiles import change, moment


def test_an_echo_is_recorded_with_the_fields_it_repeated() -> None:
    echo = change("shopify", 2, "shop-9", family_name="Jansen")
    record = audit_echo(echo, "GC-ANNA", ["family_name", "emails"])
    assert (record.kind, record.customer_id, record.system, record.event_id) == (
        AuditKind.ECHO_SUPPRESSED,
        "GC-ANNA",
        "shopify",
        "shop-9",
    )
    assert record.changed_at == moment(2)
    assert record.detail == "emails, family_name"


def test_an_identity_conflict_names_every_key_and_where_it_points() -> None:
    report = change("hubspot", 0, "crm-7", emails=["anna@example.nl"])
    conflict = IdentityConflict(
        "the keys point at different golden customers",
        (
            KeyMatch("GC-ANNA", MatchKey.LOYALTY_CARD, "2612000000017"),
            KeyMatch("GC-DAAN", MatchKey.EMAIL, "anna@example.nl"),
        ),
    )
    record = audit_identity_conflict(report, conflict)
    assert record.kind is AuditKind.IDENTITY_CONFLICT
    assert record.customer_id == "GC-ANNA,GC-DAAN"
    assert record.detail is not None
    assert "loyalty_card 2612000000017 -> GC-ANNA" in record.detail
    assert "email anna@example.nl -> GC-DAAN" in record.detail


def test_values_are_stored_as_json_ready_data() -> None:
    address = Address(lines=["Spui 25"], city="Den Haag", country="NL")
    assert to_json((address,))[0]["city"] == "Den Haag"
    assert to_json(date(1980, 5, 17)) == "1980-05-17"
    assert to_json(("a@example.nl",)) == ["a@example.nl"]
    assert to_json(None) is None
