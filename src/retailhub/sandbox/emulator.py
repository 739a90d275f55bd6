"""The base every product emulator builds on: an aiohttp app with fault injection, the control
routes under /_sandbox/, its own SQLite state seeded once from the estate, loopback serving."""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from aiohttp import web

from retailhub.canonical.errors import Fault, InvalidDocument
from retailhub.sandbox.faults import CONTROL_PREFIX, FaultInjector, Faults, default_error_body

if TYPE_CHECKING:
    from retailhub.sandbox.seed import Estate

_META = "CREATE TABLE IF NOT EXISTS sandbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer serialised with orjson, as the emulators' hot paths need."""
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def problem_response(title: str, faults: list[Fault], *, status: int = 400) -> web.Response:
    """An RFC 9457 problem+json answer listing the JSON path and reason of each fault."""
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": "; ".join(str(f) for f in faults),
        "errors": [{"path": f.path, "reason": f.reason} for f in faults],
    }
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/problem+json"
    )


def open_state(path: Path) -> sqlite3.Connection:
    """Open an emulator's SQLite state file in WAL mode, rows readable by column name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: emulators are never exposed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Emulator:
    """One emulated product. Subclasses set `system` and `schema`, and override `add_routes`,
    `seed` and `error_body`; the base supplies faults, control routes, state and serving."""

    system: ClassVar[str] = "emulator"
    schema: ClassVar[str] = ""
    """SQL run on every opening of the state (CREATE TABLE IF NOT EXISTS ...)."""
    max_body_bytes: ClassVar[int] = 1024 * 1024
    """The largest request body accepted (aiohttp answers 413 above it)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_path = Path(state_dir) / f"{self.system}.sqlite3"
        self.faults = FaultInjector(self.error_body, seed=self.system)
        self.url: str | None = None
        self.port: int | None = None
        self._db: sqlite3.Connection | None = None
        self._runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:
        """Add the product's API routes to `app`."""

    def seed(self, estate: Estate) -> None:
        """Write this product's view of the estate into `self.db` (run once per state file)."""

    def error_body(self, request: web.Request) -> Any:
        """The body of an injected HTTP 500, in the product's own error shape."""
        return default_error_body(request)

    @property
    def db(self) -> sqlite3.Connection:
        """The emulator's state, opened on first use with its schema in place."""
        if self._db is None:
            self._db = open_state(self.state_path)
            self._db.executescript(f"{_META};\n{self.schema}")
        return self._db

    def seeded_with(self) -> int | None:
        """The estate seed the state was filled from, or None when it is empty."""
        row = self.db.execute("SELECT value FROM sandbox_meta WHERE key = 'seed'").fetchone()
        return None if row is None else int(row["value"])

    def load(self, estate: Estate) -> None:
        """Seed the state from `estate` unless it already holds that seed; state from another
        seed is thrown away so the emulator never mixes two estates."""
        current = self.seeded_with()
        if current == estate.seed:
            return
        if current is not None:
            self.close_state()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.state_path}{suffix}").unlink(missing_ok=True)
        with self.db:
            self.seed(estate)
            self.db.execute(
                "INSERT OR REPLACE INTO sandbox_meta (key, value) VALUES ('seed', ?)",
                (str(estate.seed),),
            )

    def close_state(self) -> None:
        """Close the state file."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def app(self) -> web.Application:
        """The aiohttp application: control routes, product routes, fault middleware."""
        app = web.Application(
            middlewares=[self.faults.middleware], client_max_size=self.max_body_bytes
        )
        app.router.add_get(f"{CONTROL_PREFIX}faults", self._get_faults)
        app.router.add_put(f"{CONTROL_PREFIX}faults", self._put_faults)
        app.router.add_delete(f"{CONTROL_PREFIX}faults", self._delete_faults)
        app.router.add_get(f"{CONTROL_PREFIX}status", self._status)
        self.add_routes(app)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host` (loopback only) and `port` (0: any free port); return the base URL.
        `url` and `port` tell where it listens until it stops."""
        if not is_loopback(host):
            raise ValueError(f"emulators listen on loopback only, not on {host!r}")
        runner = web.AppRunner(
            self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, self.port = runner.addresses[0][:2]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        self.url = f"http://{bound_host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving and close the state file."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.url = self.port = None
        self.close_state()

    def status(self) -> dict[str, Any]:
        """What `GET /_sandbox/status` reports: system, requests served, faults in force."""
        return {
            "system": self.system,
            "requests_served": self.faults.requests_served,
            "faults": self.faults.faults.to_json(),
        }

    async def _status(self, request: web.Request) -> web.Response:
        return json_response(self.status())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return json_response(self.faults.faults.to_json())

    async def _put_faults(self, request: web.Request) -> web.Response:
        try:
            patch = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return problem_response("Invalid fault settings", [Fault("$", "body is not JSON")])
        try:
            faults = self.faults.faults.updated(patch)
        except InvalidDocument as error:
            return problem_response("Invalid fault settings", error.faults)
        self.faults.set(faults)
        return json_response(faults.to_json())

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.set(Faults())
        return json_response(self.faults.faults.to_json())
