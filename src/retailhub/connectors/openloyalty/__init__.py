"""Open Loyalty: the loyalty platform's REST API behind the hub's LoyaltyPort."""

from retailhub.connectors.openloyalty.connector import OpenLoyaltyConnector

__all__ = ["OpenLoyaltyConnector"]
