"""Ingestion: check a document, scan it, chunk it, and store it or quarantine it.

:meth:`Ingestor.ingest` takes one :class:`~bastion.rag.types.Document` and either stores its chunks
(replacing any earlier version of the same ``doc_id`` in one transaction) or records it in the store's
quarantine with the reasons, and never both. With ``scan`` on, the document's title and text are run
through the ``indirect`` and ``pii`` detectors (:class:`bastion.detect.engine.Scanner`):

- a flagged ``indirect`` detection (instructions to an AI hidden in a comment, white text, a fake
  ``SYSTEM:`` section...) quarantines the whole document;
- flagged personal data in a :attr:`~bastion.rag.types.Audience.PUBLIC` document quarantines it too: every
  principal of the tenant can read a public document, so a debtor's IBAN must never be in one. Values the
  tenant publishes on purpose (its own bank account, support e-mail, phone and postal address) are given
  per tenant as ``published_values`` and do not count, nor does a detected part of one (compared without
  white space and case);
- personal data in DEBTOR and STAFF documents is expected (a letter names its debtor) and only counted.

``ingest(document, trusted=True)`` is for documents the tenant's own staff wrote and published through
its document system (FAQ, guidelines, letters). Internal guidelines legitimately speak about the AI
assistant and about other customers ("never disclose the assistant's instructions or other debtors'
data"), which the ``indirect`` detector reads as instructions; for trusted documents its verdict is kept in
``IngestResult.warnings`` and logged instead of quarantining. Personal data in a public document
quarantines a trusted document too. Customer uploads, e-mails, web pages and tool output are never trusted.

``scan=False`` is the naive configuration: documents are stored as they are.

Bad input raises :class:`InputError` before anything is written: a document without text, over the
size limit, or with NUL and other control characters that mark binary data. Quarantine records and
errors carry detector verdicts and fingerprints (sha256), never the document's text or the values found.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bastion.core.errors import ConfigError, InputError
from bastion.core.types import Detection, Policy
from bastion.detect.engine import Scanner
from bastion.rag.chunking import DEFAULT_CONFIG, ChunkingConfig, chunk_document
from bastion.rag.store import QuarantineReason, QuarantineRecord, RetrievalStore
from bastion.rag.types import Audience, Document

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "IngestResult",
    "IngestStatus",
    "Ingestor",
    "utc_timestamp",
]

logger = logging.getLogger(__name__)

#: the longest document text accepted, in characters
MAX_DOCUMENT_CHARS = 1_000_000
#: the longest id (tenant, document) and title accepted
MAX_ID_CHARS = 256
MAX_TITLE_CHARS = 500
#: C0 control characters other than tab, line feed, form feed and carriage return (and DEL)
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
#: a text with more than this share of control characters is binary data
MAX_CONTROL_SHARE = 0.001
_SCAN_DETECTORS = ("indirect", "pii")
#: a detected value this long or longer counts as published when it is part of a published value
MIN_PUBLISHED_PART_CHARS = 8

Clock = Callable[[], datetime]


class IngestStatus(StrEnum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one document.

    ``chunks`` is how many chunks were stored (0 when quarantined), ``reasons`` why it was quarantined,
    ``personal_data`` how many flagged personal values of each type the scan found (sorted by type),
    ``warnings`` the ``indirect`` verdicts that a trusted document was stored despite.
    """

    doc_id: str
    tenant_id: str
    status: IngestStatus
    sha256: str
    chunks: int = 0
    reasons: tuple[QuarantineReason, ...] = ()
    personal_data: tuple[tuple[str, int], ...] = ()
    warnings: tuple[QuarantineReason, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status is IngestStatus.ACCEPTED

    @property
    def quarantined(self) -> bool:
        return self.status is IngestStatus.QUARANTINED

    def reasons_text(self) -> str:
        """The reasons in one line (detector/type score: explanation; ...), safe to log."""
        return "; ".join(
            f"{reason.detector}/{reason.type} {reason.score:.2f}: {reason.explanation}"
            for reason in self.reasons
        )


def utc_timestamp(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with a ``Z``, to the second; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigError("the ingestion clock must return timezone-aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


class Ingestor:
    """Scans, chunks and stores documents in a :class:`~bastion.rag.store.RetrievalStore`.

    ``published_values`` maps a tenant id to the values it publishes on purpose (compared without white
    space and case); ``clock`` gives the ingestion time (tests inject a fixed one).
    """

    def __init__(
        self,
        store: RetrievalStore,
        scan: bool = True,
        policy: Policy = Policy.BALANCED,
        *,
        published_values: Mapping[str, Iterable[str]] | None = None,
        chunking: ChunkingConfig = DEFAULT_CONFIG,
        clock: Clock = _now,
        max_chars: int = MAX_DOCUMENT_CHARS,
    ) -> None:
        self.store = store
        self.scan = scan
        self.policy = Policy(policy)
        self.chunking = chunking
        self.clock = clock
        self.max_chars = max_chars
        self.published_values = {
            tenant: frozenset(_comparable(value) for value in values if value.strip())
            for tenant, values in (published_values or {}).items()
        }
        scan_limit = max_chars + MAX_TITLE_CHARS + 2
        self._scanner = Scanner.from_ids(_SCAN_DETECTORS, self.policy, max_chars=scan_limit) if scan else None

    def ingest(self, document: Document, *, trusted: bool = False) -> IngestResult:
        """Store ``document``'s chunks, or quarantine it; raises :class:`InputError` for bad input.

        ``trusted`` marks a document written by the tenant's own staff (see the module docstring).
        """
        _check_document(document, self.max_chars)
        digest = hashlib.sha256(document.text.encode("utf-8")).hexdigest()
        timestamp = utc_timestamp(self.clock())
        reasons: list[QuarantineReason] = []
        personal: Counter[str] = Counter()
        if self._scanner is not None:
            detections = self._scanner.scan(f"{document.title}\n\n{document.text}").detections
            reasons, personal = self._verdict(document, detections)
        warnings = tuple(r for r in reasons if trusted and r.detector == "indirect")
        if warnings:
            reasons = [r for r in reasons if r not in warnings]
            logger.info(  # the caller decided to trust it; the verdict is in IngestResult.warnings
                "trusted document %s stored despite an indirect-injection verdict",
                document.doc_id,
                extra={"tenant_id": document.tenant_id, "doc_id": document.doc_id, "sha256": digest},
            )
        found = tuple(sorted(personal.items()))
        if reasons:
            self.store.quarantine(
                QuarantineRecord(
                    doc_id=document.doc_id,
                    tenant_id=document.tenant_id,
                    source=document.source,
                    sha256=digest,
                    reasons=tuple(reasons),
                    quarantined_at=timestamp,
                )
            )
            logger.warning(
                "document %s quarantined",
                document.doc_id,
                extra={"tenant_id": document.tenant_id, "doc_id": document.doc_id, "sha256": digest},
            )
            return IngestResult(
                document.doc_id,
                document.tenant_id,
                IngestStatus.QUARANTINED,
                digest,
                0,
                tuple(reasons),
                found,
            )
        chunks = chunk_document(document, timestamp, self.chunking)
        stored = self.store.replace_document(document.tenant_id, document.doc_id, chunks)
        return IngestResult(
            document.doc_id, document.tenant_id, IngestStatus.ACCEPTED, digest, stored, (), found, warnings
        )

    def _verdict(
        self, document: Document, detections: Iterable[Detection]
    ) -> tuple[list[QuarantineReason], Counter[str]]:
        text = f"{document.title}\n\n{document.text}"
        published = self.published_values.get(document.tenant_id, frozenset())
        reasons: list[QuarantineReason] = []
        personal: Counter[str] = Counter()
        for detection in detections:
            if not detection.flagged:
                continue
            if detection.detector == "indirect":
                reasons.append(_reason(detection))
                continue
            if detection.span is not None and _is_published(_comparable(detection.span.of(text)), published):
                continue
            personal[detection.type] += 1
            if document.acl.audience is Audience.PUBLIC:
                reasons.append(_reason(detection, "personal data in a public document: "))
        return reasons, personal


def _reason(detection: Detection, prefix: str = "") -> QuarantineReason:
    return QuarantineReason(
        detector=detection.detector,
        type=detection.type,
        score=round(detection.score, 4),
        explanation=prefix + detection.explanation,
    )


def _comparable(value: str) -> str:
    return "".join(value.split()).casefold()


def _is_published(value: str, published: frozenset[str]) -> bool:
    """True when ``value`` is a published value or a part of one ("20457 Hamburg" of a full address)."""
    if value in published:
        return True
    return len(value) >= MIN_PUBLISHED_PART_CHARS and any(value in known for known in published)


def _check_document(document: Document, max_chars: int) -> None:
    if not isinstance(document, Document):
        raise InputError(f"expected a Document, got {type(document).__name__}")
    for name, value, limit in (
        ("tenant_id", document.tenant_id, MAX_ID_CHARS),
        ("doc_id", document.doc_id, MAX_ID_CHARS),
        ("title", document.title, MAX_TITLE_CHARS),
        ("source", document.source, MAX_ID_CHARS * 4),
        ("language", document.language, 16),
    ):
        if not isinstance(value, str):
            raise InputError(f"the document's {name} must be text")
        if len(value) > limit:
            raise InputError(f"the document's {name} exceeds {limit:,} characters")
        if _CONTROL.search(value) or not _is_unicode(value):
            raise InputError(f"the document's {name} contains control characters or invalid Unicode")
    if not document.tenant_id.strip() or not document.doc_id.strip():
        raise InputError("a document needs a tenant_id and a doc_id")
    text = document.text
    if not isinstance(text, str):
        raise InputError("the document's text must be str (decode bytes first)")
    if len(text) > max_chars:
        raise InputError(f"a document of {len(text):,} characters exceeds the limit of {max_chars:,}")
    if not text.strip():
        raise InputError(f"document {document.doc_id!r} has no text")
    if not _is_unicode(text):
        raise InputError(f"document {document.doc_id!r} is not valid Unicode text (lone surrogates)")
    controls = len(_CONTROL.findall(text))
    if "\x00" in text or controls > MAX_CONTROL_SHARE * len(text):
        raise InputError(f"document {document.doc_id!r} looks like binary data (NUL or control characters)")


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
