"""Helpers of the cross-flow integrity property (tests/hub/test_integrity_properties.py): the
sandbox and the whole hub, plans of orders, returns, promotions, profile edits and faults, the
driver that plays them, the operator's settling, and the integrity invariants."""
