"""Inbound webhooks and uploads: Shopify topics, HubSpot contact notices, POSLog journals.

Each receiver checks the delivery (signature in constant time, replay window), records it in
the inbox by the product's own delivery id (a duplicate is answered 200 and ignored), and puts
it on the bus as a hub-internal event, all in one transaction, before answering 202: no mapping
and no outbound call happens while the product waits. The `hooks.*` subscriptions
(`intake.subscribe_webhook_intake`) then turn each delivery into canonical events, with the
bus's retries and dead letters behind them.
"""
