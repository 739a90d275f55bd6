"""The sandbox estate: a deterministic Dutch grocery and general-merchandise retailer with a
catalogue, five stores and a web shop, stock, prices, loyalty members and a winter campaign.
Same seed, same estate: every emulator seeds its own view of it, and tests can rely on it."""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from retailhub.canonical.base import Channel, normalise_email
from retailhub.canonical.customer import ConsentChannel, Customer
from retailhub.canonical.identifiers import gtin_check_digit, normalise_gtin
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.loyalty import LoyaltyAccount
from retailhub.canonical.money import Money
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product, UnitOfMeasure
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

T = TypeVar("T")

PRODUCT_COUNT = 2400
CUSTOMER_COUNT = 10_000
CONFLICTED_CUSTOMERS = 500
"""One in twenty customers has a profile that disagrees across systems."""
CAMPAIGN_SKU_COUNT = 100
CAMPAIGN_POINTS = 50
CURRENCY = "EUR"
COMPANY_PREFIX = "8799999"
"""A made-up GS1 company prefix for packaged goods (GTIN-13: prefix + 5-digit item + check)."""
WEIGHED_PREFIX = "21"
"""GS1 restricted-circulation prefix for weighed goods; the scale fills the last five digits."""
CARD_PREFIX = "2612"
"""Loyalty cards are 13-digit restricted-circulation codes too, as Dutch grocers print them."""
VAT_LOW, VAT_STANDARD = Decimal(9), Decimal(21)
CET = timezone(timedelta(hours=1), "CET")

CONFLICT_KINDS = ("crm_other_email", "loyalty_old_phone", "shop_name_typo")
"""How a customer's profile disagrees across systems: another email in the CRM, an old phone
in loyalty, a typo in the name in the web shop."""

# department -> category -> leaf categories; Food is taxed at the low VAT rate, the rest at 21 %.
_HIERARCHY: dict[str, dict[str, str]] = {
    "Food": {
        "Fruit": "Apples, Pears, Citrus, Bananas, Berries, Grapes, Exotic fruit",
        "Vegetables": "Potatoes, Onions, Tomatoes, Lettuce, Cabbage, Carrots, Peppers, Mushrooms",
        "Meat": "Beef, Pork, Chicken, Minced meat, Sausages, Cold cuts",
        "Fish": "Salmon, White fish, Shellfish, Smoked fish, Herring",
        "Dairy": "Milk, Yoghurt, Butter, Eggs, Cream, Custard",
        "Cheese": "Gouda, Edam, Goat cheese, Soft cheese, Blue cheese, Grated cheese",
        "Bakery": "Bread, Rolls, Croissants, Cakes, Cookies, Rusks",
        "Pantry": "Pasta, Rice, Sauces, Soups, Oils, Spices, Canned vegetables, Baking",
        "Breakfast": "Cereals, Muesli, Spreads, Chocolate sprinkles, Honey, Jam",
        "Snacks": "Crisps, Nuts, Chocolate, Sweets, Liquorice, Biscuits",
        "Frozen": "Frozen vegetables, Frozen pizza, Ice cream, Frozen fish, Frozen snacks",
        "World food": "Asian, Mexican, Italian, Middle Eastern, Indonesian",
        "Soft drinks": "Cola, Lemonade, Water, Juice, Iced tea, Energy drinks",
        "Hot drinks": "Coffee beans, Ground coffee, Coffee pods, Tea, Cocoa",
    },
    "Drinks": {
        "Beer": "Pilsner, Speciality beer, Alcohol-free beer, Cider",
        "Wine": "Red wine, White wine, Rosé, Sparkling wine, Port",
        "Spirits": "Jenever, Whisky, Gin, Rum, Liqueur",
    },
    "Household": {
        "Cleaning": "All-purpose cleaner, Toilet cleaner, Dishwasher tablets, Washing-up liquid, Sponges",
        "Laundry": "Detergent, Fabric softener, Stain remover, Laundry bags",
        "Paper": "Toilet paper, Kitchen roll, Tissues, Napkins",
        "Storage": "Bin bags, Foil, Cling film, Freezer bags, Food boxes",
    },
    "Personal care": {
        "Hair": "Shampoo, Conditioner, Styling, Hair colour",
        "Body": "Shower gel, Deodorant, Body lotion, Soap",
        "Oral care": "Toothpaste, Toothbrushes, Mouthwash, Floss",
        "Shaving": "Razors, Shaving foam, Aftershave",
        "Health": "Painkillers, Vitamins, Plasters, Cold and flu",
    },
    "Home": {
        "Kitchen": "Pans, Knives, Utensils, Glasses, Mugs",
        "Living": "Candles, Vases, Cushions, Plaids, Frames",
        "Garden": "Plants, Seeds, Pots, Garden tools",
        "Electrical": "Batteries, Light bulbs, Chargers, Cables",
        "Stationery": "Notebooks, Pens, Envelopes, Gift wrap",
    },
    "Baby and kids": {
        "Nappies": "Nappies, Pull-ups, Baby wipes",
        "Baby food": "Formula, Baby jars, Baby snacks",
        "Toys": "Puzzles, Games, Building blocks, Outdoor toys",
    },
    "Pets": {
        "Dog": "Dry dog food, Wet dog food, Dog treats",
        "Cat": "Dry cat food, Wet cat food, Cat litter",
        "Small animals": "Bird seed, Rodent food, Fish food",
    },
}
_WEIGHED_CATEGORIES = {"Fruit", "Vegetables", "Meat", "Fish", "Cheese"}
_BRANDS = {
    "Food": "Hollandia, Boerenland, Noordzee, Molenaar, Zuiderhoeve, Tulpia, Polderkorn",
    "Drinks": "Brouwerij Dijk, Kasteel Oost, Wijnhuis Rijn, Stokerij Vecht",
    "Household": "Glans, Frisse Was, Huishoud+, Zacht & Sterk",
    "Personal care": "Puur Verzorgd, Frisk, Dentaal, Natura",
    "Home": "Woonwerk, Keukenaar, Tuinier, Lichtpunt",
    "Baby and kids": "Kleintje, Speelgoedhuis, Mamaatje",
    "Pets": "Trouwe Vriend, Poezenpracht, Dierenhof",
}
_HOUSE_BRAND = "retailhub"
_VARIANTS = ("classic", "organic", "light", "extra", "mild", "mature", "family-size", "premium")
_SIZES = ("100 g", "250 g", "500 g", "750 g", "1 kg", "330 ml", "500 ml", "1 l", "2 pack", "6 pack")

_GIVEN = (
    "Anna",
    "Emma",
    "Sophie",
    "Julia",
    "Lotte",
    "Sanne",
    "Eva",
    "Lisa",
    "Fleur",
    "Sara",
    "Iris",
    "Noa",
    "Zoë",
    "Daniëlle",
    "Femke",
    "Maud",
    "Anouk",
    "Esther",
    "Marieke",
    "Ingrid",
    "Daan",
    "Sem",
    "Lucas",
    "Levi",
    "Finn",
    "Milan",
    "Thomas",
    "Bram",
    "Ruben",
    "Jesse",
    "Lars",
    "Joël",
    "Pieter",
    "Jan",
    "Kees",
    "Wouter",
    "Bas",
    "Sven",
    "Hugo",
    "Thijs",
)
_FAMILY = (
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van den Heuvel",
    "van der Veen",
    "van den Broek",
    "de Bruijn",
    "de Bruin",
    "van der Heijden",
    "Schouten",
    "van Beek",
    "Willems",
    "van Vliet",
    "Hoekstra",
    "Maas",
    "Verhoeven",
    "Koster",
    "Prins",
    "Blom",
    "Huisman",
    "Peeters",
    "de Lange",
    "Kuipers",
    "van Wijk",
    "Postma",
    "Kuiper",
    "Veenstra",
    "Kramer",
    "van den Brink",
    "Scholten",
)
_STREETS = (
    "Kerkstraat",
    "Schoolstraat",
    "Molenweg",
    "Dorpsstraat",
    "Stationsweg",
    "Julianastraat",
    "Beatrixlaan",
    "Lindenlaan",
    "Prinsengracht",
    "Nieuwstraat",
    "Hoofdstraat",
    "Wilhelminastraat",
    "Eikenlaan",
    "Parallelweg",
)
_TIERS = (("bronze", 70), ("silver", 22), ("gold", 8))


class _Dice(random.Random):
    """random.Random with float-based integer draws: several times faster than the stdlib's
    bias-free ones, which counts over the estate's 300,000 draws, and just as repeatable."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        return seq[int(self.random() * len(seq))]


@dataclass(frozen=True)
class Store:
    """A selling location: the five stores and the web shop's fulfilment location `WEB`."""

    code: str
    name: str
    channel: Channel
    city: str
    street: str
    postal_code: str
    country: str = "NL"
    currency: str = CURRENCY
    timezone: str = "Europe/Amsterdam"


STORES = (
    Store("AMS01", "Amsterdam Centrum", Channel.STORE, "Amsterdam", "Damrak 70", "1012 LM"),
    Store("RTM02", "Rotterdam Lijnbaan", Channel.STORE, "Rotterdam", "Lijnbaan 112", "3012 ER"),
    Store(
        "UTR03",
        "Utrecht Hoog Catharijne",
        Channel.STORE,
        "Utrecht",
        "Godebaldkwartier 40",
        "3511 DX",
    ),
    Store("DHG04", "Den Haag Spui", Channel.STORE, "Den Haag", "Spui 25", "2511 BL"),
    Store("EIN05", "Eindhoven Centrum", Channel.STORE, "Eindhoven", "Demer 18", "5611 AS"),
    Store("WEB", "Web shop", Channel.WEB, "Tilburg", "Distributieweg 1", "5048 AK"),
)


@dataclass(frozen=True)
class EstateCustomer:
    """One person as each system holds them. `golden` is the truth the hub should converge on;
    the views are what the CRM (HubSpot), loyalty (Open Loyalty) and web shop (Shopify) hold,
    each with only its own system's id, and differing from the truth where `conflicts` says.

    The documents are validated on first use rather than up front: validating 10,000 rich
    customer records costs over a second, and most users of the estate read only a few."""

    profile: Mapping[str, Any] = field(hash=False)
    """The golden record's fields as plain data, validated into `golden` on first use."""
    points_balance: int
    conflicts: tuple[str, ...] = ()
    differences: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    """Per view (`crm`, `loyalty`, `shop`), the fields whose values differ from the truth."""

    @property
    def card_number(self) -> str:
        """The loyalty card the member scans at the till."""
        return str(self.profile["loyalty_cards"][0])

    @cached_property
    def account(self) -> LoyaltyAccount:
        """The member's loyalty account: tier, card and spendable points."""
        golden = self.golden
        member_id = golden.identities["openloyalty"]
        return LoyaltyAccount(
            member_id=member_id,
            customer_id=golden.customer_id,
            card_numbers=golden.loyalty_cards,
            tier=golden.loyalty.tier if golden.loyalty else None,
            points_balance=self.points_balance,
            updated_at=golden.updated_at,
            external_ids={"openloyalty": member_id},
        )

    @property
    def emails(self) -> list[str]:
        """Every address any system knows this person by."""
        views = [self.profile, *self.differences.values()]
        return [email for view in views for email in view.get("emails", [])]

    @cached_property
    def golden(self) -> Customer:
        """The customer as the hub should come to know them, with their id in every system."""
        return Customer.model_validate(self.profile)

    @cached_property
    def crm_view(self) -> Customer:
        """The HubSpot contact."""
        return self._view("crm", "hubspot", loyalty_cards=[], loyalty=None)

    @cached_property
    def loyalty_view(self) -> Customer:
        """The Open Loyalty member's profile."""
        return self._view("loyalty", "openloyalty")

    @cached_property
    def shop_view(self) -> Customer:
        """The Shopify customer."""
        return self._view("shop", "shopify", loyalty_cards=[], loyalty=None)

    def _view(self, view: str, system: str, **narrowing: Any) -> Customer:
        """The golden record narrowed to what `system` holds (still valid, so not revalidated),
        with the view's differing values validated afresh."""
        golden = self.golden
        narrowed = golden.model_copy(
            update={
                **narrowing,
                "emails": golden.emails[:1],
                "identities": {system: golden.identities[system]},
            }
        )
        if view not in self.differences:
            return narrowed
        return Customer.model_validate({**narrowed.model_dump(), **self.differences[view]})


@dataclass(frozen=True)
class Estate:
    """Everything the emulators seed from, as validated canonical documents."""

    seed: int
    year: int
    stores: tuple[Store, ...]
    categories: tuple[tuple[str, str, str], ...]
    products: tuple[Product, ...]
    prices: tuple[Price, ...]
    inventory: tuple[InventoryLevel, ...]
    customers: tuple[EstateCustomer, ...]
    campaign: Promotion

    @cached_property
    def _products_by_sku(self) -> dict[str, Product]:
        return {p.sku: p for p in self.products}

    @cached_property
    def _products_by_gtin(self) -> dict[str, Product]:
        return {g: p for p in self.products for g in p.gtins}

    @cached_property
    def _prices(self) -> dict[tuple[str, Channel], Price]:
        return {(price.sku, price.channel): price for price in self.prices}

    @cached_property
    def _stock(self) -> dict[tuple[str, str], InventoryLevel]:
        return {(level.sku, level.location): level for level in self.inventory}

    @cached_property
    def _customers_by_card(self) -> dict[str, EstateCustomer]:
        return {c.card_number: c for c in self.customers}

    @cached_property
    def _customers_by_email(self) -> dict[str, EstateCustomer]:
        found: dict[str, EstateCustomer] = {}
        for customer in self.customers:
            for email in customer.emails:
                found.setdefault(email, customer)
        return found

    def store(self, code: str) -> Store:
        """The store or web location with `code`."""
        return {store.code: store for store in self.stores}[code]

    def product(self, sku: str) -> Product:
        """The product with `sku`; KeyError when the estate has none."""
        return self._products_by_sku[sku]

    def product_by_gtin(self, gtin: str) -> Product:
        """The product a scanned barcode (GTIN-8/12/13/14) belongs to."""
        return self._products_by_gtin[normalise_gtin(gtin)]

    def price(self, sku: str, channel: Channel) -> Price:
        """The national price of `sku` in `channel`."""
        return self._prices[(sku, channel)]

    def stock(self, sku: str, location: str) -> InventoryLevel:
        """Stock of `sku` at `location`."""
        return self._stock[(sku, location)]

    def customer_by_card(self, card_number: str) -> EstateCustomer:
        """The member a loyalty card belongs to."""
        return self._customers_by_card[card_number]

    def customer_by_email(self, email: str) -> EstateCustomer:
        """The person any system knows by `email` (also the CRM's other addresses)."""
        return self._customers_by_email[normalise_email(email)]

    def vat_rate(self, sku: str) -> Decimal:
        """The Dutch VAT rate in percent the product is sold at."""
        return Decimal(self.product(sku).attributes["vat_rate"])


def build_estate(seed: int = 42, year: int | None = None) -> Estate:
    """Build the estate for `seed`; `year` (default: this year) places the winter campaign."""
    year = year if year is not None else datetime.now(UTC).year
    rng = _Dice(seed)
    start = datetime(year, 1, 1, tzinfo=CET)
    categories = tuple(
        (department, category, leaf)
        for department, children in _HIERARCHY.items()
        for category, leaves in children.items()
        for leaf in leaves.split(", ")
    )
    products = tuple(
        _product(i, categories[i % len(categories)], rng) for i in range(PRODUCT_COUNT)
    )
    return Estate(
        seed=seed,
        year=year,
        stores=STORES,
        categories=categories,
        products=products,
        prices=tuple(price for p in products for price in _prices(p, start, rng)),
        inventory=_inventory(products, start, rng),
        customers=_customers(start, rng),
        campaign=_winter_campaign(products, year, rng),
    )


def _gtin13(body: str) -> str:
    return f"{body}{gtin_check_digit(body)}"


def _product(index: int, path: tuple[str, str, str], rng: _Dice) -> Product:
    department, category, leaf = path
    weighed = category in _WEIGHED_CATEGORIES and rng.random() < 0.4
    brand = rng.choice([_HOUSE_BRAND, *_BRANDS[department].split(", ")])
    variant = rng.choice(_VARIANTS)
    if weighed:
        gtin = _gtin13(f"{WEIGHED_PREFIX}{index:05d}00000")
        title = f"{brand} {leaf} {variant} per kg"
    else:
        gtin = _gtin13(f"{COMPANY_PREFIX}{index:05d}")
        title = f"{brand} {leaf} {variant} {rng.choice(_SIZES)}"
    return Product(
        sku=f"SKU-{10000 + index}",
        gtins=[gtin],
        title=title,
        hierarchy=list(path),
        brand=brand,
        unit_of_measure=UnitOfMeasure.KG if weighed else UnitOfMeasure.EACH,
        attributes={"vat_rate": str(VAT_LOW if department == "Food" else VAT_STANDARD)},
    )


def _prices(product: Product, start: datetime, rng: _Dice) -> list[Price]:
    food = product.hierarchy[0] == "Food"
    euros = rng.randint(0, 9) if food else rng.randint(1, 49)
    list_price = Money.of(f"{euros}.{rng.choice(['19', '29', '49', '69', '79', '99'])}", CURRENCY)
    sale_price = None
    if rng.random() < 0.1:
        sale_price = Money.of(
            (list_price.amount * Decimal("0.75")).quantize(Decimal("0.01")), CURRENCY
        )
    return [
        Price(
            sku=product.sku,
            channel=channel,
            list_price=list_price,
            sale_price=sale_price,
            valid_from=start,
        )
        for channel in (Channel.STORE, Channel.WEB)
    ]


def _inventory(
    products: tuple[Product, ...], start: datetime, rng: _Dice
) -> tuple[InventoryLevel, ...]:
    levels: list[InventoryLevel] = []
    for product in products:
        weighed = product.unit_of_measure is UnitOfMeasure.KG
        for store in STORES:
            top = 400 if store.channel is Channel.WEB else 60
            on_hand = (
                Decimal(rng.randint(-2000, top * 1000)) / 1000 if weighed else rng.randint(-2, top)
            )
            reserved = rng.randint(0, 5) if store.channel is Channel.WEB and on_hand > 5 else 0
            levels.append(
                InventoryLevel(
                    sku=product.sku,
                    location=store.code,
                    on_hand=on_hand,
                    reserved=reserved,
                    as_of=start,
                    source="odoo",
                    sequence=len(levels) + 1,
                )
            )
    return tuple(levels)


@cache
def _email_name(given: str, family: str) -> str:
    """`given.family` in lower-case ASCII, as people write their names in an address."""
    name = f"{given}.{family.replace(' ', '')}"
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _phone(rng: _Dice) -> str:
    return f"+316{rng.randint(1, 5)}{rng.randint(1_000_000, 9_999_999)}"


def _typo(name: str, rng: _Dice) -> str:
    """The name with two neighbouring letters swapped, as a hurried checkout form gets it."""
    for _ in range(len(name)):
        i = rng.randint(0, len(name) - 2)
        a, b = name[i], name[i + 1]
        if a != b and a.islower() and b.islower():
            return name[:i] + b + a + name[i + 2 :]
    return name + name[-1]


def _customers(start: datetime, rng: _Dice) -> tuple[EstateCustomer, ...]:
    conflicted = rng.sample(range(CUSTOMER_COUNT), CONFLICTED_CUSTOMERS)
    kinds = {n: CONFLICT_KINDS[i % len(CONFLICT_KINDS)] for i, n in enumerate(conflicted)}
    tiers = rng.choices(
        [tier for tier, _ in _TIERS], [weight for _, weight in _TIERS], k=CUSTOMER_COUNT
    )
    return tuple(_customer(n, kinds.get(n), tiers[n], start, rng) for n in range(CUSTOMER_COUNT))


def _customer(
    n: int, conflict: str | None, tier: str, start: datetime, rng: _Dice
) -> EstateCustomer:
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    name = _email_name(given, family)
    email = f"{name}{n}@example.{rng.choice(['nl', 'com'])}"
    has_phone = conflict == "loyalty_old_phone" or rng.random() < 0.75
    enrolled = start - timedelta(days=rng.randint(1, 3650))
    member_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    card = _gtin13(f"{CARD_PREFIX}{(n * 7919 + 12345) % 10**8:08d}")
    letters = "ABCDEFGHJKLMNPRSTVWXZ"
    differences: dict[str, dict[str, Any]] = {}
    emails = [email]
    if conflict == "crm_other_email":
        emails.append(f"{name}@work-{n}.example.org")
        differences["crm"] = {"emails": emails[1:]}
    elif conflict == "loyalty_old_phone":
        differences["loyalty"] = {"phones": [_phone(rng)]}
    elif conflict == "shop_name_typo":
        differences["shop"] = {"family_name": _typo(family, rng)}
    profile = {
        "customer_id": f"CUST-{n + 1:05d}",
        "identities": {
            "hubspot": str(1001 + n),
            "openloyalty": member_id,
            "shopify": str(6_000_000_001 + n),
        },
        "loyalty_cards": [card],
        "given_name": given,
        "family_name": family,
        "emails": emails,
        "phones": [_phone(rng)] if has_phone else [],
        "addresses": [
            {
                "lines": [f"{rng.choice(_STREETS)} {rng.randint(1, 250)}"],
                "city": rng.choice(STORES).city,
                "postal_code": f"{rng.randint(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}",
                "country": "NL",
            }
        ],
        "birth_date": date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28)),
        "consents": [
            {
                "channel": ConsentChannel.EMAIL,
                "granted": rng.random() < 0.6,
                "at": enrolled,
                "source": "openloyalty",
            }
        ],
        "loyalty": {"member_id": member_id, "tier": tier},
        "updated_at": enrolled,
    }
    return EstateCustomer(
        profile=profile,
        points_balance=rng.randint(0, {"bronze": 1500, "silver": 6000, "gold": 20000}[tier]),
        conflicts=(conflict,) if conflict else (),
        differences=differences,
    )


def _winter_campaign(products: tuple[Product, ...], year: int, rng: _Dice) -> Promotion:
    eligible = [p.sku for p in products if p.unit_of_measure is UnitOfMeasure.EACH]
    return Promotion(
        promotion_id=f"winter-bonus-{year}",
        version=1,
        name="Winter bonus",
        description=f"+{CAMPAIGN_POINTS} bonus points per eligible unit, in store and online",
        source="openloyalty",
        channels=[Channel.STORE, Channel.WEB],
        eligibility=Eligibility(skus=sorted(rng.sample(eligible, CAMPAIGN_SKU_COUNT))),
        reward=Reward(type=RewardType.BONUS_POINTS, points=CAMPAIGN_POINTS),
        valid_from=datetime(year, 11, 20, tzinfo=CET),
        valid_to=datetime(year + 1, 1, 1, tzinfo=CET),
        status=PromotionStatus.ACTIVE,
    )
