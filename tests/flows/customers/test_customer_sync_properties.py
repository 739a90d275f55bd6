"""Properties of the customer sync core: idempotent, order-independent across systems, echoes
inert, conflicts never settled silently, every golden field traced to its source."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from retailhub.canonical.customer import Address
from retailhub.flows.customers.audit import AuditKind, audit_merge
from retailhub.flows.customers.echo import (
    InMemoryFingerprintStore,
    record_propagation,
    suppress_echo,
)
from retailhub.flows.customers.fields import (
    FieldValue,
    is_empty,
    profile_fields,
    same_value,
)
from retailhub.flows.customers.golden import GoldenRecord, ProfileChange
from retailhub.flows.customers.rules import Strategy, SurvivorshipRules
from retailhub.flows.customers.survivorship import MergeOutcome, merge

from .profiles import changes, relabel, report

RULES = SurvivorshipRules()
GOLDEN_ID = "GC-TEST"
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fold(history: list[ProfileChange]) -> tuple[GoldenRecord | None, list[MergeOutcome]]:
    """Merge changes in order into one golden customer."""
    golden: GoldenRecord | None = None
    outcomes = []
    for item in history:
        outcome = merge(golden, item, RULES, customer_id=GOLDEN_ID)
        outcomes.append(outcome)
        golden = outcome.golden
    return golden, outcomes


def survivorship_state(golden: GoldenRecord) -> tuple[object, ...]:
    """What must not depend on arrival order: claims, the customer, lineage, conflicts."""
    return (golden.claims, golden.customer, golden.lineage, golden.conflicts)


@SETTINGS
@given(changes(4, increasing=False), st.data())
def test_merging_the_same_change_twice_changes_nothing(
    history: list[ProfileChange], data: st.DataObject
) -> None:
    golden, _ = fold(history[:-1])
    again = history[data.draw(st.integers(0, len(history) - 1))]
    first = merge(golden, history[-1], RULES, customer_id=GOLDEN_ID)
    once = merge(first.golden, again, RULES, customer_id=GOLDEN_ID)
    twice = merge(once.golden, again, RULES, customer_id=GOLDEN_ID)
    assert twice.golden == once.golden
    assert (twice.changes, twice.propagations, twice.conflicts, twice.resolved) == ((), (), (), ())


@SETTINGS
@given(changes(5, increasing=False), st.data())
def test_changes_from_different_systems_converge_in_any_order(
    history: list[ProfileChange], data: st.DataObject
) -> None:
    golden, _ = fold(history[:-2])
    first, second = history[-2], history[-1]
    if first.system == second.system:
        others = sorted(s for s in RULES.systems if s != first.system)
        second = relabel(second, data.draw(st.sampled_from(others)))
    first_then = merge(golden, first, RULES, customer_id=GOLDEN_ID)
    second_then = merge(golden, second, RULES, customer_id=GOLDEN_ID)
    # A report that follows a send to its system may be the person re-entering the old value
    # or a report made before the send arrived; only the order of arrival can tell them apart.
    assume(second.system not in {p.system for p in first_then.propagations})
    assume(first.system not in {p.system for p in second_then.propagations})
    one = merge(first_then.golden, second, RULES)
    other = merge(second_then.golden, first, RULES)
    assert survivorship_state(one.golden) == survivorship_state(other.golden)


@SETTINGS
@given(changes(6), st.data())
def test_an_echo_never_produces_a_change_or_a_propagation(
    history: list[ProfileChange], data: st.DataObject
) -> None:
    store = InMemoryFingerprintStore()
    state: dict[str, dict[str, FieldValue]] = {}
    golden: GoldenRecord | None = None
    for item in history:
        state[item.system] = item.values(RULES)
        outcome = merge(golden, item, RULES, customer_id=GOLDEN_ID)
        golden = outcome.golden
        for propagation in outcome.propagations:
            record_propagation(store, propagation)
            state[propagation.system].update(propagation.fields)
            exact = report(propagation.system, propagation.fields, item.at, "echo-exact")
            assert suppress_echo(store, exact, GOLDEN_ID, RULES) is None
    assert golden is not None
    system = data.draw(st.sampled_from(sorted(state)))
    snapshot = report(system, state[system], history[-1].at, "echo-snapshot")
    remainder = suppress_echo(store, snapshot, GOLDEN_ID, RULES)
    if remainder is not None:
        outcome = merge(golden, remainder, RULES)
        assert outcome.propagations == ()
        assert outcome.changes == ()


@SETTINGS
@given(changes(6, increasing=False))
def test_conflicts_are_never_resolved_silently(history: list[ProfileChange]) -> None:
    golden: GoldenRecord | None = None
    for item in history:
        outcome = merge(golden, item, RULES, customer_id=GOLDEN_ID)
        before = golden.conflicts if golden else ()
        after = outcome.golden.conflicts
        assert outcome.conflicts == tuple(c for c in after if c not in before)
        assert outcome.resolved == tuple(c for c in before if c not in after)
        closed = [r for r in audit_merge(outcome) if r.kind is AuditKind.CONFLICT_CLOSED]
        assert [r.field for r in closed] == [c.field for c in outcome.resolved]
        values = profile_fields(outcome.golden.customer)
        for conflict in outcome.golden.conflicts:
            assert same_value(values[conflict.field], conflict.standing.value)
            assert not same_value(values[conflict.field], conflict.challenger.value)
            for propagation in outcome.propagations:
                assert conflict.field not in propagation.fields
        golden = outcome.golden


@SETTINGS
@given(changes(5, increasing=False))
def test_lineage_names_the_source_of_every_golden_field(history: list[ProfileChange]) -> None:
    golden, _ = fold(history)
    assert golden is not None
    values = profile_fields(golden.customer)
    for name, value in values.items():
        if is_empty(value):
            assert name not in golden.lineage
            continue
        lineage = golden.lineage[name]
        claims = golden.claims[name]
        if RULES.fields[name].strategy is Strategy.UNION:
            assert isinstance(value, tuple)
            assert len(lineage.sources) == len(value)
            items: tuple[str | Address, ...] = value
            for item, source in zip(items, lineage.sources, strict=True):
                claim = claims[source.system]
                assert claim.source == source
                assert isinstance(claim.value, tuple)
                assert any(same_value(item, held) for held in claim.value)
        else:
            (source,) = lineage.sources
            assert claims[source.system].source == source
            assert same_value(claims[source.system].value, value)
