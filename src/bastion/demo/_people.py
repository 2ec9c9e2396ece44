"""Synthetic people: debtors with names, addresses, contact and bank details, and the agency's agents.

Everything is drawn from the ``random.Random`` the caller passes, so the same generator state gives the same
people. Names come from ``people.yaml``; e-mail addresses use invented providers under ``.example``.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta

from bastion.demo._banking import make_iban
from bastion.demo._catalog import Catalog, Region
from bastion.demo._records import Address, AgentRecord, DebtorRecord

__all__ = ["ascii_fold", "make_agent", "make_debtor"]

_FOLD = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ł": "l", "ı": "i", "đ": "dj", "'": "", " ": "", "-": ""}
)
_ENGLISH_ONLY_COUNTRIES = frozenset({"IE", "NL"})
_AGENT_ORIGINS = {
    "de": ("german", "german", "german", "turkish", "polish"),
    "en": ("english", "irish", "dutch"),
}


def ascii_fold(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: ``"Şahin"`` → ``"sahin"``, ``"Müller"`` → ``"mueller"``."""
    folded = text.lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if char.isascii() and char.isalnum())


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pick_weighted(rng: random.Random, choices: dict[str, int]) -> str:
    names = sorted(name for name, weight in choices.items() if weight > 0)
    return rng.choices(names, weights=[choices[name] for name in names])[0]


def _surname(rng: random.Random, catalog: Catalog, origin_name: str, female: bool) -> str:
    people = catalog.people
    token = rng.choice(_words(people.origins[origin_name].surnames))
    surname = people.surname_spelling.get(token, token)
    if female:
        for masculine, feminine in people.feminine_endings.get(origin_name, ()):
            if surname.endswith(masculine):
                return surname[: -len(masculine)] + feminine
    return surname


def _street(rng: random.Random, catalog: Catalog, country: str) -> str:
    street = rng.choice(tuple(part.strip() for part in catalog.people.streets[country].split("|")))
    number = str(rng.randint(1, 140))
    if country in ("DE", "AT") and rng.random() < 0.12:
        number += rng.choice("abc")
    if country == "IE":
        return f"{number} {street}"
    if country == "AT" and rng.random() < 0.5:
        number += f"/{rng.randint(1, 24)}"  # Viennese door number
    return f"{street} {number}"


def _phone(rng: random.Random, country: str) -> str:
    def digits(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    if country == "AT":
        return f"+43 {rng.choice(('650', '660', '664', '676', '699'))} {digits(7)}"
    if country == "NL":
        return f"+31 6 {digits(8)}"
    if country == "IE":
        return f"+353 8{rng.choice('35679')} {digits(3)} {digits(4)}"
    return (
        f"+49 1{rng.choice(('51', '52', '57', '60', '62', '70', '71', '72', '76', '77', '79'))} {digits(8)}"
    )


def _email(rng: random.Random, first: str, last: str, birth_year: int, providers: tuple[str, ...]) -> str:
    first_ascii, last_ascii = ascii_fold(first), ascii_fold(last)
    local = rng.choice(
        (
            f"{first_ascii}.{last_ascii}",
            f"{first_ascii}{last_ascii}{birth_year % 100:02d}",
            f"{first_ascii[0]}.{last_ascii}",
            f"{last_ascii}.{first_ascii}{rng.randint(1, 99)}",
        )
    )
    return f"{local}@{rng.choice(providers)}"


def make_debtor(
    rng: random.Random, catalog: Catalog, debtor_id: str, tenant_id: str, today: date
) -> DebtorRecord:
    """One debtor of ``tenant_id`` living in one of the tenant's regions (``people.yaml``)."""
    people = catalog.people
    regions: tuple[Region, ...] = people.regions[tenant_id]
    region = rng.choices(regions, weights=[region.weight for region in regions])[0]
    country = region.country
    origin_name = _pick_weighted(rng, {name: o.weight.get(country, 0) for name, o in people.origins.items()})
    origin = people.origins[origin_name]
    female = rng.random() < 0.5
    first = rng.choice(_words(origin.female if female else origin.male))
    last = _surname(rng, catalog, origin_name, female)
    salutation = "" if rng.random() < 0.05 else ("ms" if female else "mr")
    birth_date = today - timedelta(days=rng.randint(19 * 365, 80 * 365))
    if country in _ENGLISH_ONLY_COUNTRIES and origin_name != "german":
        language = "en"
    else:
        language = "en" if rng.random() < origin.english_share else "de"
    iban_country = country
    if origin.home_iban is not None and rng.random() < origin.home_iban.share:
        iban_country = origin.home_iban.country
    return DebtorRecord(
        debtor_id=debtor_id,
        tenant_id=tenant_id,
        first_name=first,
        last_name=last,
        salutation=salutation,
        address=Address(
            street=_street(rng, catalog, country),
            postcode=rng.choice(region.postcode_list()),
            city=region.city,
            country=country,
        ),
        birth_date=birth_date,
        email=_email(rng, first, last, birth_date.year, _words(people.email_providers)),
        phone=_phone(rng, country),
        iban=make_iban(rng, iban_country),
        language=language,
    )


def make_agent(
    rng: random.Random, catalog: Catalog, agent_id: str, tenant_id: str, language: str, team_lead: bool
) -> AgentRecord:
    """One agent of the agency working on ``tenant_id``'s cases, with a staff e-mail address."""
    origin_name = rng.choice(_AGENT_ORIGINS["de" if language == "de" else "en"])
    origin = catalog.people.origins[origin_name]
    female = rng.random() < 0.5
    first = rng.choice(_words(origin.female if female else origin.male))
    last = _surname(rng, catalog, origin_name, female)
    email = f"{ascii_fold(first)}.{ascii_fold(last)}@{catalog.agency.staff_email_domain}"
    return AgentRecord(
        agent_id=agent_id,
        tenant_id=tenant_id,
        name=f"{first} {last}",
        email=email,
        language=language,
        team_lead=team_lead,
    )
