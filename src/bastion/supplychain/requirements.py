"""Requirements files: unpinned AI packages, look-alike (typosquatted) names and direct URL installs.

The popular names live in ``data/supplychain/ai_packages.yaml``. Lines are parsed with a small reader of
the pip requirements syntax (names, extras, specifiers, markers, ``--hash``, URLs and options); nothing is
installed or fetched.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.core.errors import ConfigError
from bastion.core.types import Severity
from bastion.supplychain.context import Outcome, ScanContext, Source, TooLargeError, finding
from bastion.supplychain.types import FileVerdict, ScanFinding

__all__ = [
    "PackageLists",
    "Requirement",
    "check_requirements",
    "lookalike_of",
    "normalise_name",
    "parse_requirements",
]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_URL = re.compile(r"^\s*(?:-e\s+|--editable\s+)?(?:git\+|hg\+|svn\+|bzr\+|https?://|file:)", re.I)


class _Example(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    of: str


class _Examples(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lookalike: list[_Example]
    clean: list[str]


class _ListsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    popular: list[str]
    known: list[str]
    examples: _Examples


@dataclass(frozen=True, slots=True)
class PackageLists:
    """Normalised popular names (the AI packages) and known legitimate neighbours."""

    popular: frozenset[str]
    known: frozenset[str]
    examples: _Examples


@functools.lru_cache(maxsize=1)
def load_lists() -> PackageLists:
    """The shipped lists (``data/supplychain/ai_packages.yaml``)."""
    try:
        text = resources.files("bastion.data.supplychain").joinpath("ai_packages.yaml").read_text("utf-8")
        data = _ListsFile.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"data/supplychain/ai_packages.yaml is invalid: {error}") from error
    return PackageLists(
        frozenset(normalise_name(n) for n in data.popular),
        frozenset(normalise_name(n) for n in data.known),
        data.examples,
    )


def normalise_name(name: str) -> str:
    """PEP 503 normalisation: lower case, runs of ``-``, ``_`` and ``.`` become one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, stopping early above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def lookalike_of(name: str, lists: PackageLists | None = None) -> str:
    """The popular package ``name`` imitates ("" when it is itself popular, known, or not close to one)."""
    lists = lists or load_lists()
    normal = normalise_name(name)
    if normal in lists.popular or normal in lists.known:
        return ""
    best, best_distance = "", 99
    for popular in sorted(lists.popular):
        limit = 1 if len(popular) <= 8 else 2
        distance = _distance(normal, popular, limit)
        if distance <= limit and distance < best_distance:
            best, best_distance = popular, distance
    return best


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement line: normalised name, specifier text, whether hashes pin it, line number."""

    name: str
    specifier: str
    hashed: bool
    line: int
    url: bool = False

    @property
    def pinned(self) -> bool:
        return self.hashed or bool(re.match(r"^\s*===?\s*[^\s,*]+\s*$", self.specifier))


def parse_requirements(text: str) -> list[Requirement]:
    """Requirements from a pip requirements file (options and includes are skipped)."""
    result: list[Requirement] = []
    lines = text.replace("\\\n", " ").splitlines()
    for number, line in enumerate(lines, 1):
        content = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not content:
            continue
        hashed = "--hash" in content
        if _URL.match(content):
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
            result.append(
                Requirement(normalise_name(egg.group(1)) if egg else content[:80], "", False, number, True)
            )
            continue
        if content.startswith("-"):
            continue
        content = re.sub(r"\s--hash[= ]\S+", "", content)
        match = _NAME.match(content)
        if not match:
            continue
        name, rest = match.group(1), match.group(3)
        if "@" in rest.split(";")[0]:
            result.append(Requirement(normalise_name(name), "", False, number, True))
            continue
        specifier = rest.split(";")[0].strip()
        result.append(Requirement(normalise_name(name), specifier, hashed, number))
    return result


def check_requirements(text: str, lists: PackageLists | None = None) -> list[ScanFinding]:
    """Findings for a requirements file: look-alikes (malicious), URL installs and unpinned AI packages."""
    lists = lists or load_lists()
    findings: list[ScanFinding] = []
    for requirement in parse_requirements(text):
        where = f"line {requirement.line}"
        if requirement.url:
            findings.append(
                finding(
                    "requirements.url",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    f"{where}: installs from a URL or VCS (unreviewed, unpinned code)",
                    subject=requirement.name,
                )
            )
            continue
        imitated = lookalike_of(requirement.name, lists)
        if imitated:
            findings.append(
                finding(
                    "requirements.lookalike",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    f"{where}: '{requirement.name}' looks like the popular package '{imitated}' (typosquat?)",
                    subject=requirement.name,
                )
            )
        elif requirement.name in lists.popular and not requirement.pinned:
            findings.append(
                finding(
                    "requirements.unpinned",
                    FileVerdict.SUSPICIOUS,
                    Severity.LOW,
                    f"{where}: AI package '{requirement.name}' is not pinned (==version or --hash)",
                    subject=requirement.name,
                )
            )
    return findings


def scan_requirements_source(source: Source, context: ScanContext) -> Outcome:
    """Handler for files named like requirements files."""
    try:
        raw = source.read(min(context.limits.max_header_bytes, 16 * 1024 * 1024))
        text = raw.decode("utf-8")
    except (TooLargeError, UnicodeDecodeError):
        return Outcome(
            "requirements",
            [finding("requirements.unreadable", FileVerdict.ERROR, Severity.LOW, "not a UTF-8 text file")],
        )
    return Outcome("requirements", check_requirements(text))
