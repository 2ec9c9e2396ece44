"""Generate the labelled secrets evaluation sets: ``dev.jsonl`` (for tuning) and ``test.jsonl`` (held out).

    python benchmarks/data/secrets/make_secrets_set.py

Rows: ``{"id", "kind", "format", "text", "secrets": [{"type", "start", "end"}]}``. ``kind`` is one of
prose_en, prose_de, log, config_env, config_yaml, config_json, config_ini, code; ``format`` is the file
extension a scanner would see (detect-secrets picks its parsers by it). Half of the rows of each kind
hold no secret but are full of look-alikes (hashes, UUIDs, placeholders, documentation keys, base64
images, long ids, public keys); positive rows carry look-alikes too.

The two sets share the value generators (:mod:`fakes`) but not the templates: ``templates_dev.py`` and
``templates_test.py`` were written separately (other phrasing, variable names and some other file
formats) and the test set uses another seed. Only the dev set was looked at while writing rules.
"""

from __future__ import annotations

import base64
import json
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import templates_dev  # noqa: E402
import templates_test  # noqa: E402
from fakes import HEX, Fakes  # noqa: E402

SEEDS = {"dev": 20240501, "test": 20240917}
ROWS_PER_KIND = {"dev": 110, "test": 110}  # half positive, half negative
SLOT = re.compile(r"⟨([A-Za-z0-9_:]+)⟩")

Piece = tuple[str, str | None]

#: secret type -> the Fakes method that makes a value of it
FACTORIES: dict[str, str] = {
    "AWS_ACCESS_KEY": "aws_access_key",
    "AWS_SECRET_KEY": "aws_secret_key",
    "GCP_API_KEY": "gcp_api_key",
    "GCP_OAUTH_CLIENT_SECRET": "gcp_oauth_client_secret",
    "GCP_OAUTH_TOKEN": "gcp_oauth_token",
    "AZURE_STORAGE_KEY": "azure_storage_key",
    "AZURE_SHARED_ACCESS_KEY": "azure_shared_access_key",
    "AZURE_CLIENT_SECRET": "azure_client_secret",
    "OPENAI_API_KEY": "openai_key",
    "ANTHROPIC_API_KEY": "anthropic_key",
    "HUGGINGFACE_TOKEN": "huggingface_token",
    "COHERE_API_KEY": "cohere_key",
    "MISTRAL_API_KEY": "mistral_key",
    "GROQ_API_KEY": "groq_key",
    "REPLICATE_API_TOKEN": "replicate_token",
    "GITHUB_TOKEN": "github_token",
    "GITHUB_FINE_GRAINED": "github_fine_grained_token",
    "GITLAB_TOKEN": "gitlab_token",
    "NPM_TOKEN": "npm_token",
    "PYPI_TOKEN": "pypi_token",
    "SLACK_TOKEN": "slack_token",
    "SLACK_WEBHOOK": "slack_webhook",
    "DISCORD_BOT_TOKEN": "discord_bot_token",
    "DISCORD_WEBHOOK": "discord_webhook",
    "TELEGRAM_BOT_TOKEN": "telegram_token",
    "TWILIO_API_KEY": "twilio_api_key",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "SENDGRID_API_KEY": "sendgrid_key",
    "MAILGUN_API_KEY": "mailgun_key",
    "STRIPE_KEY": "stripe_key",
    "STRIPE_WEBHOOK_SECRET": "stripe_webhook_secret",
    "PAYPAL_BRAINTREE_TOKEN": "braintree_token",
    "PAYPAL_CLIENT_SECRET": "paypal_client_secret",
    "JWT": "jwt",
}
#: slot names whose type label differs from the slot name
TYPE_OF_SLOT = {"GITHUB_FINE_GRAINED": "GITHUB_TOKEN"}


@dataclass
class Renderer:
    """Fills one template: secret slots (upper case) become labelled pieces, others plain text."""

    fakes: Fakes
    module: ModuleType
    language: str = "en"
    chosen: dict[str, str] = field(default_factory=dict)

    @property
    def rng(self) -> random.Random:
        return self.fakes.rng

    def render(self, template: str) -> list[Piece]:
        pieces: list[Piece] = []
        position = 0
        for match in SLOT.finditer(template):
            pieces.append((template[position : match.start()], None))
            pieces.extend(self.fill(match.group(1)))
            position = match.end()
        pieces.append((template[position:], None))
        return pieces

    # -- secret slots -------------------------------------------------------------------------------
    def secret(self, slot: str) -> Piece:
        if slot in FACTORIES:
            value = getattr(self.fakes, FACTORIES[slot])()
            return value, TYPE_OF_SLOT.get(slot, slot)
        special: dict[str, Callable[[], Piece]] = {
            "PASSWORD": lambda: (self.fakes.password(language=self.language), "GENERIC_SECRET"),
            "TOKEN": lambda: (self.fakes.generic_token(), "GENERIC_SECRET"),
            "URL_PASSWORD": lambda: (self.fakes.password(url_safe=True), "PASSWORD_IN_URL"),
            "CONN_PASSWORD": lambda: (self.fakes.password(url_safe=True), "CONNECTION_STRING"),
            "GCP_PRIVATE_KEY": lambda: (self.fakes.gcp_private_key_escaped(), "GCP_SERVICE_ACCOUNT_KEY"),
            "AZURE_SAS": lambda: (self.fakes.azure_sas_signature(), "AZURE_SAS_TOKEN"),
            "BEARER": lambda: (
                self.fakes.mixed(self.rng.choice([32, 40, 48]), HEX + "ABCDEFGHJKLMNPQRSTUVWXYZ"),
                "BEARER_TOKEN",
            ),
            "BASIC": lambda: (self._basic(), "BASIC_AUTH"),
            "PEM": lambda: (self.fakes.pem_private_key(self._pem_kind()), "PRIVATE_KEY"),
            "PEM_INDENT2": lambda: (self.fakes.pem_private_key(self._pem_kind(), "  "), "PRIVATE_KEY"),
            "PEM_INDENT4": lambda: (self.fakes.pem_private_key(self._pem_kind(), "    "), "PRIVATE_KEY"),
        }
        return special[slot]()

    def _pem_kind(self) -> str:
        return self.fakes.pick(["rsa", "rsa", "ec", "openssh", "pkcs8", "encrypted", "pgp"])

    def _basic(self) -> str:
        user = self.fakes.pick(["svc_billing", "collector", "admin", "etl", "portal"])
        return base64.b64encode(f"{user}:{self.fakes.password(url_safe=True)}".encode()).decode()

    def pair(self, style: str) -> list[Piece]:
        """A name/value assignment for a random secret type, written in ``style``."""
        names: dict[str, list[str]] = self.module.NAMES
        weights = [self.module.PAIR_WEIGHTS.get(kind, 1) for kind in names]
        secret_type = self.rng.choices(list(names), weights=weights)[0]
        name = self.rng.choice(names[secret_type])
        if secret_type == "GENERIC_PASSWORD":
            value: Piece = self.secret("PASSWORD")
        elif secret_type == "GENERIC_TOKEN":
            value = self.secret("TOKEN")
        else:
            value = self.secret(secret_type)
        label_en, label_de = self.module.PROSE_NAMES.get(secret_type, ("key", "Schlüssel"))
        template = self.rng.choice(self.module.PAIR_STYLES[style])
        before, after = template.split("{value}")
        return [
            (before.format(name=restyle(name, style), en=label_en, de=label_de), None),
            value,
            (after.format(name=restyle(name, style), en=label_en, de=label_de), None),
        ]

    def fill(self, slot: str) -> list[Piece]:
        if slot.startswith("PAIR:"):
            return self.pair(slot.split(":", 1)[1])
        if slot.startswith("LOOKALIKE:"):
            return self.render(self.rng.choice(self.module.LOOKALIKE_LINES[slot.split(":", 1)[1]]))
        if slot.isupper() or slot in FACTORIES:
            return [self.secret(slot)]
        return [(self.noise(slot), None)]

    # -- non-secret slots -----------------------------------------------------------------------------
    def noise(self, slot: str) -> str:
        f = self.fakes
        values: dict[str, Callable[[], str]] = {
            "uuid": f.uuid,
            "md5": lambda: f.hex_hash(128),
            "sha1": lambda: f.hex_hash(160),
            "sha256": lambda: f.hex_hash(256),
            "sha512": lambda: f.hex_hash(512),
            "hash": f.hex_hash,
            "git_sha": f.git_sha,
            "git_short": lambda: f.git_sha(short=True),
            "digest": f.docker_digest,
            "integrity": f.npm_integrity,
            "image": f.image_data_uri,
            "stripe_id": f.stripe_object_id,
            "twilio_sid": f.twilio_account_sid,
            "arn": f.aws_arn,
            "pod": f.pod_name,
            "iban": f.iban,
            "trace": f.trace_id,
            "bcrypt": f.bcrypt_hash,
            "ssh_pub": f.ssh_public_key,
            "cert": f.certificate,
            "pubkey": f.public_key,
            "order": f.order_id,
            "case": f.case_number,
            "hex32": lambda: f.chars(32, HEX),
            "pk_live": lambda: "pk_live_" + f.mixed(24),
            "ip": lambda: f"10.{f.rng.randint(0, 255)}.{f.rng.randint(0, 255)}.{f.rng.randint(1, 254)}",
            "port": lambda: str(f.rng.choice([5432, 3306, 6379, 27017, 5672, 1433, 8080, 443])),
            "num": lambda: str(f.rng.randint(1, 99999)),
            "amount": lambda: f"{f.rng.randint(20, 9000)},{f.rng.randint(0, 99):02d}",
            "date": lambda: f"2024-{f.rng.randint(1, 12):02d}-{f.rng.randint(1, 28):02d}",
            "time": lambda: (
                f"{f.rng.randint(0, 23):02d}:{f.rng.randint(0, 59):02d}:{f.rng.randint(0, 59):02d}"
            ),
            "ms": lambda: str(f.rng.randint(2, 900)),
            "placeholder": lambda: f.pick(self.module.PLACEHOLDERS),
            "doc_key": lambda: f.pick(self.module.DOC_KEYS),
        }
        if slot in values:
            return values[slot]()
        lists: dict[str, list[str]] = self.module.WORD_LISTS
        if slot in lists:
            return f.pick(lists[slot])
        raise KeyError(f"unknown slot {slot!r}")


def restyle(name: str, style: str) -> str:
    """Write an UPPER_SNAKE name the way ``style`` writes variables."""
    if style in {"env", "shell", "prose_en", "prose_de", "log", "pyenv"}:
        return name
    lower = name.lower()
    if style in {"json", "js", "ts", "go"} and "_" in lower:
        head, *rest = lower.split("_")
        return head + "".join(part.capitalize() for part in rest)
    return lower


def assemble(pieces: list[Piece]) -> tuple[str, list[dict[str, object]]]:
    text = ""
    secrets: list[dict[str, object]] = []
    for chunk, secret_type in pieces:
        if secret_type is not None:
            secrets.append({"type": secret_type, "start": len(text), "end": len(text) + len(chunk)})
        text += chunk
    return text, secrets


def build(split: str) -> list[dict[str, object]]:
    module = templates_dev if split == "dev" else templates_test
    rng = random.Random(SEEDS[split])
    fakes = Fakes(rng)
    rows: list[dict[str, object]] = []
    for kind, spec in module.KINDS.items():
        language = "de" if kind.endswith("_de") else "en"
        for index in range(ROWS_PER_KIND[split]):
            positive = index % 2 == 0
            template, file_format = rng.choice(spec["positive" if positive else "negative"])
            renderer = Renderer(fakes, module, language)
            text, secrets = assemble(renderer.render(template))
            if positive and not secrets:
                raise AssertionError(f"{split}/{kind}: positive template without a secret: {template[:60]!r}")
            if not positive and secrets:
                raise AssertionError(f"{split}/{kind}: negative template with a secret: {template[:60]!r}")
            rows.append(
                {
                    "id": f"{split}-{kind}-{index:04d}",
                    "kind": kind,
                    "format": file_format,
                    "text": text,
                    "secrets": secrets,
                }
            )
    return rows


def main() -> None:
    for split in ("dev", "test"):
        rows = build(split)
        path = HERE / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        positives = sum(1 for row in rows if row["secrets"])
        print(f"{path.name}: {len(rows)} rows, {positives} with secrets")


if __name__ == "__main__":
    main()
