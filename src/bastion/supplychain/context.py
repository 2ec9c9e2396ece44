"""What every format handler receives: the bytes to judge (:class:`Source`) and the scan's state
(:class:`ScanContext`: policy, limits, remaining budget, nesting depth and the way back to the dispatcher
for members of containers)."""

from __future__ import annotations

import contextlib
import io
import mmap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bastion.core.types import Severity
from bastion.supplychain.policy import GlobalsPolicy
from bastion.supplychain.types import FileVerdict, ScanFinding, ScanLimits, worst_verdict

__all__ = ["Handler", "Outcome", "ScanContext", "Source", "TooLargeError", "finding"]

HEAD_BYTES = 4096


class TooLargeError(Exception):
    """A read would exceed a size cap."""


def finding(
    rule: str,
    verdict: FileVerdict,
    severity: Severity,
    message: str,
    offset: int | None = None,
    subject: str = "",
) -> ScanFinding:
    """Shorthand for a finding about the current source (no member path yet)."""
    return ScanFinding(rule, verdict, severity, message, offset, "", subject)


@dataclass(frozen=True, slots=True)
class Source:
    """A file on disk or a member held in memory. ``folder`` is where relative references resolve
    (ONNX external data); ``None`` for members of archives (references then cannot be checked)."""

    name: str
    size: int
    data: bytes | None = None
    path: Path | None = None
    folder: Path | None = None

    def head(self, count: int = HEAD_BYTES) -> bytes:
        if self.data is not None:
            return self.data[:count]
        assert self.path is not None
        with self.path.open("rb") as handle:
            return handle.read(count)

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return self.path.open("rb")

    @contextlib.contextmanager
    def view(self) -> Iterator[bytes | mmap.mmap]:
        """All bytes without copying them: the data in memory, or a read-only memory map of the file."""
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        with self.path.open("rb") as handle:
            if self.size == 0:
                yield b""
                return
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                yield mapped
            finally:
                with contextlib.suppress(BufferError):  # a view still alive: the map closes when collected
                    mapped.close()

    def read(self, cap: int) -> bytes:
        """All bytes, or :class:`TooLargeError` when there are more than ``cap``."""
        if self.size > cap:
            raise TooLargeError(f"{self.size} bytes exceed the cap of {cap}")
        if self.data is not None:
            return self.data
        assert self.path is not None
        with self.path.open("rb") as handle:
            data = handle.read(cap + 1)
        if len(data) > cap:
            raise TooLargeError(f"more than {cap} bytes")
        return data


@dataclass(slots=True)
class Outcome:
    """What a handler found: the format it recognised and its findings."""

    format: str
    findings: list[ScanFinding] = field(default_factory=list)

    @property
    def verdict(self) -> FileVerdict:
        return worst_verdict([f.verdict for f in self.findings])


Handler = Callable[["Source", "ScanContext"], Outcome]


@dataclass(slots=True)
class ScanContext:
    """Shared by all handlers during the scan of one top-level file."""

    policy: GlobalsPolicy
    limits: ScanLimits
    dispatch: Callable[[Source, ScanContext], Outcome]
    depth: int = 0
    budget: list[int] = field(default_factory=lambda: [0])
    opcodes: list[int] = field(default_factory=lambda: [0])

    def scan_member(self, name: str, data: bytes) -> Outcome:
        """Scan a member of a container one level deeper (depth-capped)."""
        if self.depth + 1 > self.limits.max_depth:
            return Outcome(
                "unscanned",
                [
                    finding(
                        "archive.depth-cap",
                        FileVerdict.SUSPICIOUS,
                        Severity.MEDIUM,
                        f"nested deeper than {self.limits.max_depth} containers; not scanned",
                    )
                ],
            )
        child = ScanContext(
            self.policy, self.limits, self.dispatch, self.depth + 1, self.budget, self.opcodes
        )
        return self.dispatch(Source(name, len(data), data=data), child)

    def take(self, count: int) -> bool:
        """Charge ``count`` decompressed bytes to the budget; False once it is spent."""
        self.budget[0] -= count
        return self.budget[0] >= 0
