"""Checks that confirm or reject what a secret rule's pattern narrowed down.

A rule's regular expression finds *candidates*; the code here decides whether a candidate is a secret.
Three layers run in order:

1. look-alike suppression shared by every rule (:class:`LookAlikes`): published documentation keys,
   placeholders (``<your-key>``, ``${VAR}``, ``{{ secret }}``, ``****``), sequential strings;
2. the rule's minimum Shannon entropy (bits per character of the value);
3. the rule's named validator from :data:`VALIDATORS` (checksums, decoding, context, name heuristics).

A validator answers with a :class:`Check`: ``REJECT`` drops the candidate, ``WEAK`` keeps it with a low
score (flagged only under the strict policy), ``ACCEPT`` keeps it at the rule's confidence and
``CONFIRMED`` means a checksum or structure proved the format (score at least 0.99).

Nothing here logs or raises with the candidate value.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "VALIDATORS",
    "Candidate",
    "Check",
    "LookAlikes",
    "Validator",
    "character_classes",
    "combine_patterns",
    "is_iban",
    "is_sequential",
    "is_uuid",
    "name_parts",
    "shannon_entropy",
]

#: German compounds that end like this name a password (``Datenbankpasswort``, ``Einmalkennwort``)
_COMPOUND_PASSWORD_ENDINGS = ("passwort", "kennwort", "password")

#: values longer than this are not compared against placeholder markers (long random bodies would
#: contain short marker words by chance)
PLACEHOLDER_CHECK_MAX_CHARS = 256


class Check(Enum):
    """A validator's answer about one candidate."""

    REJECT = "reject"
    WEAK = "weak"
    ACCEPT = "accept"
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rule match narrowed to the secret value ``text[start:end]``.

    ``quoted`` tells whether the value sat between quotes (a literal, rather than code or prose).
    """

    text: str
    start: int
    end: int
    match: re.Match[str]
    quoted: bool = False

    @property
    def value(self) -> str:
        return self.text[self.start : self.end]

    def group(self, name: str) -> str | None:
        """A named group of the rule's match, or ``None`` when the pattern has no such group."""
        if name not in self.match.re.groupindex:
            return None
        return self.match.group(name)


@dataclass(frozen=True, slots=True)
class LookAlikes:
    """Lists that tell placeholders, documentation keys and metadata names from real secrets."""

    documentation_examples: frozenset[str]
    placeholder_markers: tuple[str, ...]
    placeholder_values: frozenset[str]
    placeholder_pattern: re.Pattern[str]
    secret_name_words: frozenset[str]
    password_name_words: frozenset[str]
    key_words: frozenset[str]
    key_qualifiers: frozenset[str]
    deny_name_words: frozenset[str]

    def is_documentation_example(self, value: str) -> bool:
        return value in self.documentation_examples

    def is_placeholder(self, value: str) -> bool:
        """True for template variables, masked values, marker words (``example``, ``xxxx``) and the like."""
        if len(value) > PLACEHOLDER_CHECK_MAX_CHARS:
            return False
        folded = value.casefold()
        if folded in self.placeholder_values:
            return True
        if any(marker in folded for marker in self.placeholder_markers):
            return True
        return self.placeholder_pattern.fullmatch(value) is not None

    def names_a_secret(self, parts: list[str]) -> bool:
        """True when a variable name (split into lower-case parts) names a secret, not metadata about one."""
        if any(part in self.deny_name_words for part in parts):
            return False
        for index, part in enumerate(parts):
            if part in self.secret_name_words or part.endswith(_COMPOUND_PASSWORD_ENDINGS):
                return True
            if part in self.key_words and index > 0 and parts[index - 1] in self.key_qualifiers:
                return True
        return False

    def names_a_password(self, parts: list[str]) -> bool:
        """True for password-like names, German compounds included (``Einmalpasswort``, ``Adminkennwort``)."""
        return any(
            part in self.password_name_words or part.endswith(_COMPOUND_PASSWORD_ENDINGS) for part in parts
        )


#: a validator gets the candidate and the look-alike lists and answers with a :class:`Check`
Validator = Callable[[Candidate, LookAlikes], Check]


# -- value statistics ------------------------------------------------------------------------------


def shannon_entropy(value: str) -> float:
    """Shannon entropy of the character distribution of ``value`` in bits per character."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(count / length * math.log2(count / length) for count in Counter(value).values())


def character_classes(value: str) -> int:
    """How many of lower-case letters, upper-case letters, digits and other characters ``value`` uses."""
    lower = upper = digit = other = 0
    for char in value:
        if char.islower():
            lower = 1
        elif char.isupper():
            upper = 1
        elif char.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm")
_SEQUENCE_STEPS = frozenset(sequence[i : i + 2] for sequence in _SEQUENCES for i in range(len(sequence) - 1))


def is_sequential(value: str) -> bool:
    """True when most neighbouring characters follow each other in the alphabet, digits or a keyboard row.

    Only the first 64 characters are looked at: made-up sequences are short.
    """
    folded = value[:64].casefold()
    if len(folded) < 8:
        return False
    steps = sum(1 for index in range(len(folded) - 1) if folded[index : index + 2] in _SEQUENCE_STEPS)
    return steps >= 0.7 * (len(folded) - 1)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def is_iban(value: str) -> bool:
    """True for an IBAN (spaces allowed) whose ISO 7064 mod-97 check digits are right."""
    compact = value.replace(" ", "").upper()
    if _IBAN_SHAPE.fullmatch(compact) is None:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


_CAMEL_BOUNDARY = re.compile(
    r"(?<=[a-zäöüß0-9])(?=[A-ZÄÖÜ])|(?<=[A-ZÄÖÜ])(?=[A-ZÄÖÜ][a-zäöüß])|(?<=[^\W\d_])(?=\d)"
)
_NAME_SEPARATOR = re.compile(r"[\W_]+")


def name_parts(name: str) -> list[str]:
    """Split a variable name into lower-case words: ``"X-API-Key"`` -> ``["x", "api", "key"]``."""
    spaced = _CAMEL_BOUNDARY.sub(" ", name)
    return [part.casefold() for part in _NAME_SEPARATOR.split(spaced) if part]


# -- validators --------------------------------------------------------------------------------------


def _check_mixed_case(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    value = candidate.value
    has_upper = any(char.isupper() for char in value)
    has_lower = any(char.islower() for char in value)
    return Check.ACCEPT if has_upper and has_lower else Check.REJECT


def _decode_base64(value: str, *, url_safe: bool = False) -> bytes | None:
    padded = value + "=" * (-len(value) % 4)
    try:
        if url_safe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _check_base64(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    return Check.ACCEPT if _decode_base64(candidate.value) is not None else Check.REJECT


_SAS_CONTEXT = re.compile(r"(?i)\bsv=\d{4}-\d{2}-\d{2}")


def _check_azure_sas(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """A SAS signature comes with a storage-service version (``sv=2022-11-02``) in the same URL."""
    window = candidate.text[max(0, candidate.start - 600) : candidate.start]
    return Check.ACCEPT if _SAS_CONTEXT.search(window) else Check.REJECT


def _check_openai(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    if "T3BlbkFJ" in candidate.value:  # base64 of "OpenAI", embedded in user keys
        return Check.CONFIRMED
    return _check_mixed_case(candidate, look_alikes)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62_value(digits: str) -> int:
    number = 0
    for char in digits:
        number = number * 62 + _BASE62.index(char)
    return number


def _check_base62_crc32(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """GitHub and npm tokens end in a base62 CRC32 of their random part; a match proves the format."""
    value = candidate.value
    prefix_end = value.find("_") + 1
    random_part, checksum = value[prefix_end:-6], value[-6:]
    if zlib.crc32(random_part.encode("ascii", "replace")) == _base62_value(checksum):
        return Check.CONFIRMED
    return _check_mixed_case(candidate, look_alikes)


def _check_discord_token(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """The first segment of a Discord bot token is the base64 of the bot's numeric user id."""
    decoded = _decode_base64(candidate.value.split(".", 1)[0], url_safe=True)
    if decoded is not None and decoded.isdigit() and 15 <= len(decoded) <= 21:
        return Check.CONFIRMED
    return Check.REJECT


def _check_stripe(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    return Check.WEAK if "_test_" in candidate.value else Check.ACCEPT


def _decode_json_object(segment: str) -> dict[str, object] | None:
    decoded = _decode_base64(segment, url_safe=True)
    if decoded is None:
        return None
    try:
        value = json.loads(decoded)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _check_jwt(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """A JWT's header and payload are base64url JSON objects and the header names an ``alg``."""
    header, payload, _signature = candidate.value.split(".", 2)
    decoded_header = _decode_json_object(header)
    if decoded_header is None or "alg" not in decoded_header:
        return Check.REJECT
    return Check.ACCEPT if _decode_json_object(payload) is not None else Check.REJECT


_EXAMPLE_HOSTS = re.compile(
    r"(?i)(?:[\w-]+\.)*example\.(?:com|org|net)\b|(?:host|hostname|your[\w.-]*|domain\.tld)(?![\w.-])"
)


def _check_url_password(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    value = candidate.value
    if value.casefold() in {"pass", "pwd", "pw", "passwd"} or look_alikes.is_placeholder(value):
        return Check.REJECT
    host = candidate.text[candidate.end + 1 : candidate.end + 80]
    if _EXAMPLE_HOSTS.match(host):
        return Check.REJECT
    user = candidate.group("user") or ""
    if value == user or len(value) < 4:
        return Check.WEAK
    return Check.ACCEPT


_CONNECTION_CONTEXT = re.compile(
    r"(?i)jdbc:|odbc|(?:server|data source|host|hostname|uid|user id|user|username|database|initial catalog"
    r"|dsn|provider|port|address|addr|driver)\s{0,3}="
)


def _check_connection_string(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """``Password=`` counts inside a connection string on the same line (``Server=``, ``jdbc:``)."""
    window = candidate.text[max(0, candidate.start - 400) : candidate.start]
    window = window[window.rfind("\n") + 1 :]
    if not _CONNECTION_CONTEXT.search(window):
        return Check.REJECT
    value = candidate.value.strip("{}")
    if len(value) < 4:
        return Check.REJECT
    return Check.ACCEPT if len(value) >= 6 else Check.WEAK


def _check_opaque_token(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    value = candidate.value
    if is_uuid(value) or character_classes(value) < 2:
        return Check.REJECT
    return Check.ACCEPT


def _check_basic_auth(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """Basic credentials are the base64 of ``user:password`` with a real (non-placeholder) password."""
    decoded = _decode_base64(candidate.value)
    if decoded is None:
        return Check.REJECT
    try:
        plain = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return Check.REJECT
    user, separator, password = plain.partition(":")
    if not separator or not user or not password or not plain.isprintable():
        return Check.REJECT
    if look_alikes.is_placeholder(password) or password.casefold() in {"pass", "pwd", "pw"}:
        return Check.REJECT
    return Check.ACCEPT


# The assignment (generic) validator --------------------------------------------------------------

_NAME_CHARACTERS = re.compile(r"[\w.\-]{1,40}\Z")
_CODE_REFERENCE = re.compile(r"[A-Za-z_]+(?:\.[A-Za-z_]+)+(?:\(\))?")
_ENVIRONMENT_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_FILE_NAME = re.compile(
    r"(?i).+\.(?:json|pem|key|crt|cer|txt|ya?ml|env|ini|cfg|conf|p12|pfx|jks|keystore|gpg|asc)"
)
_PATH = re.compile(r"(?:/|\./|\.\./|~/|\\\\|[A-Za-z]:\\)")
_WORD = re.compile(r"[A-ZÄÖÜ]?[a-zäöüß]+")
_JOINED_WORDS = re.compile(r"[A-Za-zÄÖÜäöüß]+(?:[-_. ][A-Za-zÄÖÜäöüß]+)+|(?:[A-ZÄÖÜ][a-zäöüß]+){2,}")
_NUMBER = re.compile(r"[\d.,:+-]+")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z_.\-]{2,60}=")
_PASSWORD_HASH = re.compile(r"\$(?:2[abxy]?|argon2(?:id|i|d)|[156]|scrypt|pbkdf2[\w-]*)\$.{8,200}")


def _assignment_name(candidate: Candidate) -> str:
    """The variable name: the rule's ``name`` group plus identifier characters right before the match."""
    text, start = candidate.text, candidate.match.start()
    name_group = candidate.group("name") or ""
    if name_group and candidate.match.start("name") == start:
        before = _NAME_CHARACTERS.search(text, max(0, start - 40), start)
        return (before.group(0) if before else "") + name_group
    return name_group


def _is_reference(value: str, quoted: bool) -> bool:
    """True for code, paths, URLs and environment-variable names instead of a literal secret."""
    if "://" in value or value.startswith("--") or _PATH.match(value) or _FILE_NAME.fullmatch(value):
        return True
    if _CODE_REFERENCE.fullmatch(value) or _ENVIRONMENT_NAME.fullmatch(value):
        return True
    return not quoted and any(char in value for char in "()[]{}")


def _check_assignment(candidate: Candidate, look_alikes: LookAlikes) -> Check:
    """Decide whether the value assigned to a secret-ish name is a literal secret.

    Password-like names (``password``, ``Passwort``) accept human-chosen values with some structure;
    token-like names (``api_key``, ``client_secret``) want long random-looking values.
    """
    parts = name_parts(_assignment_name(candidate))
    if not look_alikes.names_a_secret(parts):
        return Check.REJECT
    value = candidate.value
    if look_alikes.is_placeholder(value) or _is_reference(value, candidate.quoted):
        return Check.REJECT
    if is_uuid(value) or is_iban(value) or _PASSWORD_HASH.fullmatch(value):
        return Check.REJECT
    if value.count(" ") >= 2 or _NUMBER.fullmatch(value):
        return Check.REJECT
    if not candidate.quoted and _ASSIGNMENT.match(value):
        return Check.REJECT
    core = value.strip(".,;:")
    bare = core.strip("!?")
    if _WORD.fullmatch(bare) or _JOINED_WORDS.fullmatch(bare) or is_sequential(core):
        return Check.REJECT
    classes = character_classes(core)
    entropy = shannon_entropy(core)
    if (candidate.group("separator") or "=").isspace():
        # "password Xy7#..." in prose: no separator, so the value itself must look made up
        strong = classes >= 3 or (len(core) >= 16 and classes >= 2 and any(c.isdigit() for c in core))
        if not strong or not look_alikes.names_a_password(parts):
            return Check.REJECT
    if look_alikes.names_a_password(parts):
        if len(core) < 6 or classes < 2:
            return Check.REJECT
        if classes >= 3 or (len(core) >= 10 and entropy >= 3.0):
            return Check.ACCEPT
        return Check.WEAK
    if len(core) < 12 or classes < 2 or entropy < 3.0:
        return Check.REJECT
    return Check.ACCEPT if entropy >= 3.4 or len(core) >= 20 else Check.WEAK


VALIDATORS: Mapping[str, Validator] = MappingProxyType(
    {
        "mixed_case": _check_mixed_case,
        "base64": _check_base64,
        "azure_sas": _check_azure_sas,
        "openai": _check_openai,
        "base62_crc32": _check_base62_crc32,
        "discord_token": _check_discord_token,
        "stripe": _check_stripe,
        "jwt": _check_jwt,
        "url_password": _check_url_password,
        "connection_string": _check_connection_string,
        "opaque_token": _check_opaque_token,
        "basic_auth": _check_basic_auth,
        "assignment": _check_assignment,
    }
)


def combine_patterns(patterns: Iterable[str]) -> re.Pattern[str]:
    """One pattern that fully matches when any of ``patterns`` does."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.DOTALL)
