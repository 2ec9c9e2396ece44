"""The supply-chain scanner's vocabulary: verdicts, findings, per-file results and the limits of a scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bastion.core.types import Severity

__all__ = [
    "FileResult",
    "FileVerdict",
    "ScanFinding",
    "ScanLimits",
    "worst_verdict",
]


class FileVerdict(StrEnum):
    """What a scan says about one file.

    ``SAFE``: parsed completely, nothing that runs code or escapes. ``SUSPICIOUS``: parsed, but holds
    something unknown or risky (an unreviewed global, a custom operator). ``MALICIOUS``: holds something
    that runs code, reads or writes files outside the model, or attacks the loader. ``ERROR``: could not be
    parsed; never reported as safe.
    """

    SAFE = "safe"
    SUSPICIOUS = "suspicious"
    ERROR = "error"
    MALICIOUS = "malicious"

    @property
    def rank(self) -> int:
        """0 safe, 1 suspicious, 2 error, 3 malicious: a file's verdict is its findings' maximum."""
        return _ORDER.index(self)


_ORDER = (FileVerdict.SAFE, FileVerdict.SUSPICIOUS, FileVerdict.ERROR, FileVerdict.MALICIOUS)


def worst_verdict(verdicts: list[FileVerdict] | tuple[FileVerdict, ...]) -> FileVerdict:
    """The highest-ranked verdict, ``SAFE`` for none."""
    return max(verdicts, key=lambda v: v.rank, default=FileVerdict.SAFE)


@dataclass(frozen=True, slots=True)
class ScanFinding:
    """One reason for a verdict.

    ``rule`` is a stable id (``pickle.denied-global``), ``verdict`` what the finding alone implies,
    ``offset`` the byte offset of the opcode or record in the (member) stream, ``member`` the path inside a
    container (``archive/data.pkl``; nested members joined with ``!``), ``subject`` the global, operator,
    path or key concerned. Messages never quote data values, only names.
    """

    rule: str
    verdict: FileVerdict
    severity: Severity
    message: str
    offset: int | None = None
    member: str = ""
    subject: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape inside ``{"files": [{"findings": [...]}]}``."""
        return {
            "rule": self.rule,
            "verdict": self.verdict.value,
            "severity": self.severity.value,
            "message": self.message,
            "offset": self.offset,
            "member": self.member,
            "subject": self.subject,
        }

    def inside(self, member: str) -> ScanFinding:
        """The same finding, reported from the container that holds ``member``."""
        joined = f"{member}!{self.member}" if self.member else member
        return ScanFinding(
            self.rule, self.verdict, self.severity, self.message, self.offset, joined, self.subject
        )


@dataclass(frozen=True, slots=True)
class FileResult:
    """The verdict on one file given on the command line or found in a folder."""

    path: str
    format: str
    verdict: FileVerdict
    findings: tuple[ScanFinding, ...] = ()
    size: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """One entry of the ``--format json`` contract: path, format, verdict, findings (plus size)."""
        return {
            "path": self.path,
            "format": self.format,
            "verdict": self.verdict.value,
            "findings": [f.to_dict() for f in self.findings],
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Caps that bound time and memory on hostile files; exceeding one is a finding, never a hang.

    Sizes are bytes. ``max_file_bytes`` caps what is read of one file or member into memory (large tensor
    payloads are not read at all: only headers and pickles are); ``max_total_bytes`` caps everything
    decompressed out of one top-level file; ``max_ratio`` flags members that expand more than that factor.
    """

    max_file_bytes: int = 512 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    max_ratio: float = 200.0
    max_members: int = 20_000
    max_depth: int = 5
    max_opcodes: int = 5_000_000
    max_pickles_per_stream: int = 64
    max_header_bytes: int = 100 * 1024 * 1024
    max_template_chars: int = 1_000_000
    max_folder_files: int = 100_000
    extra_allowed_globals: frozenset[str] = field(default_factory=frozenset)
