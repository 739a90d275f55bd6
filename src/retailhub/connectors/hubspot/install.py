"""The custom properties the connector needs in a HubSpot portal, as bodies of the CRM v3
properties API (`POST /crm/v3/properties/{objectType}/groups` and `.../{objectType}`).

They live in a `retailhub` property group per object type, as HubSpot advises integrations to
do, so a portal admin sees at once where they come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retailhub.connectors.hubspot.mapping import CASE_KEY_PROPERTY, NOTE_KEY_PROPERTY

GROUP = "retailhub"

PROPERTY_GROUP: Mapping[str, Any] = {"name": GROUP, "label": "retailhub", "displayOrder": -1}


def _text(name: str, label: str, description: str, *, unique: bool = False) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": name,
        "label": label,
        "description": description,
        "groupName": GROUP,
        "type": "string",
        "fieldType": "text",
    }
    if unique:
        definition["hasUniqueValue"] = True
    return definition


CUSTOM_PROPERTIES: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    "contacts": (
        _text("retailhub_customer_id", "Customer id", "The retailhub golden customer id."),
        _text("loyalty_card", "Loyalty card", "The loyalty card number the customer scans."),
        {
            "name": "retailhub_email_consent",
            "label": "Email marketing consent",
            "description": "The latest email marketing decision the hub knows of.",
            "groupName": GROUP,
            "type": "enumeration",
            "fieldType": "select",
            "options": [
                {"label": "Granted", "value": "granted", "displayOrder": 0},
                {"label": "Withdrawn", "value": "withdrawn", "displayOrder": 1},
            ],
        },
        {
            "name": "retailhub_email_consent_at",
            "label": "Email marketing consent decided at",
            "description": "When the email marketing decision was made.",
            "groupName": GROUP,
            "type": "datetime",
            "fieldType": "date",
        },
    ),
    "notes": (
        _text(NOTE_KEY_PROPERTY, "retailhub note key", "The hub's idempotency key of the note."),
    ),
    "tickets": (
        _text(
            CASE_KEY_PROPERTY,
            "retailhub case key",
            "The hub's idempotency key of the case.",
            unique=True,
        ),
    ),
}
"""Per object type, the property definitions the connector writes to."""
