"""`retailhub translate` and `retailhub render`: product formats to canonical JSON and back."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer
from pydantic import BaseModel

from retailhub.canonical.customer import Customer
from retailhub.canonical.errors import InvalidDocument
from retailhub.canonical.kinds import load_json, parse_document
from retailhub.canonical.order import Order
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return
from retailhub.connectors.errors import MappingError
from retailhub.connectors.poslog.mapping import poslog_to_canonical
from retailhub.connectors.poslog.render import canonical_to_poslog
from retailhub.connectors.poslog.safe_xml import PoslogSyntaxError
from retailhub.connectors.shopify import mapping as shopify

EXIT_SOME_FAILED = 1
EXIT_UNREADABLE = 2


class SourceFormat(StrEnum):
    """Formats `translate` reads."""

    SHOPIFY_ORDER = "shopify-order"
    SHOPIFY_REFUND = "shopify-refund"
    SHOPIFY_CUSTOMER = "shopify-customer"
    SHOPIFY_PRODUCT = "shopify-product"
    SHOPIFY_INVENTORY_LEVEL = "shopify-inventory-level"
    POSLOG = "poslog"


class TargetFormat(StrEnum):
    """Formats `render` writes: the documents each product accepts from the hub."""

    SHOPIFY_CUSTOMER = "shopify-customer"
    SHOPIFY_PRODUCT = "shopify-product"
    SHOPIFY_PRICE_RULE = "shopify-price-rule"
    POSLOG = "poslog"


def _read(path: Path) -> bytes:
    """The file's bytes (`-` is standard input); exit 2 with the reason when it cannot be read."""
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as error:
        typer.echo(f"error: cannot read {path}: {error.strerror or error}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None


def _parse_json(raw: bytes, path: Path) -> Any:
    """Parsed JSON; exit 2 with line and column when it is not JSON at all."""
    try:
        return load_json(raw)
    except InvalidDocument as error:
        typer.echo(f"error: {path}: {error.faults[0].reason}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None


def _sku_map(pairs: list[str]) -> dict[int, str]:
    """`--sku 808950810=IPOD2008PINK` options as a lookup of inventory item id to SKU."""
    lookup: dict[int, str] = {}
    for pair in pairs:
        item, _, sku = pair.partition("=")
        if not item.strip().isdigit() or not sku.strip():
            typer.echo(f"error: --sku {pair!r} must read INVENTORY_ITEM_ID=SKU", err=True)
            raise typer.Exit(EXIT_UNREADABLE)
        lookup[int(item)] = sku.strip()
    return lookup


def _shopify_mapper(source: SourceFormat, skus: dict[int, str]) -> Callable[[Any], list[BaseModel]]:
    """The mapping function for one Shopify resource kind, returning a list of documents."""
    mappers: dict[SourceFormat, Callable[[Any], list[BaseModel]]] = {
        SourceFormat.SHOPIFY_ORDER: lambda doc: [shopify.order_to_canonical(doc)],
        SourceFormat.SHOPIFY_REFUND: lambda doc: [shopify.refund_to_canonical(doc)],
        SourceFormat.SHOPIFY_CUSTOMER: lambda doc: [shopify.customer_to_canonical(doc)],
        SourceFormat.SHOPIFY_PRODUCT: lambda doc: list(shopify.product_to_canonical(doc)),
        SourceFormat.SHOPIFY_INVENTORY_LEVEL: lambda doc: [
            shopify.inventory_level_to_canonical(doc, sku_by_inventory_item=skus)
        ],
    }
    return mappers[source]


_SHOPIFY_KIND: dict[SourceFormat, shopify.ResourceKind] = {
    SourceFormat.SHOPIFY_ORDER: "order",
    SourceFormat.SHOPIFY_REFUND: "refund",
    SourceFormat.SHOPIFY_CUSTOMER: "customer",
    SourceFormat.SHOPIFY_PRODUCT: "product",
    SourceFormat.SHOPIFY_INVENTORY_LEVEL: "inventory_level",
}


def _translate_shopify(
    source: SourceFormat, raw: bytes, path: Path, skus: dict[int, str]
) -> tuple[list[BaseModel], int]:
    """Every resource in a Shopify file mapped; faulty ones named on stderr and counted."""
    try:
        resources = shopify.shopify_documents(_parse_json(raw, path), _SHOPIFY_KIND[source])
    except MappingError as error:
        typer.echo(f"error: {path}: {error}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    mapper = _shopify_mapper(source, skus)
    documents: list[BaseModel] = []
    failed = 0
    for resource in resources:
        try:
            documents.extend(mapper(resource))
        except MappingError as error:
            typer.echo(f"failed: {error}", err=True)
            failed += 1
    return documents, failed


def _translate_poslog(raw: bytes, path: Path) -> tuple[list[BaseModel], int]:
    """Every retail transaction of a POSLog file; control transactions counted on stderr."""
    try:
        translation = poslog_to_canonical(raw)
    except PoslogSyntaxError as error:
        typer.echo(f"error: {path}: {error}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if translation.control_transactions_skipped:
        typer.echo(
            f"skipped {translation.control_transactions_skipped} control transaction(s)"
            " (sign-on, till): they are not sales",
            err=True,
        )
    for failure in translation.failures:
        typer.echo(f"failed: {failure}", err=True)
    return list(translation.documents), len(translation.failures)


def translate(
    source: SourceFormat = typer.Argument(..., metavar="FORMAT", help="The format FILE is in."),
    file: Path = typer.Argument(..., help="The file to translate; `-` reads standard input."),
    sku: list[str] = typer.Option(
        [], "--sku", help="INVENTORY_ITEM_ID=SKU, for shopify-inventory-level (repeatable)."
    ),
) -> None:
    """Print the canonical documents in FILE as one JSON array, each with its `kind`.

    A Shopify file may hold one resource as the Admin API wraps it, a list, or the bare resource
    or list as webhooks deliver it. Exit 0 when everything mapped, 1 when some document could
    not be mapped (the others are still printed; each failure is named on stderr), 2 when the
    file cannot be read or parsed at all.
    """
    raw = _read(file)
    if source is SourceFormat.POSLOG:
        documents, failed = _translate_poslog(raw, file)
    else:
        documents, failed = _translate_shopify(source, raw, file, _sku_map(sku))
    rendered = [d.model_dump(mode="json") for d in documents]
    sys.stdout.buffer.write(orjson.dumps(rendered, option=orjson.OPT_INDENT_2) + b"\n")
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _canonical_documents(raw: bytes, path: Path) -> list[BaseModel]:
    """Canonical documents from a JSON document or array; exit 1 naming every fault."""
    value = _parse_json(raw, path)
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    documents: list[BaseModel] = []
    faulty = False
    for i, item in enumerate(items):
        kind = item.get("kind") if isinstance(item, dict) else None
        try:
            documents.append(parse_document(str(kind), item))
        except (InvalidDocument, ValueError) as error:
            faults = error.faults if isinstance(error, InvalidDocument) else [error]
            for fault in faults:
                typer.echo(f"invalid: document {i}: {fault}", err=True)
            faulty = True
    if faulty:
        raise typer.Exit(EXIT_SOME_FAILED)
    return documents


D = TypeVar("D", bound=BaseModel)


def _only(documents: list[BaseModel], wanted: type[D], fmt: str, names: str) -> list[D]:
    """The documents as `wanted`; exit 1 naming the first that cannot be rendered in `fmt`."""
    for i, document in enumerate(documents):
        if not isinstance(document, wanted):
            typer.echo(f"invalid: document {i}: {fmt} renders {names}", err=True)
            raise typer.Exit(EXIT_SOME_FAILED)
    return [d for d in documents if isinstance(d, wanted)]


def render(
    target: TargetFormat = typer.Argument(..., metavar="FORMAT", help="The format to write."),
    file: Path = typer.Argument(..., help="Canonical JSON (one document or an array); `-`."),
) -> None:
    """Write canonical documents in a product's own format, as that product accepts them.

    Exit 1 when a document is invalid or cannot be written in FORMAT, 2 when FILE cannot be read.
    """
    documents = _canonical_documents(_read(file), file)
    fmt = target.value
    output: Any
    try:
        if target is TargetFormat.POSLOG:
            sales = _only(documents, Order | Return, fmt, "Order or Return")  # type: ignore[arg-type]
            sys.stdout.buffer.write(canonical_to_poslog(sales))
            return
        if target is TargetFormat.SHOPIFY_CUSTOMER:
            customers = _only(documents, Customer, fmt, "Customer")
            output = [shopify.customer_from_canonical(c) for c in customers]
        elif target is TargetFormat.SHOPIFY_PRODUCT:
            output = shopify.product_from_canonical(_only(documents, Product, fmt, "Product"))
        else:
            promotions = _only(documents, Promotion, fmt, "Promotion")
            output = [shopify.promotion_to_price_rule(p) for p in promotions]
    except MappingError as error:
        typer.echo(f"failed: {error}", err=True)
        raise typer.Exit(EXIT_SOME_FAILED) from None
    sys.stdout.buffer.write(orjson.dumps(output, option=orjson.OPT_INDENT_2) + b"\n")
