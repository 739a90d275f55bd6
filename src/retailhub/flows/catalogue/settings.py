"""What an estate decides about catalogue sync: which locations feed the web shop, how much
stock each keeps back as safety stock, how variants group into listings, how often to poll."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from retailhub.canonical.base import Channel


@dataclass(frozen=True)
class SafetyStock:
    """Units held back from available-to-sell: per location first, else per channel, else the
    default. Every figure must be zero or more."""

    default: Decimal = Decimal(0)
    per_channel: Mapping[Channel, Decimal] = field(default_factory=dict)
    per_location: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        figures = {
            "default": self.default,
            **{f"channel {c}": v for c, v in self.per_channel.items()},
            **{f"location {code}": v for code, v in self.per_location.items()},
        }
        for name, value in figures.items():
            if value < 0:
                raise ValueError(f"safety stock for {name} is {value}: it must not be negative")

    def units(self, channel: Channel, location: str) -> Decimal:
        """The safety stock of `location` when it sells on `channel`."""
        if location in self.per_location:
            return self.per_location[location]
        return self.per_channel.get(channel, self.default)


@dataclass(frozen=True)
class CatalogueSettings:
    """Catalogue sync settings for one estate; every choice has a working default."""

    commerce_channel: Channel = Channel.WEB
    """The channel the commerce platform sells on: its prices and its safety stock."""
    commerce_locations: frozenset[str] | None = None
    """Locations whose stock the commerce platform sells from; None for every location."""
    pos_channel: Channel = Channel.STORE
    """The channel whose prices go to the store POS."""
    safety_stock: SafetyStock = field(default_factory=SafetyStock)
    listing_attribute: str = "listing"
    """The product attribute naming the listing a variant belongs to; without it an item is a
    listing of its own."""
    poll_interval_s: float = 5.0
    """Seconds between two reads of the ERP by the change-capture poller."""
    clock_margin_s: float = 5.0
    """How far back each "changed since" read starts before the previous one began, to cover
    the ERP's clock running behind the hub's and its whole-second change times."""
    full_read_every_s: float = 600.0
    """Seconds between two full reads of stock and prices (between them only what changed is
    read): what a "changed since" read cannot see, a quant or price rule the ERP deleted or a
    change stamped further back than the clock margin, is caught by the next full one. 0 reads
    them in full at every poll."""
    capture_chunk: int = 500
    """Documents compared and published per hub transaction by the poller."""
    concurrency: int = 16
    """Keys each subscription handles at once."""
    baseline_first_poll: bool = False
    """When the poller has never read the ERP, record what it holds as already in every
    channel instead of publishing it all (an estate whose channels were filled from the ERP,
    like the sandbox); off, the first poll publishes every item, level and price."""

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if self.clock_margin_s < 0:
            raise ValueError("clock_margin_s must not be negative")
        if self.full_read_every_s < 0:
            raise ValueError("full_read_every_s must not be negative")
        if self.capture_chunk < 1 or self.concurrency < 1:
            raise ValueError("capture_chunk and concurrency must be at least 1")

    def sells_online_from(self, location: str) -> bool:
        """True when the commerce platform sells stock held at `location`."""
        return self.commerce_locations is None or location in self.commerce_locations
