"""The estate file: systems, policies and routes, with every fault named by its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailhub.canonical.errors import InvalidDocument
from retailhub.estate import (
    MissingSecret,
    Role,
    Secrets,
    load_estate,
    parse_estate,
    read_secrets_file,
)

TWO_ERPS = """
name = "after the acquisition"
[systems.odoo_nl]
product = "odoo"
base_url = "https://erp.example.nl/"
secrets = { api_key = "ODOO_NL_KEY" }
[systems.odoo_be]
product = "odoo"
base_url = "https://erp.example.be"
resilience = { timeout_s = 1.5, breaker_threshold = 2 }
[routing.erp]
default = "odoo_nl"
rules = [{ when = { location = ["BRU01", "ANT02"] }, use = "odoo_be" }]
shadow = "odoo_be"
"""


def faults(text: str) -> dict[str, str]:
    with pytest.raises(InvalidDocument) as caught:
        parse_estate(text)
    return {f.path: f.reason for f in caught.value.faults}


def test_the_sandbox_estate_names_one_system_per_role() -> None:
    estate = load_estate()
    assert estate.name == "sandbox"
    assert {role: list(estate.systems_in(role)) for role in Role} == {
        Role.ERP: ["odoo"],
        Role.CRM: ["hubspot"],
        Role.LOYALTY: ["openloyalty"],
        Role.COMMERCE: ["shopify"],
        Role.POS: ["pos"],
    }
    assert estate.systems["openloyalty"].resilience.policy().timeout_s == 0.5


def test_an_estate_with_two_erps_routes_and_shadows() -> None:
    estate = parse_estate(TWO_ERPS)
    assert estate.systems["odoo_nl"].base_url == "https://erp.example.nl"
    assert estate.routing[Role.ERP].rules[0].when == {"location": ["BRU01", "ANT02"]}
    policy = estate.systems["odoo_be"].resilience.policy()
    assert (policy.timeout_s, policy.breaker_threshold, policy.max_attempts) == (1.5, 2, 3)


def test_routes_must_name_systems_of_their_role() -> None:
    text = TWO_ERPS.replace('use = "odoo_be"', 'use = "odoo_fr"') + (
        '[systems.crm]\nproduct = "hubspot"\nbase_url = "https://api.hubapi.com"\n'
    )
    text = text.replace('shadow = "odoo_be"', 'shadow = "crm"')
    found = faults(text)
    assert found["$.routing.erp.rules[0].use"] == "no system named 'odoo_fr' in [systems]"
    assert found["$.routing.erp.shadow"] == "'crm' is a crm, not a erp"


def test_every_field_fault_is_reported_with_its_path() -> None:
    found = faults(
        'name = "x"\n[systems.a]\nproduct = "sap"\nbase_url = "ftp://x"\n'
        'secrets = { key = "lower-case" }\nresilience = { timeout_s = 0, bogus = 1 }\n'
    )
    assert set(found) == {
        "$.systems.a.product",
        "$.systems.a.base_url",
        "$.systems.a.secrets.key",
        "$.systems.a.resilience.timeout_s",
        "$.systems.a.resilience.bogus",
    }
    assert found["$.systems.a.base_url"] == "'ftp://x' is not an http:// or https:// URL"


def test_malformed_toml_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    assert "not valid TOML" in faults("name = \n")["$"]
    with pytest.raises(InvalidDocument, match="cannot read estate file"):
        load_estate(tmp_path / "missing.toml")


def test_secrets_come_from_the_environment_before_the_file(tmp_path: Path) -> None:
    estate = parse_estate(TWO_ERPS)
    settings = estate.systems["odoo_nl"]
    from_file = Secrets(environ={}, file_values={"ODOO_NL_KEY": "from-file"})
    assert from_file.get("odoo_nl", settings, "api_key") == "from-file"
    from_env = Secrets(environ={"ODOO_NL_KEY": "from-env"}, file_values={"ODOO_NL_KEY": "x"})
    assert from_env.get("odoo_nl", settings, "api_key") == "from-env"
    with pytest.raises(MissingSecret, match="set ODOO_NL_KEY"):
        Secrets(environ={}).get("odoo_nl", settings, "api_key")
    with pytest.raises(MissingSecret, match="names no secret 'password'"):
        from_env.get("odoo_nl", settings, "password")


def test_secrets_files_are_name_value_lines(tmp_path: Path) -> None:
    good = tmp_path / "secrets.env"
    good.write_text("# comment\n\nODOO_NL_KEY = abc=def\n")
    assert read_secrets_file(good) == {"ODOO_NL_KEY": "abc=def"}
    bad = tmp_path / "bad.env"
    bad.write_text("ODOO_NL_KEY\n")
    with pytest.raises(ValueError, match=r"bad\.env:1: expected NAME=value"):
        read_secrets_file(bad)


def test_the_sandbox_credentials_resolve_without_any_environment() -> None:
    estate = load_estate()
    secrets = Secrets.from_environment(sandbox=True)
    for name, settings in estate.systems.items():
        for credential in settings.secrets:
            assert secrets.get(name, settings, credential)
