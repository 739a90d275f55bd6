"""The API's contracts, generated into the repository: `docs/openapi.json` (OpenAPI 3.1, from
the FastAPI app with every router, checkout included) and `docs/asyncapi.json` (AsyncAPI 3.0,
one channel and message per catalogued event type, each message's payload the committed
CloudEvents schema in `schemas/events/`).

    python -m retailhub.api.specs write   # regenerate both
    python -m retailhub.api.specs check   # exit 1 naming the stale ones (the tests run it)
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from retailhub import __version__
from retailhub.api.app import create_app
from retailhub.api.checkout.routes import checkout_router
from retailhub.api.services import ApiServices
from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import CATALOGUE
from retailhub.canonical.registry import event_path
from retailhub.estate import SANDBOX_ESTATE, Secrets, parse_estate
from retailhub.flows.checkout.desk import CheckoutDesk

ROOT = Path(__file__).resolve().parents[3]
OPENAPI_FILE = Path("docs/openapi.json")
ASYNCAPI_FILE = Path("docs/asyncapi.json")
REGENERATE = "python -m retailhub.api.specs write"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole API, checkout included (its desk built over the
    sandbox estate's loyalty connector, which is never called)."""
    text = (resources.files("retailhub") / "estates" / SANDBOX_ESTATE).read_text()
    estate = parse_estate(text, "the sandbox estate")
    connectors = build_connectors(estate, Secrets.from_environment(sandbox=True))
    loyalty = connectors.loyalty
    assert loyalty is not None, "the sandbox estate has a loyalty platform"
    with tempfile.TemporaryDirectory() as home:
        bus = SqliteBus(Path(home) / "never-opened.sqlite")
        services = ApiServices(bus)
        services.checkout_router = checkout_router(CheckoutDesk(bus, loyalty))
        document: dict[str, Any] = create_app(services).openapi()
    asyncio.run(connectors.close())
    return document


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the event catalogue."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for type_, entry in sorted(CATALOGUE.items()):
        messages[type_] = {
            "name": type_,
            "title": type_,
            "summary": entry.description,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"../schemas/{event_path(type_)}"},
            "x-retailhub-subject": entry.key_field,
            "x-retailhub-payload": entry.payload.__name__,
        }
        channels[type_] = {
            "address": type_,
            "description": f"{entry.description} Ordered per {entry.key_field}.",
            "messages": {type_: {"$ref": f"#/components/messages/{type_}"}},
        }
        operations[f"publish.{type_}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{type_}"},
            "summary": f"The hub publishes {type_} on its bus.",
            "messages": [{"$ref": f"#/channels/{type_}/messages/{type_}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "retailhub events",
            "version": __version__,
            "description": (
                "The retail event catalogue: CloudEvents 1.0 in structured mode, `type` the"
                " channel, `subject` and `partitionkey` the business key, delivered at least"
                " once and in order per key (docs/bus.md). Payload schemas are the committed"
                " registry in schemas/events/."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render(document: dict[str, Any]) -> str:
    """A document as the repository holds it: indented JSON with a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Each generated file's path and the text it should hold."""
    return {
        root / OPENAPI_FILE: render(openapi_document()),
        root / ASYNCAPI_FILE: render(asyncapi_document()),
    }


def stale(root: Path = ROOT, documents: dict[Path, str] | None = None) -> list[Path]:
    """The generated files missing or differing from what the code generates now (or from
    `documents`, generated for `root` beforehand)."""
    wanted = generated(root) if documents is None else documents
    return [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]


def main(argv: list[str]) -> int:
    """`write` regenerates the documents; `check` exits 1 naming the stale ones."""
    command = argv[0] if argv else "check"
    if command == "write":
        for path, text in generated().items():
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if command == "check":
        outdated = stale()
        for path in outdated:
            print(f"{path.relative_to(ROOT)} is stale; run `{REGENERATE}`", file=sys.stderr)
        return 1 if outdated else 0
    print("usage: python -m retailhub.api.specs write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
