"""Evidence: what other capabilities and people produce, read back as records with source, time, hash, expiry.

A :class:`Collector` turns one file (or folder) named in the inventory's ``evidence:`` list into an
:class:`EvidenceRecord`. Collectors read files only (never import the capability that wrote them) and are
tolerant: a file they cannot understand gives an ``invalid`` record with the reason, never an exception.
Third parties register more collectors under the entry-point group ``bastion.govern.collectors``.

::

    inventory evidence: ──► collector(kind) ──► EvidenceRecord ──► control status (controls.py)
      redteam_report        report.json of `bastion redteam run`   summary.asr, findings[].severity
      model_scan            `bastion supplychain scan --format json` files[].verdict
      ai_bom                CycloneDX JSON                          components[].hashes
      privacy_report        `bastion privacy test --format json`    verdict
      guard_policy, gateway_config, retention_settings   YAML/JSON settings (keys and values as facts)
      monitor_rules         a rule file or a folder of them (.sql, .yaml, .yml, .json)
      signed_document       a document + approved_by/approved_at (inventory, front matter) or a .sig/.asc file
      vendor_assessment, contract_check   `bastion govern vendor assess | contract check --format json`
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import yaml

from bastion.core.errors import InputError
from bastion.core.registry import Registry
from bastion.core.yamlfile import MAX_YAML_BYTES as MAX_BYTES
from bastion.core.yamlfile import read_text_file
from bastion.govern.inventory import EvidenceSource

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "Collector",
    "EvidenceOutcome",
    "EvidenceRecord",
    "collect",
    "collect_one",
    "collectors",
    "file_record",
]

#: how long evidence of a kind stays fresh when neither the source nor the control says otherwise
DEFAULT_MAX_AGE_DAYS = 180
#: at most this many files of a rules folder are hashed
MAX_FOLDER_FILES = 2000
#: attack-success rate above which a red-team report counts against its controls
REDTEAM_MAX_ASR = 0.10
_BAD_SCAN_VERDICTS = frozenset(
    {"malicious", "unsafe", "dangerous", "fail", "failed", "error", "suspicious", "block"}
)
_GOOD_PRIVACY_VERDICTS = frozenset({"pass", "passed", "ok", "low", "acceptable", "safe"})
_RULE_SUFFIXES = frozenset({".sql", ".yaml", ".yml", ".json"})


class EvidenceOutcome(StrEnum):
    """What a record says about the controls it serves."""

    SUPPORTS = "supports"
    CONTRADICTS = "contradicts"
    UNSIGNED = "unsigned"
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One piece of evidence. ``source`` is the path as written in the inventory; ``facts`` are lower-case
    words found in it (keys and values of settings) that controls may require."""

    kind: str
    source: str
    produced_at: dt.datetime | None
    sha256: str
    expires_at: dt.datetime | None
    summary: str
    outcome: EvidenceOutcome = EvidenceOutcome.SUPPORTS
    system: str | None = None
    document: str | None = None
    facts: frozenset[str] = frozenset()

    def stale(self, now: dt.datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "produced_at": self.produced_at.isoformat() if self.produced_at else None,
            "sha256": self.sha256,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "summary": self.summary,
            "outcome": self.outcome.value,
            "system": self.system,
            "document": self.document,
        }


@runtime_checkable
class Collector(Protocol):
    """Reads one evidence file of its ``kind`` into a record. Must not raise on bad content."""

    kind: str

    def collect(self, source: EvidenceSource, path: Path, now: dt.datetime) -> EvidenceRecord: ...


collectors: Registry[Collector] = Registry("evidence collector", "bastion.govern.collectors")


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _parse_time(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str) and value:
        try:
            return _utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)


def file_record(
    source: EvidenceSource,
    path: Path,
    summary: str,
    outcome: EvidenceOutcome,
    produced_at: dt.datetime | None = None,
    sha256: str = "",
    facts: Iterable[str] = (),
) -> EvidenceRecord:
    """A record for ``source`` with the expiry from ``max_age_days`` (or the default)."""
    produced = produced_at or (_mtime(path) if path.exists() else None)
    age = source.max_age_days or DEFAULT_MAX_AGE_DAYS
    return EvidenceRecord(
        kind=source.kind,
        source=source.path,
        produced_at=produced,
        sha256=sha256,
        expires_at=produced + dt.timedelta(days=age) if produced else None,
        summary=summary,
        outcome=outcome,
        system=source.system,
        document=source.document,
        facts=frozenset(facts),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_structured(path: Path) -> tuple[Any, str]:
    """Parse a JSON or YAML file; returns (data, sha256). Raises InputError on unreadable input."""
    text = read_text_file(path)
    digest = _sha256(text.encode("utf-8"))
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text), digest
        return yaml.safe_load(text), digest
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise InputError(f"{path.name}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}") from error


def _words(value: object, out: set[str], budget: list[int]) -> None:
    """Lower-case words of keys and string values, bounded (``budget`` counts visited values)."""
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(re.findall(r"[a-z][a-z0-9]+", str(key).lower()))
            _words(item, out, budget)
    elif isinstance(value, list):
        for item in value:
            _words(item, out, budget)
    elif isinstance(value, str | bool | int | float):
        out.update(re.findall(r"[a-z][a-z0-9]+", str(value).lower()[:200]))


def _invalid(source: EvidenceSource, path: Path, why: str) -> EvidenceRecord:
    return file_record(source, path, why, EvidenceOutcome.INVALID)


class _StructuredCollector:
    """Base of collectors that read one JSON or YAML file; subclasses write ``_judge``."""

    kind = ""

    def collect(self, source: EvidenceSource, path: Path, now: dt.datetime) -> EvidenceRecord:
        try:
            data, digest = _read_structured(path)
        except InputError as error:
            return _invalid(source, path, str(error))
        try:
            summary, outcome, produced = self._judge(data)
            facts = self._facts(data)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return file_record(
                source,
                path,
                f"unexpected shape ({type(error).__name__})",
                EvidenceOutcome.INVALID,
                sha256=digest,
            )
        return file_record(source, path, summary, outcome, produced, digest, facts)

    def _facts(self, data: Any) -> set[str]:
        """Lower-case words of the file's keys and values (what controls may require)."""
        words: set[str] = set()
        _words(data, words, [20000])
        return words

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        raise NotImplementedError


class RedteamReportCollector(_StructuredCollector):
    """``report.json`` of ``bastion redteam run``: ASR at most 10% and no critical finding."""

    kind = "redteam_report"

    def _facts(self, data: Any) -> set[str]:
        """The OWASP categories the run attacked (at least one attempt), lower-case: ``{"llm01", ...}``."""
        by_category = data["summary"].get("by_category") or {}
        found = {
            str(c).lower()
            for c, row in by_category.items()
            if isinstance(row, Mapping) and row.get("attempts")
        }
        for attempt in data.get("attempts") or []:
            if isinstance(attempt, Mapping) and attempt.get("category"):
                found.add(str(attempt["category"]).lower())
        return found

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        summary = data["summary"]
        asr = float(summary["asr"])
        attempts = int(summary["attempts"])
        findings = data.get("findings") or []
        critical = sum(1 for f in findings if isinstance(f, Mapping) and f.get("severity") == "critical")
        produced = _parse_time(data.get("finished_at")) or _parse_time(data.get("started_at"))
        text = (
            f"target {data.get('target', '?')}: attack-success rate {asr:.1%} over {attempts} attempts, "
            f"{len(findings)} findings ({critical} critical)"
        )
        good = attempts > 0 and asr <= REDTEAM_MAX_ASR and critical == 0
        return text, EvidenceOutcome.SUPPORTS if good else EvidenceOutcome.CONTRADICTS, produced


class ModelScanCollector(_StructuredCollector):
    """``{"files": [{"path", "format", "verdict", "findings"}]}`` of the supply-chain scanner."""

    kind = "model_scan"

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        files = data["files"]
        bad = [f for f in files if str(f.get("verdict", "")).lower() in _BAD_SCAN_VERDICTS]
        text = f"{len(files)} model files scanned, {len(bad)} flagged"
        good = bool(files) and not bad
        return text, EvidenceOutcome.SUPPORTS if good else EvidenceOutcome.CONTRADICTS, None


class AiBomCollector(_StructuredCollector):
    """A CycloneDX BOM: supports when it lists components with hashes."""

    kind = "ai_bom"

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        if data.get("bomFormat") != "CycloneDX":
            return "not a CycloneDX BOM", EvidenceOutcome.INVALID, None
        components = data.get("components") or []
        hashed = sum(1 for c in components if c.get("hashes"))
        produced = _parse_time((data.get("metadata") or {}).get("timestamp"))
        text = f"CycloneDX {data.get('specVersion', '?')}: {len(components)} components, {hashed} with hashes"
        return text, EvidenceOutcome.SUPPORTS if hashed else EvidenceOutcome.CONTRADICTS, produced


class PrivacyReportCollector(_StructuredCollector):
    """``{"target", "attacks": [...], "verdict"}`` of ``bastion privacy test``."""

    kind = "privacy_report"

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        verdict = str(data["verdict"]).lower()
        attacks = data.get("attacks") or []
        best = max((float(a.get("auc", 0.0)) for a in attacks if isinstance(a, Mapping)), default=0.0)
        target = data.get("target", "?")
        text = f"target {target}: {len(attacks)} attacks, best AUC {best:.3f}, verdict {verdict}"
        good = verdict in _GOOD_PRIVACY_VERDICTS
        return text, EvidenceOutcome.SUPPORTS if good else EvidenceOutcome.CONTRADICTS, None


class SettingsCollector(_StructuredCollector):
    """A YAML/JSON settings file (guard policy, gateway config): supports when it is a non-empty mapping."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        if not isinstance(data, Mapping) or not data:
            return "empty or not a mapping", EvidenceOutcome.INVALID, None
        keys = ", ".join(sorted(str(k) for k in data)[:12])
        return f"settings with {keys}", EvidenceOutcome.SUPPORTS, None


def _retention_values(data: object, found: list[tuple[str, float]], path: str = "") -> None:
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                lowered = name.lower()
                if "retention" in lowered or lowered.endswith(("days", "_days")):
                    found.append((name, float(value)))
            else:
                _retention_values(value, found, name)
    elif isinstance(data, list):
        for index, item in enumerate(data[:1000]):
            _retention_values(item, found, f"{path}[{index}]")


class RetentionCollector(_StructuredCollector):
    """Retention settings: supports when at least one retention period (a positive number of days) is set."""

    kind = "retention_settings"

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        found: list[tuple[str, float]] = []
        _retention_values(data, found)
        periods = [(name, days) for name, days in found if days > 0]
        if not periods:
            return "no retention period found", EvidenceOutcome.CONTRADICTS, None
        shown = ", ".join(f"{name}={days:g}" for name, days in periods[:6])
        return f"{len(periods)} retention periods ({shown})", EvidenceOutcome.SUPPORTS, None


class VendorAssessmentCollector(_StructuredCollector):
    """Output of ``bastion govern vendor assess --format json``."""

    kind = "vendor_assessment"

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        rating = str(data["rating"])
        text = f"vendor {data.get('vendor', '?')}: score {data.get('score', '?')}, rating {rating}"
        good = rating in {"acceptable", "good"}
        return (
            text,
            EvidenceOutcome.SUPPORTS if good else EvidenceOutcome.CONTRADICTS,
            _parse_time(data.get("assessed_at")),
        )


class ContractCheckCollector(_StructuredCollector):
    """``bastion govern contract check --format json``: supports when no required clause is missing."""

    kind = "contract_check"

    def _judge(self, data: Any) -> tuple[str, EvidenceOutcome, dt.datetime | None]:
        clauses = data["clauses"]
        missing = [c for c in clauses if c.get("status") == "missing"]
        weak = [c for c in clauses if c.get("status") == "weak"]
        text = f"{len(clauses)} required clauses: {len(missing)} missing, {len(weak)} weak"
        return text, EvidenceOutcome.SUPPORTS if not missing else EvidenceOutcome.CONTRADICTS, None


class MonitorRulesCollector:
    """A detection-rule file or a folder of them; supports when at least one rule file is there."""

    kind = "monitor_rules"

    def collect(self, source: EvidenceSource, path: Path, now: dt.datetime) -> EvidenceRecord:
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _RULE_SUFFIXES)[
                :MAX_FOLDER_FILES
            ]
            if path.is_dir()
            else [path]
        )
        digest = hashlib.sha256()
        newest: dt.datetime | None = None
        words: set[str] = set()
        for file in files:
            if file.stat().st_size > MAX_BYTES:
                return _invalid(source, path, f"{file.name} is over {MAX_BYTES} bytes")
            raw = file.read_bytes()
            digest.update(file.name.encode("utf-8") + b"\x00" + raw)
            words.update(re.findall(r"[a-z][a-z0-9]+", raw[:20000].decode("utf-8", "replace").lower()))
            stamp = _mtime(file)
            newest = stamp if newest is None or stamp > newest else newest
        if not files:
            return file_record(source, path, "no rule files", EvidenceOutcome.CONTRADICTS)
        return file_record(
            source,
            path,
            f"{len(files)} rule files",
            EvidenceOutcome.SUPPORTS,
            newest,
            digest.hexdigest(),
            words,
        )


_FRONT_MATTER = re.compile(
    r"^(approved_by|approved_at|approved-by|approved-at)[ \t]*:[ \t]*(\S[^\n]*?)[ \t]*$", re.M | re.I
)


class SignedDocumentCollector:
    """A document counts when it is approved: ``approved_by`` and ``approved_at`` in the inventory entry or in
    the document's first lines, or a detached signature next to it (``.sig`` / ``.asc``)."""

    kind = "signed_document"

    def collect(self, source: EvidenceSource, path: Path, now: dt.datetime) -> EvidenceRecord:
        if path.stat().st_size > MAX_BYTES:
            return _invalid(source, path, f"over {MAX_BYTES} bytes")
        raw = path.read_bytes()
        digest = _sha256(raw)
        head = raw[:4000].decode("utf-8", "replace")
        found = {m.group(1).lower().replace("-", "_"): m.group(2) for m in _FRONT_MATTER.finditer(head)}
        approved_by = source.approved_by or found.get("approved_by", "")
        approved_at = _parse_time(source.approved_at) or _parse_time(found.get("approved_at"))
        signature = next((p for p in (Path(f"{path}.sig"), Path(f"{path}.asc")) if p.exists()), None)
        if approved_by and approved_at:
            return file_record(
                source,
                path,
                f"approved by {approved_by} on {approved_at.date()}",
                EvidenceOutcome.SUPPORTS,
                approved_at,
                digest,
            )
        if signature is not None:
            return file_record(
                source,
                path,
                f"detached signature {signature.name}",
                EvidenceOutcome.SUPPORTS,
                _mtime(signature),
                digest,
            )
        return file_record(source, path, "no approval recorded", EvidenceOutcome.UNSIGNED, None, digest)


for _kind in ("guard_policy", "gateway_config"):
    collectors.add(f"govern.{_kind}", lambda kind=_kind: SettingsCollector(kind))
for _collector in (
    RedteamReportCollector,
    ModelScanCollector,
    AiBomCollector,
    PrivacyReportCollector,
    RetentionCollector,
    VendorAssessmentCollector,
    ContractCheckCollector,
    MonitorRulesCollector,
    SignedDocumentCollector,
):
    collectors.add(f"govern.{_collector.kind}", _collector)


def _collector_for(kind: str) -> Collector:
    for plugin_id in collectors.ids():
        collector = collectors.create(plugin_id)
        if collector.kind == kind:
            return collector
    raise InputError(f"no evidence collector for kind {kind!r}")


def collect_one(source: EvidenceSource, base: Path, now: dt.datetime) -> EvidenceRecord:
    """The record of one inventory evidence entry (paths relative to ``base``)."""
    path = (base / source.path) if not Path(source.path).is_absolute() else Path(source.path)
    if not path.exists():
        return EvidenceRecord(
            kind=source.kind,
            source=source.path,
            produced_at=None,
            sha256="",
            expires_at=None,
            summary="file not found",
            outcome=EvidenceOutcome.MISSING,
            system=source.system,
            document=source.document,
        )
    try:
        return _collector_for(source.kind).collect(source, path, now)
    except OSError as error:
        return _invalid(source, path, f"cannot read ({error.strerror})")


def collect(
    sources: Iterable[EvidenceSource], base: Path, now: dt.datetime | None = None
) -> list[EvidenceRecord]:
    """Records for every evidence entry of the inventory, in order."""
    moment = now or dt.datetime.now(dt.UTC)
    return [collect_one(source, base, moment) for source in sources]
