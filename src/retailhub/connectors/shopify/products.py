"""Shopify products as canonical Products (one per variant), and canonical variants back as one
Shopify product body.

Decisions:
- A canonical Product is a sellable SKU, so each variant is one: title "Product - Variant"
  (just the product's title for Shopify's "Default Title" variant), the variant id in
  `external_ids`, the product's option values as attributes named by the options.
- `barcode` becomes the GTIN when its check digit is valid; any other barcode (internal codes,
  ISBN-10, typos) stays in the `barcode` attribute, logged, so nothing is lost and nothing
  invalid is called a GTIN. Back in Shopify a GTIN is written in its shortest standard form.
- `product_type` is the merchandise hierarchy, levels joined by " > " (one level for a plain
  Shopify product type); tags are free-form and unordered, so they stay in the `tags`
  attribute rather than pretend to be hierarchy. `vendor` is the brand.
- status: active -> active, draft -> inactive, archived -> discontinued; payloads without
  `status` are active when published. Prices are not part of a Product: price sync sets them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retailhub.canonical.identifiers import is_valid_gtin
from retailhub.canonical.product import Product, ProductStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.payload import SYSTEM, Reader, shopify_id

HIERARCHY_SEPARATOR = " > "
DEFAULT_VARIANT_TITLE = "Default Title"
_TAGS, _BARCODE = "tags", "barcode"
_STATUS = {
    "active": ProductStatus.ACTIVE,
    "draft": ProductStatus.INACTIVE,
    "archived": ProductStatus.DISCONTINUED,
}
_SHOPIFY_STATUS = {status: name for name, status in _STATUS.items()}


def product_to_canonical(product: Mapping[str, Any]) -> list[Product]:
    """Map a Shopify product to one canonical Product per variant."""
    doc = Reader.of("product", product)
    title = doc.text("title")
    if title is None:
        raise doc.fail("title", "is missing")
    options = [option.text("name") for option in doc.children("options")]
    variants = list(doc.children("variants"))
    if not variants:
        raise doc.fail("variants", "a product needs at least one variant")
    return [_variant(doc, variant, title, options) for variant in variants]


def product_from_canonical(
    products: Sequence[Product], *, product_id: int | None = None
) -> dict[str, Any]:
    """The product resource to send in `{"product": ...}`: the canonical Products are its variants
    and must agree on everything that belongs to the product (title, brand, hierarchy, tags)."""
    if not products:
        raise MappingError("product", None, "$", "a Shopify product needs at least one variant")
    options = _option_names(products)
    first = products[0]
    base = _base_title(first, options)
    for product in products[1:]:
        for field, same in (
            ("title", _base_title(product, options) == base),
            ("brand", product.brand == first.brand),
            ("hierarchy", product.hierarchy == first.hierarchy),
            ("status", product.status is first.status),
            (f"attributes.{_TAGS}", product.attributes.get(_TAGS) == first.attributes.get(_TAGS)),
        ):
            if not same:
                raise MappingError(
                    "product", product.sku, f"$.{field}", f"differs from variant {first.sku}"
                )
    body: dict[str, Any] = {
        "id": product_id,
        "title": base,
        "vendor": first.brand,
        "product_type": HIERARCHY_SEPARATOR.join(first.hierarchy) or None,
        "tags": first.attributes.get(_TAGS),
        "status": _SHOPIFY_STATUS[first.status],
        "options": [{"name": name} for name in options] or None,
        "variants": [_variant_body(product, options) for product in products],
    }
    return {name: value for name, value in body.items() if value is not None}


def _variant(product: Reader, variant: Reader, title: str, options: list[str | None]) -> Product:
    sku = variant.text("sku")
    if sku is None:
        raise variant.fail("sku", "is missing: the hub identifies items by SKU")
    attributes: dict[str, str] = {}
    for position, name in enumerate(options, start=1):
        value = variant.text(f"option{position}")
        if name and value and value != DEFAULT_VARIANT_TITLE:
            attributes[name] = value
    tags = product.text(_TAGS)
    if tags:
        attributes[_TAGS] = tags
    barcode = variant.text(_BARCODE)
    gtins: list[str] = []
    if barcode and is_valid_gtin(barcode):
        gtins.append(barcode)
    elif barcode:
        variant.warn(_BARCODE, f"{barcode!r} is not a valid GTIN: kept as the barcode attribute")
        attributes[_BARCODE] = barcode
    variant_title = variant.text("title")
    product_type = product.text("product_type")
    return variant.build(
        Product,
        {"$.sku": "sku", "$.title": "title", "$.attributes": "option1"},
        sku=sku,
        gtins=gtins,
        title=title
        if variant_title in {None, DEFAULT_VARIANT_TITLE}
        else f"{title} - {variant_title}",
        hierarchy=product_type.split(HIERARCHY_SEPARATOR) if product_type else [],
        brand=product.text("vendor"),
        attributes=attributes,
        status=_status(product),
        external_ids={SYSTEM: str(variant.integer("id"))},
    )


def _status(product: Reader) -> ProductStatus:
    status = product.text("status")
    if status is None:
        return ProductStatus.ACTIVE if product.has("published_at") else ProductStatus.INACTIVE
    if status not in _STATUS:
        raise product.fail("status", f"{status!r} is not a Shopify product status")
    return _STATUS[status]


def _option_names(products: Sequence[Product]) -> list[str]:
    """Every attribute that is not tags or barcode is a Shopify option; Shopify allows three."""
    names: list[str] = []
    for product in products:
        names += [n for n in product.attributes if n not in {_TAGS, _BARCODE} and n not in names]
    if len(names) > 3:
        raise MappingError(
            "product", products[0].sku, "$.attributes", f"Shopify allows 3 options, not {names}"
        )
    return names


def _variant_title(product: Product, options: list[str]) -> str:
    values = [product.attributes[name] for name in options if name in product.attributes]
    return " / ".join(values) or DEFAULT_VARIANT_TITLE


def _base_title(product: Product, options: list[str]) -> str:
    """The product's own title: the canonical title less its " - <variant title>" suffix."""
    suffix = f" - {_variant_title(product, options)}"
    return product.title.removesuffix(suffix) if product.title.endswith(suffix) else product.title


def _variant_body(product: Product, options: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": shopify_id(product.external_ids, "product", product.sku),
        "sku": product.sku,
        "title": _variant_title(product, options),
        "barcode": shortest_gtin(product.gtins[0])
        if product.gtins
        else product.attributes.get(_BARCODE),
    }
    for position, name in enumerate(options, start=1):
        body[f"option{position}"] = product.attributes.get(name)
    return {name: value for name, value in body.items() if value is not None}


def shortest_gtin(gtin14: str) -> str:
    """A GTIN-14 in its everyday form: EAN-8, UPC-A (12) or EAN-13 when the leading zeros allow."""
    for length in (8, 12, 13):
        if set(gtin14[: 14 - length]) == {"0"}:
            return gtin14[14 - length :]
    return gtin14
