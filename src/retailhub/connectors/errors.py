"""Errors every connector raises when a product's payload cannot become a canonical document."""

from __future__ import annotations


class MappingError(ValueError):
    """A payload that cannot be mapped: which resource (and its id), which field, and why.

    `path` is a JSON path into the payload as the product sent it (`$.line_items[1].price`),
    or into the canonical document when mapping the other way, so an operator can find the
    fault without reading code.
    """

    def __init__(self, resource: str, resource_id: str | None, path: str, reason: str) -> None:
        self.resource = resource
        self.resource_id = resource_id
        self.path = path
        self.reason = reason
        super().__init__(f"{resource} {resource_id or '(without id)'}: {path}: {reason}")
