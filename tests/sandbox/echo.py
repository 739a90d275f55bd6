"""A tiny product emulator for the sandbox tests: the framework tested as emulators use it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from retailhub.sandbox.emulator import Emulator, json_response
from retailhub.sandbox.seed import Estate


class EchoEmulator(Emulator):
    """A product that echoes what it is asked, serves a few seeded products, and answers
    injected errors in Shopify's shape, so the framework is tested as an emulator uses it."""

    system = "echo"
    schema = "CREATE TABLE IF NOT EXISTS product (sku TEXT PRIMARY KEY, title TEXT NOT NULL)"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/echo/{what}", self.echo)
        app.router.add_get("/products/{sku}", self.product)

    def seed(self, estate: Estate) -> None:
        self.db.executemany(
            "INSERT INTO product (sku, title) VALUES (?, ?)",
            [(p.sku, p.title) for p in estate.products[:50]],
        )

    def error_body(self, request: web.Request) -> Any:
        return {"errors": "Internal Server Error"}

    async def echo(self, request: web.Request) -> web.Response:
        return json_response({"echo": request.match_info["what"]})

    async def product(self, request: web.Request) -> web.Response:
        row = self.db.execute(
            "SELECT sku, title FROM product WHERE sku = ?", (request.match_info["sku"],)
        ).fetchone()
        if row is None:
            return json_response({"errors": "Not Found"}, status=404)
        return json_response({"product": dict(row)})


def ports_of(*emulators: Emulator) -> dict[str, int]:
    """Where running emulators listen, as the CLI and the control client take it."""
    ports: dict[str, int] = {}
    for emulator in emulators:
        assert emulator.port is not None, f"{emulator.system} is not running"
        ports[emulator.system] = emulator.port
    return ports
