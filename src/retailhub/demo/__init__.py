"""The trading day: realistic shoppers, orders, returns and edits played through a running hub,
for `retailhub demo` and the flow benchmarks."""
