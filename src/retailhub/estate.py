"""The estate file: which systems the retailer runs, where they are, how calls to each are
protected, and how documents are routed between instances of one role.

An estate is TOML. Secrets never appear in it: each system names the environment variables
that hold its credentials, read from the environment or from a secrets file
(`RETAILHUB_SECRETS_FILE`, lines of `NAME=value`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from retailhub.canonical.errors import (
    Fault,
    InvalidDocument,
    Location,
    Problems,
    faults_from_validation_error,
)
from retailhub.resilience import ResiliencePolicy

SANDBOX_ESTATE = "sandbox.toml"
SANDBOX_SECRETS = "sandbox.secrets.env"


class Role(StrEnum):
    """The part a system plays for the retailer; each role has its port."""

    ERP = "erp"
    CRM = "crm"
    LOYALTY = "loyalty"
    COMMERCE = "commerce"
    POS = "pos"


class Product(StrEnum):
    """The products retailhub has connectors for, and the role each can play."""

    SHOPIFY = "shopify"
    ODOO = "odoo"
    HUBSPOT = "hubspot"
    OPENLOYALTY = "openloyalty"
    POSLOG = "poslog"


ROLE_OF_PRODUCT: dict[Product, Role] = {
    Product.SHOPIFY: Role.COMMERCE,
    Product.ODOO: Role.ERP,
    Product.HUBSPOT: Role.CRM,
    Product.OPENLOYALTY: Role.LOYALTY,
    Product.POSLOG: Role.POS,
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResilienceSettings(_Strict):
    """The estate's spelling of a `ResiliencePolicy`; every figure optional."""

    timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    initial_backoff_s: float = Field(default=0.1, gt=0)
    max_backoff_s: float = Field(default=5.0, gt=0)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)
    max_concurrent: int = Field(default=32, ge=1)

    def policy(self) -> ResiliencePolicy:
        """The policy calls to the system run under."""
        return ResiliencePolicy(**self.model_dump())


_HTTP_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def _http_url(value: str) -> str:
    if not _HTTP_URL.match(value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class SystemSettings(_Strict):
    """One connected system: which product, at which URL, with which credentials and policy."""

    product: Product
    base_url: Annotated[str, AfterValidator(_http_url)]
    secrets: dict[str, EnvName] = Field(
        default_factory=dict, description="credential name -> environment variable holding it"
    )
    options: dict[str, str | int | float | bool | list[str]] = Field(default_factory=dict)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)

    @property
    def role(self) -> Role:
        """The role the product plays."""
        return ROLE_OF_PRODUCT[self.product]


class RouteRule(_Strict):
    """Send documents whose canonical fields match `when` to the system `use`."""

    when: dict[str, list[str]] = Field(min_length=1)
    use: str


class Routing(_Strict):
    """How one role picks among several instances; `shadow` receives copies to compare."""

    default: str
    rules: list[RouteRule] = Field(default_factory=list)
    shadow: str | None = None


class CheckoutSettings(_Strict):
    """The estate's `[checkout]` table: how long a till waits for loyalty and what the hub may
    approve on its own while loyalty is down; every figure optional."""

    loyalty_budget_s: float | None = Field(default=None, gt=0)
    max_offline_points_per_sale: int | None = Field(default=None, ge=0)
    max_offline_points_per_member_per_day: int | None = Field(default=None, ge=0)
    reservation_ttl_minutes: float | None = Field(default=None, gt=0)
    business_timezone: str | None = None


class Estate(_Strict):
    """The retailer's systems, how the hub reaches them, and the estate's flow rules:
    `[customer_sync]` (identity and survivorship rules, docs/flows-customer-sync.md) and
    `[checkout]` (offline redemption policy, docs/checkout-loyalty.md)."""

    name: str = Field(min_length=1)
    systems: dict[str, SystemSettings] = Field(min_length=1)
    routing: dict[Role, Routing] = Field(default_factory=dict)
    customer_sync: dict[str, Any] = Field(default_factory=dict)
    checkout: CheckoutSettings = Field(default_factory=CheckoutSettings)

    @model_validator(mode="after")
    def _check(self) -> Estate:
        problems = Problems()
        for role, routing in self.routing.items():
            named: list[tuple[Location, str]] = [(("default",), routing.default)]
            named += [(("rules", i, "use"), r.use) for i, r in enumerate(routing.rules)]
            if routing.shadow is not None:
                named.append((("shadow",), routing.shadow))
            for where, system in named:
                location = ("routing", role.value, *where)
                settings = self.systems.get(system)
                if settings is None:
                    problems.add(location, f"no system named {system!r} in [systems]")
                elif settings.role is not role:
                    problems.add(location, f"{system!r} is a {settings.role.value}, not a {role}")
        problems.raise_if_any()
        return self

    def systems_in(self, role: Role) -> dict[str, SystemSettings]:
        """Every system playing `role`, by name."""
        return {name: s for name, s in self.systems.items() if s.role is role}


def parse_estate(text: str, source: str = "estate") -> Estate:
    """Read an estate from TOML text; InvalidDocument lists every fault with its path."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidDocument([Fault("$", f"{source} is not valid TOML: {error}")]) from None
    try:
        return Estate.model_validate(raw)
    except ValidationError as error:
        raise InvalidDocument(faults_from_validation_error(error)) from None


def load_estate(path: Path | None = None) -> Estate:
    """The estate at `path`, else `RETAILHUB_ESTATE`, else the sandbox estate shipped with us."""
    chosen = path or (Path(p) if (p := os.environ.get("RETAILHUB_ESTATE")) else None)
    if chosen is None:
        text = (resources.files("retailhub") / "estates" / SANDBOX_ESTATE).read_text()
        return parse_estate(text, "the sandbox estate")
    try:
        text = chosen.read_text()
    except OSError as error:
        raise InvalidDocument(
            [Fault("$", f"cannot read estate file {chosen}: {error.strerror or error}")]
        ) from None
    return parse_estate(text, str(chosen))


class MissingSecret(LookupError):
    """A credential the estate names but neither the environment nor the secrets file holds."""


def read_secrets_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments ignored) from a secrets file."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{path}:{number}: expected NAME=value")
        values[name.strip()] = value.strip()
    return values


def sandbox_secrets() -> dict[str, str]:
    """The sandbox emulators' well-known credentials (not secrets of anything real)."""
    text = (resources.files("retailhub") / "estates" / SANDBOX_SECRETS).read_text()
    return {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in text.splitlines())
        if name.strip() and not name.startswith("#")
    }


class Secrets:
    """Resolves credentials by environment variable name: environment first, then the file."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, file_values: Mapping[str, str] | None = None
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._file = dict(file_values or {})

    @classmethod
    def from_environment(cls, *, sandbox: bool = False) -> Secrets:
        """Secrets from the process environment plus `RETAILHUB_SECRETS_FILE`, and for the
        sandbox estate the emulators' well-known values underneath."""
        values = sandbox_secrets() if sandbox else {}
        if file := os.environ.get("RETAILHUB_SECRETS_FILE"):
            values.update(read_secrets_file(Path(file)))
        return cls(file_values=values)

    def get(self, system: str, settings: SystemSettings, name: str) -> str:
        """The credential `name` of `system`; MissingSecret names the variable to set."""
        variable = settings.secrets.get(name)
        if variable is None:
            raise MissingSecret(f"system {system!r} names no secret {name!r} in the estate file")
        value = self._environ.get(variable) or self._file.get(variable)
        if not value:
            raise MissingSecret(
                f"{system}: set {variable} in the environment or the secrets file ({name})"
            )
        return value
