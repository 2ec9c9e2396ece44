"""Build the PII evaluation sets (``dev.jsonl``, ``test.jsonl``) from hand-written marked-up sources.

The sources (``source_dev.txt``, ``source_test.txt``) hold one text per record::

    ### de-001 de
    Sehr geehrte Frau [[PERSON:Ayşe Yılmaz]], Ihre IBAN [[IBAN:{{iban:DE}}]] ...

``[[TYPE:value]]`` marks a labelled entity; the script removes the brackets and records the exact
character offsets of ``value`` in the final text. ``{{generator:args}}`` is replaced by a fake value
with a correct (or, for the ``bad_`` generators, a deliberately wrong) checksum, so that no real account,
card or tax number is ever written down. A fixed seed per set keeps the output stable.

Generators: ``iban:CC[:compact]``, ``bad_iban:CC[:compact]``, ``card:BRAND[:space|dash|compact]``,
``bad_card:BRAND[:...]``, ``taxid[:spaced]``, ``bad_taxid[:spaced]``. Brands: visa, mc, mc2, amex,
discover, jcb.

Run ``python benchmarks/data/pii/make_pii_sets.py`` to rewrite both JSONL files.

``faker_dev.jsonl`` and ``faker_test.jsonl`` come from :func:`build_faker`: the templates below are ours,
every value (names from a dozen locales, streets, cities, phone numbers, e-mail, IBAN, BIC, cards, IPs,
dates of birth) comes from the Faker package, so they test values nobody here chose. Faker is only
needed to regenerate them (``pip install faker``); the script skips them when it is missing.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: BBAN shape per country: a string of ``n`` (digit) and ``a`` (upper-case letter) and ``c`` (either)
BBAN_SHAPES = {
    "DE": "n" * 18,
    "AT": "n" * 16,
    "CH": "n" * 17,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "NL": "aaaa" + "n" * 10,
    "GB": "aaaa" + "n" * 14,
    "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
    "PL": "n" * 24,
    "TR": "n" * 5 + "0" + "c" * 16,
    "BE": "n" * 12,
    "LU": "nnn" + "c" * 13,
    "IE": "aaaa" + "n" * 14,
}

CARD_PREFIXES = {
    "visa": (["4"], 16),
    "mc": (["51", "52", "53", "54", "55"], 16),
    "mc2": (["2221", "2300", "2500", "2720"], 16),
    "amex": (["34", "37"], 15),
    "discover": (["6011", "65"], 16),
    "jcb": (["3528", "3530", "3589"], 16),
}

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _iban_check_digits(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    number = int("".join(str(int(char, 36)) for char in rearranged))
    return f"{98 - number % 97:02d}"


def _group(value: str, size: int = 4) -> str:
    return " ".join(value[i : i + size] for i in range(0, len(value), size))


def make_iban(rng: random.Random, country: str, compact: bool, valid: bool) -> str:
    shape = BBAN_SHAPES[country]
    bban = "".join(
        rng.choice("0123456789")
        if kind == "n"
        else rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if kind == "a"
        else rng.choice(_ALNUM)
        if kind == "c"
        else kind
        for kind in shape
    )
    check = _iban_check_digits(country, bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 50)) % 97 + 2:02d}"
        if check == _iban_check_digits(country, bban):
            check = f"{(int(check) + 1) % 97 + 2:02d}"
    iban = country + check + bban
    return iban if compact else _group(iban)


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def make_card(rng: random.Random, brand: str, style: str, valid: bool) -> str:
    prefixes, length = CARD_PREFIXES[brand]
    body = rng.choice(prefixes)
    while len(body) < length - 1:
        body += rng.choice("0123456789")
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    if style == "compact":
        return number
    separator = "-" if style == "dash" else " "
    if length == 15:
        return separator.join((number[:4], number[4:10], number[10:]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


def _tax_id_check_digit(first_ten: str) -> int:
    product = 10
    for char in first_ten:
        total = (int(char) + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def make_tax_id(rng: random.Random, spaced: bool, valid: bool) -> str:
    while True:
        digits = [rng.choice("0123456789") for _ in range(10)]
        if digits[0] == "0":
            continue
        counts = Counter(digits)
        repeated = [d for d, c in counts.items() if c > 1]
        if len(repeated) != 1 or counts[repeated[0]] > 3:
            continue
        if counts[repeated[0]] == 3 and repeated[0] * 3 in "".join(digits):
            continue
        break
    first_ten = "".join(digits)
    check = _tax_id_check_digit(first_ten)
    if not valid:
        check = (check + rng.randint(1, 9)) % 10
    number = first_ten + str(check)
    return f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:]}" if spaced else number


def generate(rng: random.Random, spec: str) -> str:
    name, *args = spec.split(":")
    if name in ("iban", "bad_iban"):
        return make_iban(rng, args[0], compact="compact" in args, valid=name == "iban")
    if name in ("card", "bad_card"):
        style = args[1] if len(args) > 1 else "space"
        return make_card(rng, args[0], style, valid=name == "card")
    if name in ("taxid", "bad_taxid"):
        return make_tax_id(rng, spaced="spaced" in args, valid=name == "taxid")
    raise ValueError(f"unknown generator {spec!r}")


_GENERATOR = re.compile(r"\{\{([a-z_]+(?::[A-Za-z0-9]+)*)\}\}")
_ENTITY = re.compile(r"\[\[([A-Z_]+):(.*?)\]\]", re.DOTALL)
_HEADER = re.compile(r"^### (\S+) (de|en)\s*$")


def parse_source(path: Path) -> list[tuple[str, str, str]]:
    """``(id, lang, marked-up text)`` per record of a source file."""
    records: list[tuple[str, str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        header = _HEADER.match(line)
        if header:
            records.append((header.group(1), header.group(2), []))
        elif records:
            records[-1][2].append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"{path.name}: text before the first record header: {line!r}")
    return [(rid, lang, "\n".join(lines).strip("\n")) for rid, lang, lines in records]


def render(marked: str, rng: random.Random) -> tuple[str, list[dict[str, object]]]:
    """Replace generators, strip entity marks and return the text with exact entity offsets."""
    expanded = _GENERATOR.sub(lambda match: generate(rng, match.group(1)), marked)
    pieces: list[str] = []
    entities: list[dict[str, object]] = []
    position = 0
    length = 0
    for match in _ENTITY.finditer(expanded):
        before = expanded[position : match.start()]
        pieces.append(before)
        length += len(before)
        value = match.group(2)
        entities.append({"type": match.group(1), "start": length, "end": length + len(value)})
        pieces.append(value)
        length += len(value)
        position = match.end()
    pieces.append(expanded[position:])
    text = "".join(pieces)
    if "[[" in text or "]]" in text or "{{" in text:
        raise ValueError(f"unbalanced mark-up in {marked[:60]!r}")
    return text, entities


def build(name: str, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    source = HERE / f"source_{name}.txt"
    rows = []
    seen: set[str] = set()
    counts: Counter[str] = Counter()
    for record_id, lang, marked in parse_source(source):
        if record_id in seen:
            raise ValueError(f"duplicate id {record_id}")
        seen.add(record_id)
        text, entities = render(marked, rng)
        for entity in entities:
            counts[f"{lang}:{entity['type']}"] += 1
        counts[f"{lang}:texts"] += 1
        rows.append({"id": record_id, "lang": lang, "text": text, "entities": entities})
    with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return dict(sorted(counts.items()))


FAKER_TEMPLATES = {
    "de": [
        "Sehr geehrte Frau {LAST},\n\nIhre Zahlung ist eingegangen. "
        "Bitte überweisen Sie die Restforderung auf {IBAN}.\n\nMit freundlichen Grüßen\n{NAME}",
        "Hallo, ich bin {NAME} und wohne in der {ADDRESS}. Sie erreichen mich unter {PHONE}.",
        "Kundennotiz: Schuldner {NAME}, geb. {DOB}, bittet um Ratenzahlung. Rückruf: {PHONE}",
        "Bitte buchen Sie die 85,00 EUR von meiner Karte {CARD} ab. Danke, {FIRST}",
        "Neue Anschrift von Herrn {LAST}: {ADDRESS}. E-Mail: {EMAIL}",
        "Kontoinhaber: {NAME}\nIBAN: {IBAN}\nBIC: {BIC}",
        "Fehlgeschlagener Login für {EMAIL} von {IP} um 02:14 Uhr.",
        "{NAME}\n{ADDRESS_LINES}\nTel. {PHONE}\n\nWiderspruch gegen die Forderung vom 12.06.2024",
        "Meine Tochter {NAME} kümmert sich um die Post. Ihre Nummer ist {PHONE}.",
        "Geburtsdatum: {DOB}\nName: {NAME}\nE-Mail: {EMAIL}",
        "Der Zugriff erfolgte von {IP6}. Kundin {NAME} wurde per Brief informiert.",
        "Guten Tag Frau {LAST}, wir haben Sie unter {PHONE} leider nicht erreicht. Bitte melden Sie sich.",
        "Zahlung von 120,00 EUR von {IBAN} erhalten, Auftraggeber {NAME}, Rate 4 von 12.",
        "{NAME} hat am 03.05.2024 angerufen und die neue Adresse {ADDRESS} angegeben.",
        "Rechnung 2024-00{NUMBER} über 349,90 EUR, fällig am 15.08.2024. Bei Fragen: {EMAIL}",
    ],
    "en": [
        "Dear Ms {LAST},\n\nWe have received your payment. "
        "Please pay the balance to {IBAN}.\n\nKind regards,\n{NAME}",
        "Hi, I'm {NAME} and I live at {ADDRESS}. You can reach me on {PHONE}.",
        "Customer note: debtor {NAME}, DOB {DOB}, asked for a payment plan. Call back: {PHONE}",
        "Please take the $85.00 from my card {CARD}. Thanks, {FIRST}",
        "New address for Mr {LAST}: {ADDRESS}. Email: {EMAIL}",
        "Account holder: {NAME}\nIBAN: {IBAN}\nBIC: {BIC}",
        "Failed login for {EMAIL} from {IP} at 02:14.",
        "{NAME}\n{ADDRESS_LINES}\nTel: {PHONE}\n\nRe: dispute of the debt dated 12 June 2024",
        "My daughter {NAME} deals with my post. Her number is {PHONE}.",
        "Date of birth: {DOB}\nName: {NAME}\nEmail: {EMAIL}",
        "The access came from {IP6}. The customer, {NAME}, was informed by letter.",
        "Hello Mrs {LAST}, we couldn't reach you on {PHONE}. Please get in touch.",
        "Payment of £120.00 received from {IBAN}, payer {NAME}, instalment 4 of 12.",
        "{NAME} called on 3 May 2024 and gave the new address {ADDRESS}.",
        "Invoice 2024-00{NUMBER} for $349.90, due on August 15, 2024. Questions: {EMAIL}",
    ],
}
FAKER_NAME_LOCALES = {
    "de": ["de_DE"] * 4 + ["tr_TR", "tr_TR", "pl_PL", "pl_PL", "it_IT", "hr_HR", "fr_FR", "cs_CZ"],
    "en": ["en_GB"] * 3 + ["en_US"] * 3 + ["en_IN", "es_ES", "nl_NL", "pl_PL", "it_IT", "fr_FR"],
}
GERMAN_MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]


def _faker_values(
    fakers: dict[str, object], rng: random.Random, lang: str
) -> dict[str, tuple[str | None, str]]:
    """One fake value per placeholder: ``{name: (entity type or None, value)}``."""
    fake = fakers["de_DE" if lang == "de" else rng.choice(["en_GB", "en_US"])]
    person = fakers[rng.choice(FAKER_NAME_LOCALES[lang])]
    first, last = person.first_name(), person.last_name()  # type: ignore[attr-defined]
    if lang == "de":
        street = f"{fake.street_name()} {fake.building_number()}"  # type: ignore[attr-defined]
        locality = f"{fake.postcode()} {fake.city()}"  # type: ignore[attr-defined]
    elif fake is fakers["en_US"]:
        street = fake.street_address()  # type: ignore[attr-defined]
        locality = f"{fake.city()}, {fake.state_abbr()} {fake.zipcode()}"  # type: ignore[attr-defined]
    else:
        street = f"{fake.building_number()} {fake.street_name()}"  # type: ignore[attr-defined]
        locality = f"{fake.city()} {fake.postcode()}"  # type: ignore[attr-defined]
    address = rng.choice([street, f"{street}, {locality}"])
    birth = fake.date_of_birth(minimum_age=18, maximum_age=90)  # type: ignore[attr-defined]
    if lang == "de":
        dob = rng.choice(
            [birth.strftime("%d.%m.%Y"), f"{birth.day}. {GERMAN_MONTHS[birth.month - 1]} {birth.year}"]
        )
    else:
        dob = rng.choice(
            [birth.strftime("%d/%m/%Y"), birth.strftime("%B %d, %Y"), birth.strftime("%Y-%m-%d")]
        )
    card = fake.credit_card_number()  # type: ignore[attr-defined]
    if rng.random() < 0.5 and len(card) == 16:
        card = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    iban = fake.iban()  # type: ignore[attr-defined]
    if rng.random() < 0.5:
        iban = _group(iban)
    email = fake.free_email() if rng.random() < 0.5 else fake.email()  # type: ignore[attr-defined]
    return {
        "NAME": ("PERSON", f"{first} {last}"),
        "FIRST": ("PERSON", first),
        "LAST": ("PERSON", last),
        "ADDRESS": ("ADDRESS", address),
        "ADDRESS_LINES": ("ADDRESS", f"{street}\n{locality}"),
        "PHONE": ("PHONE", fake.phone_number()),  # type: ignore[attr-defined]
        "EMAIL": ("EMAIL", email),
        "IBAN": ("IBAN", iban),
        "BIC": ("BIC", fake.swift(length=rng.choice([8, 11]))),  # type: ignore[attr-defined]
        "CARD": ("CREDIT_CARD", card),
        "DOB": ("DATE_OF_BIRTH", dob),
        "IP": ("IP_ADDRESS", fake.ipv4_public()),  # type: ignore[attr-defined]
        "IP6": ("IP_ADDRESS", fake.ipv6()),  # type: ignore[attr-defined]
        "NUMBER": (None, str(rng.randint(1000, 9999))),
    }


def build_faker(name: str, seed: int, per_language: int = 60) -> dict[str, int] | None:
    """Write ``faker_<name>.jsonl``: our templates, Faker's values. ``None`` when Faker is missing."""
    try:
        from faker import Faker
    except ImportError:
        return None
    locales = {"de_DE", "en_GB", "en_US"} | {loc for group in FAKER_NAME_LOCALES.values() for loc in group}
    fakers: dict[str, object] = {}
    for offset, locale in enumerate(sorted(locales)):
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(seed + offset)  # type: ignore[attr-defined]
    rng = random.Random(seed)
    placeholder = re.compile(r"\{([A-Z_0-9]+)\}")
    rows = []
    counts: Counter[str] = Counter()
    for lang in ("de", "en"):
        templates = FAKER_TEMPLATES[lang]
        for index in range(per_language):
            values = _faker_values(fakers, rng, lang)

            def mark(match: re.Match[str], values: dict[str, tuple[str | None, str]] = values) -> str:
                entity_type, value = values[match.group(1)]
                return value if entity_type is None else f"[[{entity_type}:{value}]]"

            marked = placeholder.sub(mark, templates[index % len(templates)])
            text, entities = render(marked, rng)
            rows.append(
                {"id": f"{lang}-f{name[0]}{index + 1:03d}", "lang": lang, "text": text, "entities": entities}
            )
            counts[f"{lang}:texts"] += 1
            for entity in entities:
                counts[f"{lang}:{entity['type']}"] += 1
    with (HERE / f"faker_{name}.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return dict(sorted(counts.items()))


def main() -> int:
    for name, seed in (("test", 20240611), ("dev", 20240612)):
        counts = build(name, seed)
        print(name, json.dumps(counts, ensure_ascii=False))
    for name, seed in (("dev", 101), ("test", 202)):
        faker_counts = build_faker(name, seed)
        if faker_counts is None:
            print("faker is not installed: faker_dev.jsonl and faker_test.jsonl were left as they are")
            break
        print(f"faker_{name}", json.dumps(faker_counts, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
