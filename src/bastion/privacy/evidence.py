"""Evidence records: what a privacy test or an anonymisation run proves, for the governance controls.

A :class:`PrivacyEvidence` names the artefact it vouches for by its SHA-256 (the JSON report), who made
it (``source``: the command), when, and until when it counts (``expires_at``: a privacy test goes stale
when the model is retrained, so evidence expires by default after 90 days). It carries only figures and
the verdict, never a record of the data.

>>> from datetime import UTC, datetime
>>> record = PrivacyEvidence.for_artifact(
...     kind="privacy.membership", source="bastion privacy test", subject="german-credit",
...     artifact=b"{}", verdict="pass", created_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> record.expires_at.isoformat()
'2026-04-01T00:00:00+00:00'
>>> PrivacyEvidence.from_dict(record.to_dict()) == record
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bastion.core.errors import ConfigError

__all__ = ["DEFAULT_VALIDITY", "EVIDENCE_SCHEMA", "PrivacyEvidence", "write_evidence"]

#: how long a privacy result counts before it must be produced again
DEFAULT_VALIDITY = timedelta(days=90)
#: the ``schema`` field of every evidence file, so governance knows how to read it
EVIDENCE_SCHEMA = "bastion.evidence/v1"


@dataclass(frozen=True, slots=True)
class PrivacyEvidence:
    """One piece of evidence: ``kind`` (``privacy.membership``, ``privacy.anonymization``), ``source``
    (the command that made it), ``subject`` (the model or data set), the artefact's SHA-256, the verdict
    (``pass`` / ``fail``), when it was made and when it expires, and a few headline figures."""

    kind: str
    source: str
    subject: str
    sha256: str
    verdict: str
    created_at: datetime
    expires_at: datetime
    figures: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), compare=False)

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ConfigError("evidence sha256 must be 64 lowercase hex digits")
        if self.created_at.tzinfo is None or self.expires_at.tzinfo is None:
            raise ConfigError("evidence times must carry a time zone")
        if self.expires_at <= self.created_at:
            raise ConfigError("evidence must expire after it was created")

    @classmethod
    def for_artifact(
        cls,
        *,
        kind: str,
        source: str,
        subject: str,
        artifact: bytes,
        verdict: str,
        created_at: datetime | None = None,
        validity: timedelta = DEFAULT_VALIDITY,
        figures: Mapping[str, float] | None = None,
    ) -> PrivacyEvidence:
        """Evidence for the bytes of ``artifact`` (hashed here), valid for ``validity``."""
        made = created_at or datetime.now(UTC)
        return cls(
            kind=kind,
            source=source,
            subject=subject,
            sha256=hashlib.sha256(artifact).hexdigest(),
            verdict=verdict,
            created_at=made,
            expires_at=made + validity,
            figures=MappingProxyType(dict(figures or {})),
        )

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the evidence no longer counts at ``now`` (default: the current time)."""
        return (now or datetime.now(UTC)) >= self.expires_at

    def matches(self, artifact: bytes) -> bool:
        """Whether ``artifact`` is the exact artefact this evidence was made for."""
        return hashlib.sha256(artifact).hexdigest() == self.sha256

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": EVIDENCE_SCHEMA,
            "kind": self.kind,
            "source": self.source,
            "subject": self.subject,
            "sha256": self.sha256,
            "verdict": self.verdict,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "figures": dict(self.figures),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyEvidence:
        """Read a record written by :meth:`to_dict`; :class:`ConfigError` names a missing or bad field."""
        if data.get("schema") != EVIDENCE_SCHEMA:
            raise ConfigError(f"not a Bastion evidence record (schema {data.get('schema')!r})")
        try:
            return cls(
                kind=str(data["kind"]),
                source=str(data["source"]),
                subject=str(data["subject"]),
                sha256=str(data["sha256"]),
                verdict=str(data["verdict"]),
                created_at=datetime.fromisoformat(str(data["created_at"])),
                expires_at=datetime.fromisoformat(str(data["expires_at"])),
                figures=MappingProxyType(
                    {str(k): float(v) for k, v in dict(data.get("figures", {})).items()}
                ),
            )
        except KeyError as error:
            raise ConfigError(f"evidence record lacks the field {error.args[0]!r}") from None
        except (TypeError, ValueError) as error:
            raise ConfigError(f"evidence record has a bad value: {error}") from error


def write_evidence(record: PrivacyEvidence, path: Path) -> Path:
    """Write ``record`` as JSON to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path
