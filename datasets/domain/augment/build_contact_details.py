"""Build ``contact_details.jsonl``: domain messages with fake contact details added (training augmentation).

Real customer messages carry names, e-mail addresses, phone numbers and IBANs; our hand-written corpus rarely
does, while attack texts often carry addresses (exfiltration targets). Without this a classifier learns that
an address means attack. This script takes train-split rows (by the loader's hash split, so no test text leaks
into training), benign and attacks alike, and adds one contact line with fake, generated values.
Deterministic.

Usage: ``python datasets/domain/augment/build_contact_details.py``. Licence CC0-1.0 like the rest of
``datasets/domain``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from bastion.detect.normalize import normalize
from bastion.evaluation.datasets import PLAIN_REQUEST_TECHNIQUES, split_of

HERE = Path(__file__).resolve().parent
DOMAIN = HERE.parent
FIRST = [
    "Anna",
    "Jonas",
    "Ayşe",
    "Mehmet",
    "Katarzyna",
    "Luca",
    "Olga",
    "Thi",
    "Sven",
    "Fatima",
    "Emily",
    "Tom",
]
LAST = ["Becker", "Yılmaz", "Nowak", "Rossi", "Ivanova", "Nguyen", "Schulz", "Haddad", "Walsh", "Meier"]
MAIL_HOSTS = ["gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.com", "posteo.de", "example.org"]
LINES = {
    "de": [
        "Rückfragen an {mail}.",
        "Sie erreichen mich unter {phone} oder {mail}.",
        "Mit freundlichen Grüßen\n{name}\n{mail}",
        "Meine IBAN: {iban}",
        "{name}, Tel. {phone}",
        "Bitte antworten Sie an {mail}, nicht an meine alte Adresse.",
    ],
    "en": [
        "You can reach me at {mail}.",
        "Kind regards,\n{name}\n{phone}",
        "My email is {mail} and my phone is {phone}.",
        "IBAN: {iban}",
        "Please reply to {mail}.",
        "{name} ({mail})",
    ],
}


def _iban(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(18))
    check = 98 - int(digits + "131400") % 97  # DE = 13 14, then 00
    raw = f"DE{check:02d}{digits}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def main() -> None:
    rng = random.Random(20261130)
    rows = []
    for lang in ("de", "en"):
        for path in sorted((DOMAIN / lang).glob("*.jsonl")):
            if path.stem.startswith("documents"):
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row.get("technique") in PLAIN_REQUEST_TECHNIQUES:
                    continue
                if split_of(normalize(row["text"]).text) != "train" or rng.random() > 0.25:
                    continue
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                local = name.lower().replace(" ", rng.choice([".", "_", ""]))
                values = {
                    "name": name,
                    "mail": f"{local}@{rng.choice(MAIL_HOSTS)}",
                    "phone": f"0{rng.randint(151, 179)} {rng.randint(1000000, 9999999)}",
                    "iban": _iban(rng),
                }
                contact = rng.choice(LINES[lang]).format(**values)
                text = f"{row['text']}\n{contact}" if rng.random() < 0.8 else f"{contact}\n{row['text']}"
                rows.append(
                    {
                        "id": f"{row['id']}-contact",
                        "text": text,
                        "label": row["label"],
                        "lang": lang,
                        "category": "contact_details_augmentation",
                        "source": "bastion-domain",
                    }
                )
    out = HERE / "contact_details.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
