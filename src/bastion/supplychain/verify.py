"""Verify files against a BOM (CycloneDX JSON written by ``bom``) or a ``sha256sum``-style lockfile."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.core.errors import InputError
from bastion.supplychain.bom import hash_file

__all__ = ["HashCheck", "HashStatus", "read_expected", "verify_folder"]

_LOCK_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


class HashStatus(StrEnum):
    """``ok``: same hash; ``changed``: different; ``missing``: listed, not found; ``unlisted``: found, not
    listed (only reported when asked)."""

    OK = "ok"
    CHANGED = "changed"
    MISSING = "missing"
    UNLISTED = "unlisted"


@dataclass(frozen=True, slots=True)
class HashCheck:
    path: str
    status: HashStatus
    expected: str = ""
    actual: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "status": self.status.value,
            "expected": self.expected,
            "actual": self.actual,
        }


class _Hash(BaseModel):
    model_config = ConfigDict(extra="allow")
    alg: str
    content: str


class _Property(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    value: str = ""


class _Component(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = ""
    hashes: list[_Hash] = []
    properties: list[_Property] = []


class _Bom(BaseModel):
    model_config = ConfigDict(extra="allow")
    bomFormat: str  # noqa: N815 - CycloneDX field name
    components: list[_Component] = []


def _safe_relative(path: str) -> str:
    normalised = path.replace("\\", "/")
    if normalised.startswith("/") or ".." in PurePosixPath(normalised).parts or not normalised.strip():
        raise InputError(f"listed path {path[:120]!r} is not a relative path inside the folder")
    return PurePosixPath(normalised).as_posix()


def read_expected(reference: Path) -> dict[str, str]:
    """Relative path -> expected SHA-256 from a CycloneDX JSON BOM or a lockfile."""
    try:
        text = reference.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{reference}: cannot read ({type(error).__name__})") from error
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            bom = _Bom.model_validate(json.loads(text))
        except (ValueError, ValidationError) as error:
            raise InputError(f"{reference}: not a CycloneDX JSON BOM") from error
        expected: dict[str, str] = {}
        for component in bom.components:
            path = next((p.value for p in component.properties if p.name == "bastion:path"), "")
            digest = next((h.content for h in component.hashes if h.alg.upper() in ("SHA-256", "SHA256")), "")
            if path and digest:
                expected[_safe_relative(path)] = digest.lower()
        if not expected:
            raise InputError(f"{reference}: the BOM lists no files with bastion:path and SHA-256")
        return expected
    expected = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LOCK_LINE.match(line.rstrip("\r"))
        if not match:
            raise InputError(f"{reference}: line {number} is not '<sha256>  <path>'")
        expected[_safe_relative(match.group(2))] = match.group(1).lower()
    if not expected:
        raise InputError(f"{reference}: lists no files")
    return expected


def verify_folder(root: Path, expected: dict[str, str], report_unlisted: bool = True) -> list[HashCheck]:
    """Compare the files under ``root`` with ``expected`` hashes; sorted by path."""
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    base = root if root.is_dir() else root.parent
    checks: list[HashCheck] = []
    for relative, digest in sorted(expected.items()):
        path = base / relative
        if not path.is_file():
            checks.append(HashCheck(relative, HashStatus.MISSING, digest))
            continue
        actual = hash_file(path)
        status = HashStatus.OK if actual == digest else HashStatus.CHANGED
        checks.append(HashCheck(relative, status, digest, actual))
    if report_unlisted and root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(base).as_posix()
            if relative not in expected:
                checks.append(HashCheck(relative, HashStatus.UNLISTED, "", hash_file(path)))
    return checks


def summary(checks: list[HashCheck]) -> dict[str, Any]:
    """Counts per status."""
    counts = {status.value: 0 for status in HashStatus}
    for check in checks:
        counts[check.status.value] += 1
    return counts
