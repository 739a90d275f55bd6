"""HubSpot CRM: contacts, timeline notes and tickets over the CRM v3 objects API, and inbound
webhooks verified by their v3 signature."""

from retailhub.connectors.hubspot.connector import HubSpotCrm

__all__ = ["HubSpotCrm"]
