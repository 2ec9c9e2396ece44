"""Reading the demo's package data (``bastion/data/demo``) into validated, immutable models, once.

A missing or malformed file raises :class:`ConfigError` naming the file and the offending fields.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Annotated, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bastion.core.errors import ConfigError

__all__ = [
    "Agency",
    "Catalog",
    "Origin",
    "Region",
    "TenantSpec",
    "catalog",
    "read_text",
]

_PACKAGE = "bastion.data.demo"
_ID = re.compile(r"^t-[a-z0-9-]+$")

Model = TypeVar("Model", bound=BaseModel)
Cents = Annotated[int, Field(ge=0, le=10_000_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A text in English and German."""

    en: str = Field(min_length=1)
    de: str = Field(min_length=1)


class FeeSpec(_Strict):
    code: str = Field(pattern=r"^[a-z_]+$")
    amount_cents: Cents
    en: str
    de: str


class BankSpec(_Strict):
    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    code: str
    bic: str = Field(pattern=r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")


class PolicySpec(_Strict):
    max_discount_pct: int = Field(ge=0, le=100)
    min_monthly_installment_cents: Cents
    max_installments: int = Field(ge=1, le=120)
    internal_rules: tuple[Text, ...] = Field(min_length=1)


class ProductSpec(_Strict):
    en: str
    de: str
    min_cents: Cents
    max_cents: Cents


class TenantSpec(_Strict):
    """One client company as written in ``tenants.yaml`` (before the seed adds IBAN and canary)."""

    id: str
    name: str
    sector: str
    language: str = Field(pattern=r"^(en|de)$")
    email_domain: str
    support_mailbox: str
    phone: str
    phone_hours: Text
    bank: BankSpec
    reference_prefix: str
    reference_format: str
    payment_reference: str
    payment_term_days: int = Field(ge=1, le=90)
    final_demand_days: int = Field(ge=1, le=90)
    fees: tuple[FeeSpec, ...]
    policy: PolicySpec
    products: tuple[ProductSpec, ...] = Field(min_length=1)
    items: tuple[Text, ...] = ()
    texts: dict[str, Text]
    #: other contact data the tenant publishes on purpose (a visitor address), beyond phone, e-mail and bank
    published: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _tenant_id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("tenant ids look like 't-name'")
        return value


class Agency(_Strict):
    name: str
    street: str
    postcode: str
    city: str
    commercial_register: str
    managing_director: str
    privacy_email: str
    staff_email_domain: str


class TenantsFile(_Strict):
    version: int
    agency: Agency
    tenants: tuple[TenantSpec, ...] = Field(min_length=1)


class HomeIban(_Strict):
    country: str
    share: float = Field(ge=0, le=1)


class Origin(_Strict):
    """A group of names and how often debtors living in each country carry them."""

    weight: dict[str, int]
    english_share: float = Field(ge=0, le=1)
    home_iban: HomeIban | None = None
    female: str
    male: str
    surnames: str


class Region(_Strict):
    country: str
    city: str
    postcodes: str
    weight: int = Field(gt=0)

    def postcode_list(self) -> tuple[str, ...]:
        separator = "|" if "|" in self.postcodes else None
        return tuple(code.strip() for code in self.postcodes.split(separator) if code.strip())


class PeopleFile(_Strict):
    version: int
    email_providers: str
    origins: dict[str, Origin]
    surname_spelling: dict[str, str]
    feminine_endings: dict[str, tuple[tuple[str, str], ...]]
    regions: dict[str, tuple[Region, ...]]
    streets: dict[str, str]


class NotesFile(_Strict):
    version: int
    notes: dict[str, tuple[Text, ...]]


class Catalog(_Strict):
    """Everything the generator reads from package data."""

    agency: Agency
    tenants: tuple[TenantSpec, ...]
    people: PeopleFile
    notes: dict[str, tuple[Text, ...]]


def read_text(name: str) -> str:
    """The UTF-8 text of ``bastion/data/demo/<name>``; :class:`ConfigError` if it cannot be read."""
    try:
        return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read demo data file {name}: {type(error).__name__}") from error


def _read_yaml(name: str, model: type[Model]) -> Model:
    try:
        return model.model_validate(yaml.safe_load(read_text(name)))
    except yaml.YAMLError as error:
        raise ConfigError(f"demo data file {name} is not valid YAML") from error
    except ValidationError as error:
        fields = ", ".join(".".join(str(part) for part in item["loc"]) for item in error.errors()[:5])
        raise ConfigError(f"invalid demo data file {name}: {fields}") from error


@cache
def catalog() -> Catalog:
    """The validated package data (read once per process)."""
    tenants = _read_yaml("tenants.yaml", TenantsFile)
    people = _read_yaml("people.yaml", PeopleFile)
    notes = _read_yaml("notes.yaml", NotesFile)
    missing = [spec.id for spec in tenants.tenants if spec.id not in people.regions]
    if missing:
        raise ConfigError(f"invalid demo data file people.yaml: no regions for {', '.join(missing)}")
    return Catalog(agency=tenants.agency, tenants=tenants.tenants, people=people, notes=notes.notes)
