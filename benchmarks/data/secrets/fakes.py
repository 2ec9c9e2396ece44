"""Fake but well-formed secrets and look-alikes for the secrets evaluation sets.

Every value is drawn from a seeded ``random.Random``: the same seed gives the same set. Secrets have the
shape of the real thing (prefixes, lengths, alphabets, GitHub/npm CRC32 checksums, JWT structure, PEM
framing, Discord's base64 user id) but none was ever issued by a provider.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from urllib.parse import quote

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
BASE64 = ALNUM + "+/"
HEX = "0123456789abcdef"
BASE32 = string.ascii_uppercase + "234567"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

WORDS_EN = [
    "summer",
    "winter",
    "dragon",
    "falcon",
    "harbor",
    "silver",
    "rocket",
    "garden",
    "copper",
    "meadow",
]
WORDS_DE = [
    "Sommer",
    "Winter",
    "Kanzlei",
    "Mahnung",
    "Forderung",
    "Akte",
    "Bergsee",
    "Sonne",
    "Hafen",
    "Tanne",
]


class Fakes:
    """Generators of fake secret values and of non-secret look-alikes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # -- helpers -------------------------------------------------------------------------------------
    def chars(self, count: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(count))

    def mixed(self, count: int, alphabet: str = ALNUM) -> str:
        """Random characters that use upper case, lower case and digits (as real keys nearly always do)."""
        while True:
            value = self.chars(count, alphabet)
            if (
                any(c.isupper() for c in value)
                and any(c.islower() for c in value)
                and any(c.isdigit() for c in value)
            ):
                return value

    def pick(self, options: list[str] | tuple[str, ...]) -> str:
        return self.rng.choice(list(options))

    def _base62(self, number: int) -> str:
        digits = ""
        while number:
            number, remainder = divmod(number, 62)
            digits = _BASE62[remainder] + digits
        return digits.rjust(6, "0")

    # -- cloud ---------------------------------------------------------------------------------------
    def aws_access_key(self) -> str:
        return self.pick(["AKIA", "AKIA", "AKIA", "ASIA"]) + self.chars(16, BASE32)

    def aws_secret_key(self) -> str:
        return self.mixed(40, BASE64)

    def gcp_api_key(self) -> str:
        return "AIza" + self.mixed(35, URLSAFE)

    def _pem_lines(self, count: int) -> list[str]:
        return [self.chars(64, BASE64) for _ in range(count)] + [
            self.chars(self.rng.randint(8, 60), BASE64) + "=="
        ]

    def gcp_private_key_escaped(self) -> str:
        lines = self._pem_lines(self.rng.randint(6, 14))
        return "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(lines) + "\\n-----END PRIVATE KEY-----"

    def gcp_oauth_client_secret(self) -> str:
        return "GOCSPX-" + self.mixed(28, URLSAFE)

    def gcp_oauth_token(self) -> str:
        return "ya29.a0" + self.mixed(self.rng.randint(90, 160), URLSAFE)

    def azure_storage_key(self) -> str:
        return self.mixed(86, BASE64) + "=="

    def azure_shared_access_key(self) -> str:
        return self.mixed(43, BASE64) + "="

    def azure_sas_signature(self) -> str:
        return quote(base64.b64encode(self.rng.randbytes(32)).decode(), safe="")

    def azure_client_secret(self) -> str:
        return self.chars(3) + str(self.rng.randint(0, 9)) + "Q~" + self.mixed(34, ALNUM + "_~.-")

    # -- AI providers ----------------------------------------------------------------------------------
    def openai_key(self) -> str:
        style = self.rng.random()
        if style < 0.6:
            return "sk-proj-" + self.mixed(self.rng.choice([48, 64, 132, 156]), URLSAFE)
        if style < 0.8:
            return "sk-" + self.mixed(20) + "T3BlbkFJ" + self.mixed(20)
        return "sk-svcacct-" + self.mixed(self.rng.choice([64, 132]), URLSAFE)

    def anthropic_key(self) -> str:
        return "sk-ant-api03-" + self.mixed(93, URLSAFE) + "AA"

    def huggingface_token(self) -> str:
        return "hf_" + self.mixed(34, string.ascii_letters + "0123456789")

    def cohere_key(self) -> str:
        return self.mixed(40)

    def mistral_key(self) -> str:
        return self.mixed(32)

    def groq_key(self) -> str:
        return "gsk_" + self.mixed(52)

    def replicate_token(self) -> str:
        return "r8_" + self.mixed(37)

    # -- code hosting ----------------------------------------------------------------------------------
    def github_token(self) -> str:
        body = self.mixed(30)
        prefix = self.pick(["ghp_", "ghp_", "ghp_", "gho_", "ghs_", "ghu_"])
        return prefix + body + self._base62(zlib.crc32(body.encode()))

    def github_fine_grained_token(self) -> str:
        return "github_pat_" + self.mixed(22) + "_" + self.mixed(59)

    def gitlab_token(self) -> str:
        return self.pick(["glpat-", "glpat-", "gldt-", "glrt-"]) + self.mixed(20, URLSAFE)

    def npm_token(self) -> str:
        body = self.mixed(30)
        return "npm_" + body + self._base62(zlib.crc32(body.encode()))

    def pypi_token(self) -> str:
        return "pypi-AgEIcHlwaS5vcmc" + self.mixed(self.rng.randint(120, 180), URLSAFE)

    # -- messaging -------------------------------------------------------------------------------------
    def slack_token(self) -> str:
        if self.rng.random() < 0.6:
            return f"xoxb-{self.chars(12, string.digits)}-{self.chars(13, string.digits)}-{self.mixed(24)}"
        return (
            f"xoxp-{self.chars(12, string.digits)}-{self.chars(12, string.digits)}-"
            f"{self.chars(13, string.digits)}-{self.chars(32, HEX)}"
        )

    def slack_webhook(self) -> str:
        upper = string.ascii_uppercase + string.digits
        workspace, channel = self.chars(8, upper), self.chars(10, upper)
        return f"https://hooks.slack.com/services/T{workspace}/B{channel}/{self.mixed(24)}"

    def discord_bot_token(self) -> str:
        user_id = str(self.rng.randrange(10**17, 10**18 * 5))
        first = base64.b64encode(user_id.encode()).decode().rstrip("=")
        return f"{first}.{self.mixed(6, URLSAFE)}.{self.mixed(self.rng.choice([27, 38]), URLSAFE)}"

    def discord_webhook(self) -> str:
        return f"https://discord.com/api/webhooks/{self.chars(18, string.digits)}/{self.mixed(68, URLSAFE)}"

    def telegram_token(self) -> str:
        return f"{self.rng.randint(10**8, 8 * 10**9)}:AA{self.mixed(33, URLSAFE)}"

    def twilio_api_key(self) -> str:
        return "SK" + self.chars(32, HEX)

    def twilio_auth_token(self) -> str:
        return self.chars(32, HEX)

    def sendgrid_key(self) -> str:
        return f"SG.{self.mixed(22, URLSAFE)}.{self.mixed(43, URLSAFE)}"

    def mailgun_key(self) -> str:
        return "key-" + self.chars(32, HEX)

    # -- payment ---------------------------------------------------------------------------------------
    def stripe_key(self) -> str:
        return self.pick(["sk_live_", "sk_live_", "rk_live_"]) + self.mixed(self.rng.choice([24, 99]))

    def stripe_webhook_secret(self) -> str:
        return "whsec_" + self.mixed(32)

    def braintree_token(self) -> str:
        merchant = self.chars(16, string.ascii_lowercase + string.digits)
        return f"access_token$production${merchant}${self.chars(32, HEX)}"

    def paypal_client_secret(self) -> str:
        return "E" + self.mixed(79, URLSAFE)

    # -- credential formats ----------------------------------------------------------------------------
    def jwt(self) -> str:
        def encode(obj: dict[str, object]) -> str:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        header = {"alg": self.pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        if self.rng.random() < 0.3:
            header["kid"] = self.chars(16, HEX)
        payload: dict[str, object] = {
            "sub": str(self.rng.randint(1000, 999999)),
            "iat": self.rng.randint(1_700_000_000, 1_760_000_000),
            "exp": self.rng.randint(1_760_000_000, 1_790_000_000),
        }
        if self.rng.random() < 0.5:
            payload["tenant"] = self.pick(["acme-inkasso", "nordcredit", "mahnwerk", "debtco"])
        if self.rng.random() < 0.4:
            payload["scope"] = self.pick(["cases:read", "cases:write payments:read", "admin"])
        signature_length = 43 if header["alg"] == "HS256" else self.pick(["86", "342"])
        return f"{encode(header)}.{encode(payload)}.{self.mixed(int(signature_length), URLSAFE)}"

    def pem_private_key(self, kind: str, indent: str = "") -> str:
        label = {
            "rsa": "RSA PRIVATE KEY",
            "ec": "EC PRIVATE KEY",
            "openssh": "OPENSSH PRIVATE KEY",
            "pkcs8": "PRIVATE KEY",
            "encrypted": "ENCRYPTED PRIVATE KEY",
            "pgp": "PGP PRIVATE KEY BLOCK",
        }[kind]
        count = {"ec": 3, "openssh": 6}.get(kind, self.rng.randint(8, 18))
        lines = self._pem_lines(count)
        if kind == "pgp":
            lines = ["Version: GnuPG v2", "", *lines, "=" + self.chars(4, BASE64)]
        body = f"\n{indent}".join(lines)
        return f"-----BEGIN {label}-----\n{indent}{body}\n{indent}-----END {label}-----"

    def password(self, *, url_safe: bool = False, language: str = "en") -> str:
        """A human-made or generated password (no quotes, spaces, ``;``, ``,`` or ``#``)."""
        symbols = "!-_*+" if url_safe else "!@%^*-_+=?"
        style = self.rng.random()
        if style < 0.4:
            word = self.pick(WORDS_DE if language == "de" else WORDS_EN)
            word = word.capitalize() if self.rng.random() < 0.7 else word
            return word + str(self.rng.randint(10, 2099)) + self.pick(list(symbols[:5]))
        if style < 0.8:
            while True:
                value = self.mixed(self.rng.randint(12, 20), ALNUM + symbols)
                if value[-1] not in ".":
                    return value
        return self.mixed(self.rng.randint(16, 28))

    def generic_token(self) -> str:
        style = self.rng.random()
        if style < 0.5:
            return self.mixed(self.rng.choice([24, 32, 40, 48]))
        if style < 0.75:
            return self.chars(self.rng.choice([32, 40, 64]), HEX)
        return self.mixed(self.rng.choice([32, 44]), URLSAFE)

    # -- look-alikes (not secrets) ---------------------------------------------------------------------
    def hex_hash(self, bits: int | None = None) -> str:
        bits = bits or self.rng.choice([128, 160, 256, 512])
        return self.chars(bits // 4, HEX)

    def git_sha(self, short: bool = False) -> str:
        return self.chars(7 if short else 40, HEX)

    def uuid(self) -> str:
        h = self.chars(32, HEX)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{self.pick(['8', '9', 'a', 'b'])}{h[17:20]}-{h[20:32]}"

    def docker_digest(self) -> str:
        return "sha256:" + self.chars(64, HEX)

    def npm_integrity(self) -> str:
        return "sha512-" + base64.b64encode(self.rng.randbytes(64)).decode()

    def image_data_uri(self) -> str:
        header = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAA")
        payload = header + self.rng.randbytes(self.rng.randint(60, 300))
        return "data:image/png;base64," + base64.b64encode(payload).decode()

    def stripe_object_id(self) -> str:
        return self.pick(["cus_", "pi_", "ch_", "pm_", "in_", "sub_"]) + self.mixed(self.rng.choice([14, 24]))

    def twilio_account_sid(self) -> str:
        return "AC" + self.chars(32, HEX)

    def aws_arn(self) -> str:
        account = self.chars(12, string.digits)
        role = self.pick(["collector", "etl-runner", "ledger-api"])
        return f"arn:aws:iam::{account}:role/{role}"

    def pod_name(self) -> str:
        deployment = self.pick(["ledger-api", "dunning-worker", "portal-web"])
        return f"{deployment}-{self.chars(9, HEX)}-{self.chars(5, string.ascii_lowercase + string.digits)}"

    def iban(self) -> str:
        bank = self.chars(8, string.digits)
        account = self.chars(10, string.digits)
        bban = bank + account
        numeric = int(bban + "131400")  # "DE" -> 13 14, then "00"
        check = 98 - numeric % 97
        return f"DE{check:02d}{bban}"

    def trace_id(self) -> str:
        return f"00-{self.chars(32, HEX)}-{self.chars(16, HEX)}-01"

    def bcrypt_hash(self) -> str:
        return "$2b$12$" + self.chars(53, ALNUM + "./")

    def ssh_public_key(self) -> str:
        return (
            f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{self.chars(43, BASE64)} ops@bastion-{self.chars(4, HEX)}"
        )

    def certificate(self) -> str:
        lines = self._pem_lines(self.rng.randint(6, 12))
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----"

    def public_key(self) -> str:
        lines = self._pem_lines(self.rng.randint(3, 6))
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----"

    def order_id(self) -> str:
        return f"ORD-{self.rng.randint(2019, 2025)}-{self.chars(8, string.digits)}"

    def case_number(self) -> str:
        return f"AZ-{self.rng.randint(2019, 2025)}/{self.chars(6, string.digits)}"
