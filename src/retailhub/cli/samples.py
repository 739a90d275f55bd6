"""`retailhub samples`: the canonical model at work on the sample documents shipped with retailhub."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from retailhub.canonical.catalogue import to_event, validate_event
from retailhub.canonical.cloudevents import new_traceparent
from retailhub.canonical.customer import Customer
from retailhub.canonical.errors import InvalidDocument
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.kinds import parse_document
from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransaction
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return

EVENT_TYPE_OF_KIND = {
    "order": "retail.order.created.v1",
    "return": "retail.return.received.v1",
    "customer": "retail.customer.updated.v1",
    "product": "retail.product.upserted.v1",
    "price": "retail.price.changed.v1",
    "promotion": "retail.promotion.authored.v1",
    "inventory": "retail.inventory.changed.v1",
    "loyalty_account": "retail.loyalty_account.updated.v1",
    "loyalty_transaction": "retail.loyalty_transaction.recorded.v1",
}


def _samples(folder: str) -> list[Path]:
    """The JSON sample files shipped in `retailhub/samples/<folder>`."""
    root = resources.files("retailhub") / "samples" / folder
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".json"))


def _summary(document: BaseModel) -> str:
    """One line a retailer would recognise for each document."""
    match document:
        case Order():
            tax = "incl. VAT" if document.prices_include_tax else "+ sales tax"
            return (
                f"{document.channel.value} sale, {len(document.lines)} lines,"
                f" {document.totals.grand_total} {tax}"
            )
        case Return():
            where = document.received_location or "not yet received"
            return (
                f"from {document.initiated_channel.value}, received at {where},"
                f" refund {document.refund_total}"
            )
        case Customer():
            return (
                f"{document.given_name} {document.family_name}, {len(document.identities)} systems"
            )
        case Product():
            return f"{document.title} ({' > '.join(document.hierarchy)})"
        case Price():
            return f"{document.channel.value} {document.selling_price}"
        case Promotion():
            return f"v{document.version} {document.name}"
        case InventoryLevel():
            return f"{document.location}: {document.available} available"
        case LoyaltyAccount():
            return f"{document.tier} member, {document.points_balance} points"
        case LoyaltyTransaction():
            return f"{document.type.value} {document.points:+d} points"
    return type(document).__name__


def samples() -> None:
    """Show the canonical retail model at work: validate the sample documents, wrap them in
    CloudEvents, and reject a document whose figures do not add up."""
    console = Console()
    console.rule("[bold]retailhub: the canonical retail model")
    table = Table("event type", "key", "summary")
    source = "/retailhub/demo"
    for path in _samples("canonical"):
        raw = path.read_bytes()
        kind = orjson.loads(raw)["kind"]
        document = parse_document(kind, raw)
        event = to_event(document, EVENT_TYPE_OF_KIND[kind], source, traceparent=new_traceparent())
        validate_event(event.to_json())
        table.add_row(event.type, event.subject or "", _summary(document))
    console.print(table)
    console.print("Every document above was validated and travels as a CloudEvent keyed by it.")
    for path in _samples("invalid"):
        console.rule(f"[bold red]Rejected: {path.name}")
        try:
            parse_document("order", path.read_bytes())
        except InvalidDocument as error:
            for fault in error.faults:
                console.print(f"  [red]{fault.path}[/red]: {fault.reason}")
        else:
            raise typer.Exit(1)
    console.print(
        "\nTry it on your own files: [bold]retailhub validate order FILE[/bold] or"
        " [bold]retailhub validate event FILE[/bold]."
    )
