"""POSLog uploads: a POS client posts a journal, its sales go on the bus once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from retailhub.api.services import ApiServices
from retailhub.bus.sqlite import SqliteBus

from .conftest import issue_key
from .helpers import events_of

POS_TYPES = ["retail.order.*", "retail.return.*"]


@pytest.fixture
def journal(samples: Path) -> bytes:
    return (samples / "poslog" / "ncr-acs-small.xml").read_bytes()


@pytest.fixture
async def store_server(services: ApiServices) -> dict[str, str]:
    return {
        "X-API-Key": await issue_key(services, "store-ams01", "pos"),
        "Content-Type": "application/xml",
    }


async def test_a_journal_is_published_once_however_often_it_is_sent(
    api: httpx.AsyncClient, bus: SqliteBus, journal: bytes, store_server: dict[str, str]
) -> None:
    first = await api.post("/hooks/poslog", content=journal, headers=store_server)
    assert first.status_code == 202
    published = first.json()["published"]
    assert published > 0
    assert len(await events_of(bus, POS_TYPES)) == published
    again = await api.post("/hooks/poslog", content=journal, headers=store_server)
    assert again.status_code == 202
    assert len(await events_of(bus, POS_TYPES)) == published


async def test_only_pos_clients_may_upload(
    api: httpx.AsyncClient, services: ApiServices, journal: bytes
) -> None:
    shop = await issue_key(services, "web-shop", "commerce")
    anonymous = await api.post(
        "/hooks/poslog", content=journal, headers={"Content-Type": "application/xml"}
    )
    refused = await api.post(
        "/hooks/poslog",
        content=journal,
        headers={"X-API-Key": shop, "Content-Type": "application/xml"},
    )
    assert (anonymous.status_code, refused.status_code) == (401, 403)


async def test_not_xml_or_not_poslog_is_refused(
    api: httpx.AsyncClient, bus: SqliteBus, store_server: dict[str, str]
) -> None:
    as_json = await api.post(
        "/hooks/poslog", content=b"{}", headers={**store_server, "Content-Type": "application/json"}
    )
    garbage = await api.post("/hooks/poslog", content=b"<Other/>", headers=store_server)
    assert as_json.status_code == 415
    assert garbage.status_code == 400
    assert garbage.headers["content-type"] == "application/problem+json"
    assert garbage.json()["instance"] == "/hooks/poslog"
    assert await events_of(bus, POS_TYPES) == []


async def test_a_journal_over_the_upload_limit_is_413(
    api: httpx.AsyncClient, journal: bytes, store_server: dict[str, str]
) -> None:
    big = journal * (70 * 1024 // len(journal) + 1)
    answer = await api.post("/hooks/poslog", content=big, headers=store_server)
    assert answer.status_code == 413
