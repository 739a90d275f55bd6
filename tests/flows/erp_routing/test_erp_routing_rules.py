"""Routing rules, pure: exactly one ERP per document, the first matching rule wins, the default
otherwise, and rules that cannot apply are refused when loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.returns import Return, ReturnLine
from retailhub.estate import Role, parse_estate
from retailhub.flows.erp_routing.rules import (
    DocumentType,
    RoutingConfigError,
    RoutingFacts,
    RoutingPlan,
    facts_of_return,
    facts_of_stock_adjustment,
    load_plan,
    plan_from_routing,
)

ERPS = ("odoo_nl", "odoo_be", "sap_cloud")
LOCATIONS = ("AMS01", "RTM02", "WEB", "BRU01", "BE-ANT02", "LUX01")
REGIONS = {"BE": ["BRU*", "BE-*"], "NL": ["AMS*", "RTM*", "WEB"]}
BRANDS = {"Maison": ["BRU01", "LUX*"], "Dam": ["AMS*", "RTM*", "WEB", "BE-*"]}

facts = st.builds(
    RoutingFacts,
    st.sampled_from(DocumentType),
    st.none() | st.sampled_from(LOCATIONS),
    st.none() | st.sampled_from(Channel),
)
conditions = st.dictionaries(
    st.sampled_from(["document_type", "location", "channel", "region", "brand"]),
    st.integers(0, 1000),
    min_size=1,
    max_size=3,
).map(lambda picks: {key: _values(key, seed) for key, seed in picks.items()})
raw_rules = st.lists(st.tuples(conditions, st.sampled_from(ERPS)), max_size=5)


def _values(key: str, seed: int) -> list[str]:
    """One or two values a rule on `key` may list, picked by `seed`."""
    choices: list[str] = {
        "document_type": [t.value for t in DocumentType],
        "location": ["BRU*", "AMS01", "BE-*", "WEB", "LUX0?", "*"],
        "channel": [c.value for c in Channel],
        "region": list(REGIONS),
        "brand": list(BRANDS),
    }[key]
    first = choices[seed % len(choices)]
    second = choices[(seed // len(choices)) % len(choices)]
    return sorted({first, second})


def plan_of(rules: list[tuple[dict[str, list[str]], str]], default: str = "odoo_nl") -> RoutingPlan:
    return load_plan(default, rules, regions=REGIONS, brands=BRANDS, systems=ERPS)


@given(raw_rules, facts)
def test_exactly_one_erp_is_chosen_for_any_document(
    rules: list[tuple[dict[str, list[str]], str]], document: RoutingFacts
) -> None:
    plan = plan_of(rules)
    chosen = plan.choose(document)
    assert chosen in plan.targets
    assert plan.choose(document) == chosen


@given(raw_rules, facts, st.sampled_from(ERPS))
def test_a_rule_matching_the_document_put_first_wins(
    rules: list[tuple[dict[str, list[str]], str]], document: RoutingFacts, use: str
) -> None:
    matching: dict[str, list[str]] = {"document_type": [document.document_type.value]}
    if document.location is not None:
        matching["location"] = [document.location]
    assert plan_of([(matching, use), *rules]).choose(document) == use


def matches(when: dict[str, list[str]], document: RoutingFacts) -> bool:
    """Whether one rule on its own matches the document."""
    return load_plan("x", [(when, "y")], regions=REGIONS, brands=BRANDS).choose(document) == "y"


@given(raw_rules, facts)
def test_the_first_matching_rule_wins_else_the_default(
    rules: list[tuple[dict[str, list[str]], str]], document: RoutingFacts
) -> None:
    matched = [use for when, use in rules if matches(when, document)]
    expected = matched[0] if matched else "sap_cloud"
    assert plan_of(rules, default="sap_cloud").choose(document) == expected


@given(raw_rules, facts, conditions, st.sampled_from(ERPS))
def test_a_rule_added_after_a_match_changes_nothing(
    rules: list[tuple[dict[str, list[str]], str]],
    document: RoutingFacts,
    when: dict[str, list[str]],
    use: str,
) -> None:
    before = plan_of(rules).choose(document)
    after = plan_of([*rules, (when, use)]).choose(document)
    if any(matches(earlier, document) for earlier, _ in rules):
        assert after == before
    else:
        assert after == (use if matches(when, document) else "odoo_nl")


def test_keys_are_anded_and_values_ored() -> None:
    plan = plan_of(
        [({"region": ["BE"], "document_type": ["sale_order", "credit_note"]}, "odoo_be")]
    )
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, "BRU01")) == "odoo_be"
    assert plan.choose(RoutingFacts(DocumentType.CREDIT_NOTE, "BE-ANT02")) == "odoo_be"
    assert plan.choose(RoutingFacts(DocumentType.STOCK_ADJUSTMENT, "BRU01")) == "odoo_nl"
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, "AMS01")) == "odoo_nl"


def test_location_globs_regions_banners_and_missing_fields() -> None:
    plan = plan_of(
        [
            ({"location": ["BE-*", "BRU0?"]}, "odoo_be"),
            ({"brand": ["Maison"]}, "sap_cloud"),
            ({"channel": ["web"]}, "sap_cloud"),
        ]
    )
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, "BRU01")) == "odoo_be"
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, "BRU010")) == "odoo_nl"
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, "LUX01")) == "sap_cloud"
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, None, Channel.WEB)) == "sap_cloud"
    assert plan.choose(RoutingFacts(DocumentType.STOCK_ADJUSTMENT, "WEB")) == "odoo_nl"
    assert plan.regions.name_of("RTM02") == "NL"
    assert plan.brands.name_of("XYZ") is None


def test_a_credit_note_routes_where_the_goods_came_back() -> None:
    refund = Money(amount=Decimal("5.00"), currency="EUR")
    document = Return(
        return_id="R-1",
        initiated_channel=Channel.WEB,
        initiated_location="WEB",
        received_channel=Channel.STORE,
        received_location="BRU01",
        currency="EUR",
        lines=[ReturnLine(line_id="1", sku="SKU-1", quantity=Decimal(1), refund_amount=refund)],
        refund_total=refund,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert facts_of_return(document) == RoutingFacts(
        DocumentType.CREDIT_NOTE, "BRU01", Channel.STORE
    )
    online = document.model_copy(update={"received_channel": None, "received_location": None})
    assert facts_of_return(online).location == "WEB"
    assert facts_of_stock_adjustment("AMS01").channel is None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"store": ["BRU01"]}, "routing rule 0: unknown key 'store'; a rule may test"),
        ({"region": ["FR"]}, "routing rule 0: region 'FR' is unknown; it may be BE, NL"),
        ({"document_type": ["invoice"]}, "document_type 'invoice' is unknown"),
        ({"channel": ["phone"]}, "channel 'phone' is unknown"),
        ({"location": []}, "key 'location' needs a non-empty list of values"),
        ({}, "routing rule 0: `when` tests no field"),
    ],
)
def test_rules_that_cannot_apply_are_refused_when_loaded(
    rule: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(RoutingConfigError, match=message.replace("(", r"\(")) as caught:
        plan_of([(rule, "odoo_be")])
    assert caught.value.path == (f"rules[0].when.{next(iter(rule))}" if rule else "rules[0].when")


def test_unknown_erps_and_empty_tables_are_refused() -> None:
    with pytest.raises(RoutingConfigError, match="routing rule 0: no ERP named 'odoo_fr'") as no:
        plan_of([({"location": ["X"]}, "odoo_fr")])
    assert no.value.path == "rules[0].use"
    with pytest.raises(RoutingConfigError, match="routing shadow: no ERP named 'nope'"):
        load_plan("odoo_nl", [], shadow="nope", systems=ERPS)
    with pytest.raises(RoutingConfigError, match=r"it may be nothing \(no table given\)"):
        load_plan("odoo_nl", [({"brand": ["Dam"]}, "odoo_be")])


def test_the_estate_routing_becomes_a_plan() -> None:
    estate = parse_estate(
        'name = "two"\n'
        '[systems.odoo_nl]\nproduct = "odoo"\nbase_url = "http://127.0.0.1:1"\n'
        '[systems.odoo_be]\nproduct = "odoo"\nbase_url = "http://127.0.0.1:2"\n'
        '[routing.erp]\ndefault = "odoo_nl"\n'
        'rules = [{ when = { region = ["BE"] }, use = "odoo_be" }]\nshadow = "odoo_be"\n'
    )
    plan = plan_from_routing(
        estate.routing[Role.ERP], regions=REGIONS, systems=list(estate.systems_in(Role.ERP))
    )
    assert plan.choose(RoutingFacts(DocumentType.SALE_ORDER, "BRU01")) == "odoo_be"
    assert plan.targets == ("odoo_nl", "odoo_be")
    assert plan.lookup_order == ("odoo_nl", "odoo_be")
    assert plan_of([], default="odoo_be").lookup_order == ("odoo_be",)
