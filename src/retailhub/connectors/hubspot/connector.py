"""HubSpot as the hub's CRM: contacts found by email and upserted, profile changes read by
`lastmodifieddate`, notes on a contact's timeline and tickets as service cases.

Idempotency: HubSpot's objects API takes no idempotency key, so every write is made safe to
repeat by looking it up first.
- Contacts: HubSpot keeps one contact per email; contacts looked up by email at the same time
  are read together (`contacts/batch/read` by `email`). Upsert updates the contact with our
  HubSpot id, else the one with the email, else creates; a create refused with 409 "Contact
  already exists. Existing ID: N" (a concurrent writer won) becomes an update of N.
- Notes and tickets carry our key in a custom property (`retailhub_note_key`,
  `retailhub_case_key`, created by `install()`, the case key with "unique values" on) and are
  searched by it before creating. Notes added concurrently go together: one search `IN` their
  keys and one `notes/batch/create` of those not found (see `connectors/coalesce.py`); a batch
  HubSpot refuses is made again one note at a time, so one bad note fails alone. HubSpot's search index trails writes by a few seconds, so two
  calls with one key inside that window can both create; the unique case key turns the second
  ticket into a 409, answered by searching again. Flows repeat a key after a failure, much
  later than that window.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from retailhub.canonical.base import normalise_email
from retailhub.canonical.customer import Customer
from retailhub.connectors.coalesce import Coalescer
from retailhub.connectors.errors import MappingError
from retailhub.connectors.hubspot.client import (
    SEARCH_PAGE_SIZE,
    SEARCH_WINDOW,
    HubSpotClient,
    HubSpotRefused,
)
from retailhub.connectors.hubspot.install import CUSTOM_PROPERTIES, PROPERTY_GROUP
from retailhub.connectors.hubspot.mapping import (
    CASE_KEY_PROPERTY,
    CONTACT_PROPERTIES,
    DEFAULT_CASE_STAGES,
    NOTE_KEY_PROPERTY,
    contact_to_customer,
    customer_to_properties,
    note_body,
    ticket_body,
)
from retailhub.connectors.hubspot.properties import SYSTEM, epoch_ms, parse_moment
from retailhub.connectors.ports import CrmPort
from retailhub.resilience import ResiliencePolicy

_EXISTING_ID = re.compile(r"Existing ID: (\d+)")
_CHANGED_SORT = ({"propertyName": "lastmodifieddate", "direction": "ASCENDING"},)


BATCH_INPUTS = 100
"""Objects per batch call: HubSpot's batch create and batch read take 100 inputs (and an `IN`
filter 100 values)."""
SEARCH_LIMIT = 200
"""HubSpot's largest search page: room for a key noted twice by writers racing elsewhere."""


@dataclass(frozen=True)
class _NoteRequest:
    contact_id: str
    text: str
    key: str


class SearchWindowExceeded(RuntimeError):
    """More contacts changed in one millisecond than one HubSpot search can reach: the change
    feed cannot go on without skipping some, so it stops loudly."""


class HubSpotCrm(CrmPort):
    """The CRM port over one HubSpot portal, authenticated with a private app access token."""

    name = SYSTEM

    def __init__(
        self,
        base_url: str,
        access_token: str,
        policy: ResiliencePolicy,
        *,
        case_stages: Mapping[str, str] = DEFAULT_CASE_STAGES,
        page_size: int = SEARCH_PAGE_SIZE,
        search_window: int = SEARCH_WINDOW,
    ) -> None:
        self.client = HubSpotClient(base_url, access_token, policy, system=SYSTEM)
        self._notes: Coalescer[_NoteRequest, str] = Coalescer(
            self._add_notes, max_batch=BATCH_INPUTS
        )
        self._contacts: Coalescer[str, dict[str, Any] | None] = Coalescer(
            self._read_contacts, max_batch=BATCH_INPUTS
        )
        self.case_stages = dict(case_stages)
        self.page_size, self.search_window = page_size, search_window

    async def close(self) -> None:
        """Release connections."""
        await self.client.close()

    def circuit_state(self) -> str:
        """The state of the breaker guarding calls to this portal."""
        return self.client.http.resilient.circuit_state()

    async def install(self) -> list[str]:
        """Create the custom properties the connector writes to (in a `retailhub` group per
        object type) where the portal lacks them; returns those created. Safe to repeat."""
        created = []
        for object_type, definitions in CUSTOM_PROPERTIES.items():
            await self.client.define(f"{object_type}/groups", PROPERTY_GROUP)
            for definition in definitions:
                if await self.client.define(object_type, definition):
                    created.append(f"{object_type}.{definition['name']}")
        return created

    async def find_contact(self, email: str) -> Customer | None:
        """The contact with this email (HubSpot stores emails lower-cased), mapped to canonical;
        looked up together with the contacts asked for at the same time (one batch read)."""
        contact = await self._contacts.submit(normalise_email(email))
        return None if contact is None else contact_to_customer(contact)

    async def _read_contacts(self, emails: Sequence[str]) -> list[dict[str, Any] | None]:
        """The contacts with these (normalised) emails, in one batch read; None for each email
        no contact has."""
        wanted = list(dict.fromkeys(emails))
        found = await self.client.batch_read(
            "contacts", wanted, CONTACT_PROPERTIES, id_property="email"
        )
        by_email = {
            str((contact.get("properties") or {}).get("email") or "").lower(): contact
            for contact in found
        }
        return [by_email.get(email) for email in emails]

    async def get_contact(self, contact_id: str) -> Customer | None:
        """The contact with this HubSpot id, as a webhook's change notice asks the hub to re-read
        it; None when HubSpot no longer has it."""
        found = await self.client.read("contacts", contact_id, CONTACT_PROPERTIES)
        return None if found is None else contact_to_customer(found)

    async def upsert_contact(self, customer: Customer) -> str:
        """Update the customer's contact (by our HubSpot id, else by email) or create it."""
        properties = customer_to_properties(customer)
        known_id = customer.identities.get(SYSTEM)
        if known_id is not None and await self._update_contact(known_id, properties):
            return known_id
        email = customer.primary_email
        if email is None:
            raise MappingError(
                "customer",
                customer.customer_id,
                "$.emails",
                "a contact without a HubSpot id needs an email to be upserted once",
            )
        existing = await self.client.find_one("contacts", "email", email, ("email",))
        if existing is not None:
            await self.client.update("contacts", existing["id"], properties)
            return str(existing["id"])
        try:
            created = await self.client.create("contacts", {"properties": properties})
        except HubSpotRefused as refused:
            match = _EXISTING_ID.search(refused.hubspot_message)
            if refused.status != 409 or match is None:
                raise
            await self.client.update("contacts", match.group(1), properties)
            return match.group(1)
        return str(created["id"])

    async def _update_contact(self, contact_id: str, properties: Mapping[str, str]) -> bool:
        """PATCH the contact; False when HubSpot no longer has it (merged or deleted)."""
        try:
            await self.client.update("contacts", contact_id, properties)
        except HubSpotRefused as refused:
            if refused.status == 404:
                return False
            raise
        return True

    async def contacts_changed_since(self, since: datetime) -> AsyncIterator[Customer]:
        """Contacts whose `lastmodifieddate` is after `since`, oldest change first. A search
        reaches only its first 10,000 results, so past that the search starts again from the
        last change seen (inclusive, skipping the contacts already yielded at that moment)."""
        floor, operator = epoch_ms(since), "GT"
        seen_at_floor: set[str] = set()
        for _ in range(1_000_000 // self.page_size):
            after: str | None = None
            restart = (floor, set(seen_at_floor)) if seen_at_floor else None
            while True:
                page = await self.client.search(
                    "contacts",
                    [[{"propertyName": "lastmodifieddate", "operator": operator, "value": floor}]],
                    CONTACT_PROPERTIES,
                    sorts=_CHANGED_SORT,
                    after=after,
                    limit=self.page_size,
                )
                for contact in page.get("results") or []:
                    if contact["id"] in seen_at_floor:
                        continue
                    restart = _advance(restart, contact)
                    yield contact_to_customer(contact)
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if after is None:
                    return
                if int(after) + self.page_size > self.search_window:
                    break
            if restart is None:
                return
            if restart == (floor, seen_at_floor):
                raise SearchWindowExceeded(
                    f"more than {self.search_window} HubSpot contacts changed at {floor} ms;"
                    " the search API cannot page past them"
                )
            floor, seen_at_floor = restart
            operator = "GTE"

    async def add_note(self, contact_id: str, text: str, key: str) -> str:
        """A note on the contact's timeline, created once per key (batched with the notes
        added at the same time)."""
        return await self._notes.submit(_NoteRequest(contact_id, text, key))

    async def _add_notes(self, requests: Sequence[_NoteRequest]) -> list[str | Exception]:
        """Notes for many contacts: the keys already noted found in one search, the others
        created in one batch; the answer for each request in order."""
        wanted = list(dict.fromkeys(request.key.lower() for request in requests))
        noted: dict[str, str] = {}
        for start in range(0, len(wanted), BATCH_INPUTS):
            chunk = wanted[start : start + BATCH_INPUTS]
            page = await self.client.search(
                "notes",
                [[{"propertyName": NOTE_KEY_PROPERTY, "operator": "IN", "values": chunk}]],
                (NOTE_KEY_PROPERTY,),
                limit=SEARCH_LIMIT,
            )
            for found in page.get("results") or []:
                key = (found.get("properties") or {}).get(NOTE_KEY_PROPERTY)
                if isinstance(key, str):
                    noted.setdefault(key.lower(), str(found["id"]))
        first = {request.key.lower(): request for request in reversed(requests)}
        missing = [first[key] for key in wanted if key not in noted]
        failed: dict[str, Exception] = {}
        if missing:
            now = datetime.now(UTC)
            bodies = [note_body(r.text, r.key, now, contact_id=r.contact_id) for r in missing]
            try:
                created = await self.client.batch_create("notes", bodies)
            except HubSpotRefused:
                for request in missing:
                    try:
                        noted[request.key.lower()] = await self._note(
                            request.text, request.key, contact_id=request.contact_id
                        )
                    except Exception as error:  # this note alone fails; the others stand
                        failed[request.key.lower()] = error
            else:
                for note in created:
                    key = (note.get("properties") or {}).get(NOTE_KEY_PROPERTY)
                    if isinstance(key, str):
                        noted[key.lower()] = str(note["id"])
        answers: list[str | Exception] = []
        for request in requests:
            key = request.key.lower()
            if key in noted:
                answers.append(noted[key])
            else:
                answers.append(
                    failed.get(key)
                    or MappingError("note", request.key, "$", "HubSpot did not return the note")
                )
        return answers

    async def _note(
        self, text: str, key: str, *, contact_id: str | None = None, ticket_id: str | None = None
    ) -> str:
        existing = await self.client.find_one("notes", NOTE_KEY_PROPERTY, key, (NOTE_KEY_PROPERTY,))
        if existing is not None:
            return str(existing["id"])
        body = note_body(text, key, datetime.now(UTC), contact_id=contact_id, ticket_id=ticket_id)
        created = await self.client.create("notes", body)
        return str(created["id"])

    async def open_case(self, contact_id: str | None, subject: str, text: str, key: str) -> str:
        """A ticket in the support pipeline's first stage, associated with the contact, once per key."""
        existing = await self.client.find_one(
            "tickets", CASE_KEY_PROPERTY, key, (CASE_KEY_PROPERTY,)
        )
        if existing is not None:
            return str(existing["id"])
        body = ticket_body(subject, text, key, self._stage("open"), contact_id)
        try:
            created = await self.client.create("tickets", body)
        except HubSpotRefused as refused:
            if refused.status != 409:
                raise
            winner = await self.client.find_one(
                "tickets", CASE_KEY_PROPERTY, key, (CASE_KEY_PROPERTY,)
            )
            if winner is None:
                raise
            return str(winner["id"])
        return str(created["id"])

    async def update_case(self, case_id: str, *, status: str, text: str | None = None) -> None:
        """Move the ticket to the stage for `status`; the reason, if given, becomes a note on the
        ticket keyed by (case, status, text) so a repeat adds no second note."""
        await self.client.update("tickets", case_id, {"hs_pipeline_stage": self._stage(status)})
        if text:
            digest = hashlib.sha256(f"{case_id}\n{status}\n{text}".encode()).hexdigest()[:32]
            await self._note(text, f"case-{case_id}-{digest}", ticket_id=case_id)

    def _stage(self, status: str) -> str:
        try:
            return self.case_stages[status]
        except KeyError:
            raise ValueError(
                f"case status {status!r} is not one of {', '.join(self.case_stages)}"
            ) from None


def _advance(
    restart: tuple[str, set[str]] | None, contact: Mapping[str, object]
) -> tuple[str, set[str]]:
    """The last change moment seen (epoch ms) and the contact ids yielded at that moment."""
    properties = contact.get("properties")
    raw = properties.get("lastmodifieddate") if isinstance(properties, Mapping) else None
    moment = parse_moment(raw) if isinstance(raw, str) else None
    if moment is None:
        return restart or ("0", set())
    at = epoch_ms(moment)
    if restart is not None and restart[0] == at:
        restart[1].add(str(contact["id"]))
        return restart
    return at, {str(contact["id"])}
