"""Which ERP instance a document goes to: routing rules on canonical fields, pure.

A rule is `when = { key = [values] }, use = "system"`. Keys are ANDed, the values of one key
are ORed; the first rule whose every key matches wins, and a document no rule matches goes to
the default ERP. Exactly one ERP is chosen for every document.

What each key reads, per document type:

| key             | sale_order (Order)          | credit_note (Return)                        | stock_adjustment |
|-----------------|-----------------------------|---------------------------------------------|------------------|
| `document_type` | `sale_order`                | `credit_note`                               | `stock_adjustment` |
| `location`      | `Order.location`            | `received_location`, else `initiated_location` | the location adjusted |
| `channel`       | `Order.channel`             | `received_channel`, else `initiated_channel` | (none)           |
| `region`        | the region of the location  | the region of the location                  | the region of the location |
| `brand`         | the banner of the location  | the banner of the location                  | the banner of the location |

`location` values are glob patterns (`BE*`, `BRU0?`; case-sensitive), the others are exact.
`region` and `brand` come from tables in the routing configuration, each a name -> location
patterns (`BE = ["BRU*", "ANT*"]`); the first entry whose patterns match gives the name.
`brand` is the store's banner (fascia), not the brand of the products sold: an acquired chain
keeps its own banner and books in its own ERP, while routing by product brand would split one
receipt over two ERPs. A field the document does not have (a web order without a location, a
stock adjustment's channel) matches no rule on that key. A credit note follows the location
where the goods and the money came back, as the ERP of that store's legal entity refunds it.

Rules are checked when they are loaded: an unknown key, a value that cannot occur (a document
type or channel that does not exist, a region or brand the tables do not name), an empty value
list or a rule naming a system the plan does not know is refused with the rule's index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase

from retailhub.canonical.base import Channel
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return
from retailhub.estate import Routing


class DocumentType(StrEnum):
    """The kinds of document the hub writes to an ERP."""

    SALE_ORDER = "sale_order"
    CREDIT_NOTE = "credit_note"
    STOCK_ADJUSTMENT = "stock_adjustment"


class RuleKey(StrEnum):
    """The canonical fields a routing rule may test."""

    DOCUMENT_TYPE = "document_type"
    LOCATION = "location"
    CHANNEL = "channel"
    REGION = "region"
    BRAND = "brand"


class RoutingConfigError(ValueError):
    """Routing rules that cannot be applied; the message names the rule and the key at fault,
    and `path` is where in `[routing.erp]` (`rules[0].when.store`), for the estate's report."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class RoutingFacts:
    """What routing reads from one document."""

    document_type: DocumentType
    location: str | None = None
    channel: Channel | None = None


def facts_of_order(order: Order) -> RoutingFacts:
    """A sale order routes by where and through which channel the sale happened."""
    return RoutingFacts(DocumentType.SALE_ORDER, order.location, order.channel)


def facts_of_return(document: Return) -> RoutingFacts:
    """A credit note routes by where the goods came back, else where the return was started."""
    return RoutingFacts(
        DocumentType.CREDIT_NOTE,
        document.received_location or document.initiated_location,
        document.received_channel or document.initiated_channel,
    )


def facts_of_stock_adjustment(location: str) -> RoutingFacts:
    """A stock adjustment routes by the location whose stock moves."""
    return RoutingFacts(DocumentType.STOCK_ADJUSTMENT, location)


@dataclass(frozen=True)
class RouteRule:
    """One checked rule: for each key the values it accepts, and the ERP it sends to."""

    when: Mapping[RuleKey, tuple[str, ...]]
    use: str


@dataclass(frozen=True)
class LocationTable:
    """Names (regions or banners) by location patterns; the first matching entry names it."""

    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, table: Mapping[str, Sequence[str]]) -> LocationTable:
        """A table from `{name: [location patterns]}`, in the order given."""
        return cls(tuple((name, tuple(patterns)) for name, patterns in table.items()))

    def name_of(self, location: str | None) -> str | None:
        """The name of the first entry with a pattern matching `location`, if any."""
        if location is None:
            return None
        for name, patterns in self.entries:
            if any(fnmatchcase(location, pattern) for pattern in patterns):
                return name
        return None

    @property
    def names(self) -> frozenset[str]:
        """Every name the table gives."""
        return frozenset(name for name, _ in self.entries)


@dataclass(frozen=True)
class RoutingPlan:
    """The checked routing of one role: default ERP, ordered rules, shadow, location tables."""

    default: str
    rules: tuple[RouteRule, ...] = ()
    shadow: str | None = None
    regions: LocationTable = field(default_factory=LocationTable)
    brands: LocationTable = field(default_factory=LocationTable)

    def choose(self, facts: RoutingFacts) -> str:
        """The ERP a document goes to: the first matching rule's, else the default."""
        for rule in self.rules:
            if all(self._matches(facts, key, accepted) for key, accepted in rule.when.items()):
                return rule.use
        return self.default

    def _matches(self, facts: RoutingFacts, key: RuleKey, accepted: tuple[str, ...]) -> bool:
        """True when the document's value for `key` is one the rule accepts."""
        value: str | None
        match key:
            case RuleKey.LOCATION:
                location = facts.location
                return location is not None and any(fnmatchcase(location, p) for p in accepted)
            case RuleKey.DOCUMENT_TYPE:
                value = facts.document_type.value
            case RuleKey.CHANNEL:
                value = None if facts.channel is None else facts.channel.value
            case RuleKey.REGION:
                value = self.regions.name_of(facts.location)
            case RuleKey.BRAND:
                value = self.brands.name_of(facts.location)
        return value is not None and value in accepted

    @property
    def targets(self) -> tuple[str, ...]:
        """Every ERP documents may be routed to: the default first, then in rule order."""
        systems = [self.default, *(rule.use for rule in self.rules)]
        return tuple(dict.fromkeys(systems))

    @property
    def lookup_order(self) -> tuple[str, ...]:
        """The ERPs searched for a document by its key: the routed ERPs, with the shadow (when it
        is routed to as well) last, so a shadow copy is never taken for the document itself."""
        systems = [s for s in self.targets if s != self.shadow]
        if self.shadow in self.targets:
            systems.append(self.shadow)
        return tuple(systems)


def plan_from_routing(
    routing: Routing,
    *,
    regions: Mapping[str, Sequence[str]] | None = None,
    brands: Mapping[str, Sequence[str]] | None = None,
    systems: Sequence[str] | None = None,
) -> RoutingPlan:
    """The plan of an estate's `[routing.erp]`, with the region and banner tables beside it."""
    return load_plan(
        routing.default,
        [(rule.when, rule.use) for rule in routing.rules],
        shadow=routing.shadow,
        regions=regions,
        brands=brands,
        systems=systems,
    )


def load_plan(
    default: str,
    rules: Sequence[tuple[Mapping[str, Sequence[str]], str]],
    *,
    shadow: str | None = None,
    regions: Mapping[str, Sequence[str]] | None = None,
    brands: Mapping[str, Sequence[str]] | None = None,
    systems: Sequence[str] | None = None,
) -> RoutingPlan:
    """Check raw rules (`(when, use)` pairs, as the estate file spells them) and build the plan;
    `systems`, when given, are the ERPs that exist. RoutingConfigError says what is wrong."""
    region_table = LocationTable.of(regions or {})
    brand_table = LocationTable.of(brands or {})
    known_systems = None if systems is None else frozenset(systems)
    if known_systems is not None:
        for where, system in [("default", default), ("shadow", shadow)]:
            if system is not None and system not in known_systems:
                raise RoutingConfigError(f"routing {where}: no ERP named {system!r}", where)
    checked: list[RouteRule] = []
    for index, (when, use) in enumerate(rules):
        at = f"routing rule {index}"
        if known_systems is not None and use not in known_systems:
            raise RoutingConfigError(f"{at}: no ERP named {use!r}", f"rules[{index}].use")
        if not when:
            raise RoutingConfigError(f"{at}: `when` tests no field", f"rules[{index}].when")
        tests: dict[RuleKey, tuple[str, ...]] = {}
        for name, values in when.items():
            path = f"rules[{index}].when.{name}"
            key = _rule_key(at, path, name)
            if isinstance(values, str) or not values:
                raise RoutingConfigError(
                    f"{at}: key {name!r} needs a non-empty list of values", path
                )
            _check_values(at, path, key, values, region_table, brand_table)
            tests[key] = tuple(values)
        checked.append(RouteRule(tests, use))
    return RoutingPlan(default, tuple(checked), shadow, region_table, brand_table)


def _rule_key(at: str, path: str, name: str) -> RuleKey:
    try:
        return RuleKey(name)
    except ValueError:
        known = ", ".join(key.value for key in RuleKey)
        raise RoutingConfigError(
            f"{at}: unknown key {name!r}; a rule may test {known}", path
        ) from None


def _check_values(
    at: str,
    path: str,
    key: RuleKey,
    values: Sequence[str],
    regions: LocationTable,
    brands: LocationTable,
) -> None:
    """Refuse values no document can have, so a typo does not silently route nothing."""
    allowed: frozenset[str] | None = None
    match key:
        case RuleKey.DOCUMENT_TYPE:
            allowed = frozenset(t.value for t in DocumentType)
        case RuleKey.CHANNEL:
            allowed = frozenset(c.value for c in Channel)
        case RuleKey.REGION:
            allowed = regions.names
        case RuleKey.BRAND:
            allowed = brands.names
        case RuleKey.LOCATION:
            allowed = None
    for value in values:
        if not isinstance(value, str) or not value:
            raise RoutingConfigError(
                f"{at}: key {key.value!r} has a value that is not a name", path
            )
        if allowed is not None and value not in allowed:
            choices = ", ".join(sorted(allowed)) or "nothing (no table given)"
            raise RoutingConfigError(
                f"{at}: {key.value} {value!r} is unknown; it may be {choices}", path
            )
