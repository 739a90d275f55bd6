"""Reading POSLog XML safely and without caring which prefix or namespace a vendor chose."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as DefusedTree


class PoslogSyntaxError(ValueError):
    """The file cannot be read as POSLog at all: malformed XML, a refused DTD or entity, no POSLog."""


def load_poslog_xml(xml: bytes) -> Element:
    """Parse bytes into an element tree, refusing DTDs, entity declarations and external references.

    POSLog never needs a DTD, so any DOCTYPE is refused outright: that closes billion-laughs
    entity expansion and XXE before the parser expands anything.
    """
    try:
        root: Element = DefusedTree.fromstring(
            xml, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except ParseError as error:
        line, column = error.position
        reason = str(error).split(":", 1)[0]
        raise PoslogSyntaxError(
            f"malformed POSLog XML at line {line}, column {column + 1}: {reason}"
        ) from None
    except defusedxml.DTDForbidden as error:
        raise PoslogSyntaxError(
            f"POSLog XML declares a DTD ({error.name!r}); DTDs and entity declarations are refused"
            " because they allow entity-expansion (billion laughs) and XXE attacks"
        ) from None
    except defusedxml.EntitiesForbidden as error:
        raise PoslogSyntaxError(
            f"POSLog XML declares the entity {error.name!r}; entity declarations are refused"
            " because they allow entity-expansion (billion laughs) and XXE attacks"
        ) from None
    except defusedxml.DefusedXmlException as error:
        raise PoslogSyntaxError(f"POSLog XML refused: {error}") from None
    if local_name(root) not in {"POSLog", "Transaction"}:
        raise PoslogSyntaxError(f"the root element is {local_name(root)!r}, not POSLog")
    return root


def local_name(element: Element) -> str:
    """The tag without its namespace: `{http://www.nrf-arts.org/...}Sale` -> `Sale`."""
    return str(element.tag).rsplit("}", 1)[-1]


def attribute(element: Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (`acs:weightItem` -> `weightItem`)."""
    for key, value in element.attrib.items():
        if key.rsplit("}", 1)[-1] == name:
            return value.strip()
    return None


def children(element: Element, name: str) -> Iterator[Element]:
    """Direct children with the given local name."""
    return (child for child in element if local_name(child) == name)


def child(element: Element | None, *path: str) -> Element | None:
    """The first element down a path of local names, or None."""
    current = element
    for name in path:
        if current is None:
            return None
        current = next(children(current, name), None)
    return current


def text(element: Element | None, *path: str) -> str | None:
    """The stripped text at a path of local names; None when absent or empty."""
    found = child(element, *path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def descendant(element: Element, name: str) -> Element | None:
    """The first element anywhere below with the given local name."""
    return next((e for e in element.iter() if e is not element and local_name(e) == name), None)
