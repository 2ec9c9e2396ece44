"""Containers: zip (PyTorch, Keras v3, npz and plain), tar (also legacy PyTorch), gzip/bzip2/xz/zlib streams.

Members are read with our own reader from the local file headers (not ``ZipFile.open``): a bad CRC or a
local name that differs from the central directory does not stop the scan (loaders such as ``torch.load``
ignore both; scanners that stop there were bypassed: CVE-2025-10156, CVE-2025-1944). Every member is
sniffed by content, whatever its name (CVE-2025-1889, CVE-2025-10155: pickles under unexpected names).
Decompression is bounded: a budget of decompressed bytes per top-level file, a member-size cap, a ratio
check, a member-count cap and a nesting-depth cap.
"""

from __future__ import annotations

import bz2
import lzma
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from bastion.core.types import Severity
from bastion.supplychain.context import Outcome, ScanContext, Source, TooLargeError, finding
from bastion.supplychain.pickles import looks_like_pickle
from bastion.supplychain.sniff import sniff, sniff_requirements_name
from bastion.supplychain.types import FileVerdict, ScanFinding

__all__ = ["scan_compressed", "scan_tar", "scan_unsupported", "scan_zip"]

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_STORAGE_BLOB = re.compile(r"(?:^|/)data/\d+$")
_HEAD = 4096
_MAX_INFO_FINDINGS = 100
#: formats worth reading in full when found inside a container (the rest is opaque data)
_STRUCTURED = frozenset(
    {
        "pickle",
        "zip",
        "tar",
        "numpy",
        "gguf",
        "safetensors",
        "json",
        "gzip",
        "bzip2",
        "xz",
        "zlib",
        "7z",
        "rar",
        "zstd",
        "lz4",
        "hdf5",
        "protobuf?",
    }
)
#: members read this far at most when they only might be protocol 0/1 pickles (payloads run first)
_PROBE_BYTES = 1024 * 1024
_CHUNK = 1024 * 1024


def _unsafe_name(name: str) -> str:
    """Why an archive member name escapes the extraction folder ("" when it does not)."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        return "absolute path"
    if ".." in PurePosixPath(normalised).parts:
        return "parent-directory (..) component"
    if "\x00" in name:
        return "NUL byte in the name"
    return ""


def _traversal(name: str, reason: str) -> ScanFinding:
    return finding(
        "archive.path-traversal",
        FileVerdict.MALICIOUS,
        Severity.HIGH,
        f"member name escapes the extraction folder ({reason}) - zip slip",
        subject=name[:200],
    )


class _Members:
    """Collects member outcomes into the container's findings."""

    def __init__(self, context: ScanContext) -> None:
        self.context = context
        self.findings: list[ScanFinding] = []
        self.formats: list[str] = []
        self.infos = 0

    def add(self, name: str, head: bytes, size: int, read_all: _Reader) -> bool:
        """Scan one member; False when the decompression budget is spent (stop the container)."""
        fmt = sniff(head, size)
        wanted = fmt in _STRUCTURED or sniff_requirements_name(PurePosixPath(name).name)
        if not wanted and fmt != "pickle?":
            return True
        cap = self.context.limits.max_file_bytes if wanted else min(size, _PROBE_BYTES)
        try:
            data = read_all(cap)
        except TooLargeError as error:
            self.findings.append(
                finding(
                    "archive.member-too-large", FileVerdict.ERROR, Severity.MEDIUM, f"not scanned: {error}"
                ).inside(name)
            )
            return True
        if not self.context.take(len(data)):
            self.findings.append(
                finding(
                    "archive.bomb",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    "decompressed contents exceed the budget of "
                    f"{self.context.limits.max_total_bytes} bytes (decompression bomb)",
                    subject=name[:200],
                )
            )
            return False
        outcome = self.context.scan_member(name, data)
        self.formats.append(outcome.format)
        self.findings.extend(f.inside(name) for f in outcome.findings)
        if not outcome.findings and outcome.format != "data" and self.infos < _MAX_INFO_FINDINGS:
            self.infos += 1
            self.findings.append(
                finding(
                    "archive.member", FileVerdict.SAFE, Severity.INFO, f"scanned as {outcome.format}"
                ).inside(name)
            )
        return True


class _Reader:
    """Reads (and decompresses) one member on demand, up to a cap."""

    def __call__(self, cap: int) -> bytes:  # pragma: no cover - protocol
        raise NotImplementedError


class _ZipMemberReader(_Reader):
    """Reads one member straight from the archive file, decompressing no more than asked for."""

    def __init__(self, handle: BinaryIO, start: int, compressed: int, method: int, declared: int) -> None:
        self.handle, self.start, self.compressed = handle, start, compressed
        self.method = method
        self.declared = declared

    def _decompressor(self) -> tuple[Any, int]:
        """A decompressor for the member and the offset where its stream starts."""
        if self.method == zipfile.ZIP_DEFLATED:
            return zlib.decompressobj(-15), 0
        if self.method == zipfile.ZIP_BZIP2:
            return bz2.BZ2Decompressor(), 0
        if self.method == zipfile.ZIP_LZMA:
            # zip's LZMA: 2-byte version, 2-byte properties size, properties, raw LZMA1 stream
            self.handle.seek(self.start)
            header = self.handle.read(4)
            (psize,) = struct.unpack("<H", header[2:4])
            properties = self.handle.read(psize)
            decode = lzma._decode_filter_properties  # type: ignore[attr-defined]
            filters = [decode(lzma.FILTER_LZMA1, properties)]
            return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters), 4 + psize
        raise ValueError(f"compression method {self.method}")

    def decompress(self, limit: int) -> bytes:
        """At most ``limit`` bytes of the member's contents."""
        if self.method == zipfile.ZIP_STORED:
            self.handle.seek(self.start)
            return self.handle.read(min(limit, self.compressed))
        decompressor, skip = self._decompressor()
        self.handle.seek(self.start + skip)
        remaining = self.compressed - skip
        pieces: list[bytes] = []
        produced = 0
        while remaining > 0 and produced < limit:
            chunk = self.handle.read(min(remaining, _CHUNK))
            if not chunk:
                break
            remaining -= len(chunk)
            piece = decompressor.decompress(chunk, limit - produced)
            pieces.append(piece)
            produced += len(piece)
        return b"".join(pieces)

    def __call__(self, cap: int) -> bytes:
        data = self.decompress(cap + 1)
        if len(data) > cap:
            raise TooLargeError(f"more than {cap} bytes")
        return data


def _zip_kind(names: list[str]) -> str:
    lowered = [n.lower() for n in names]
    torch_markers = ("/version", "/.format_version", "/byteorder", "/.storage_alignment")
    if any(n.endswith("data.pkl") for n in lowered) or any(n.endswith(torch_markers) for n in lowered):
        return "pytorch-zip"
    if "config.json" in lowered and "metadata.json" in lowered:
        return "keras-v3"
    if lowered and all(n.endswith(".npy") for n in lowered):
        return "numpy-npz"
    return "zip"


def scan_zip(source: Source, context: ScanContext) -> Outcome:
    """A zip file: names, links, encryption, headers, CRCs, ratios; every member sniffed and scanned."""
    with source.open() as handle:
        return _scan_zip(handle, source.size, context)


def _scan_zip(handle: BinaryIO, archive_size: int, context: ScanContext) -> Outcome:
    limits = context.limits
    try:
        archive = zipfile.ZipFile(handle)
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as error:
        return Outcome(
            "zip",
            [finding("archive.malformed", FileVerdict.ERROR, Severity.MEDIUM, f"not a valid zip: {error}")],
        )
    kind = _zip_kind([i.filename for i in infos])
    members = _Members(context)
    findings = members.findings
    if len(infos) > limits.max_members:
        findings.append(
            finding(
                "archive.too-many-members",
                FileVerdict.ERROR,
                Severity.MEDIUM,
                f"{len(infos)} members exceed the cap of {limits.max_members}; only the first ones scanned",
            )
        )
        infos = infos[: limits.max_members]
    findings.extend(_layout_findings(infos, limits.max_total_bytes))
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name in seen:
            findings.append(
                finding(
                    "archive.duplicate-name",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    "two members share a name; loaders disagree on which one they read",
                    subject=name[:200],
                )
            )
        seen.add(name)
        reason = _unsafe_name(name)
        if reason:
            findings.append(_traversal(name, reason))
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            findings.append(
                finding(
                    "archive.symlink",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    "member is a symbolic link (extraction can write or read outside the folder)",
                    subject=name[:200],
                )
            )
            continue
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            findings.append(
                finding(
                    "archive.encrypted",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    "encrypted member cannot be scanned",
                    subject=name[:200],
                )
            )
            continue
        start, problem = _local_member(handle, archive_size, info)
        if problem:
            findings.append(problem.inside(name) if problem.rule != "archive.name-mismatch" else problem)
        if start is None:
            continue
        if info.file_size > 16 * 1024 * 1024 and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            findings.append(
                finding(
                    "archive.ratio",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    f"expands {info.file_size / max(info.compress_size, 1):.0f}x (decompression bomb?)",
                    subject=name[:200],
                )
            )
        if info.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
            zipfile.ZIP_BZIP2,
            zipfile.ZIP_LZMA,
        ):
            findings.append(
                finding(
                    "archive.unsupported-compression",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    f"compression method {info.compress_type} is not supported; member not scanned",
                    subject=name[:200],
                )
            )
            continue
        reader = _ZipMemberReader(handle, start, info.compress_size, info.compress_type, info.file_size)
        try:
            head = reader.decompress(_HEAD)
        except (zlib.error, OSError, ValueError, EOFError, lzma.LZMAError, struct.error) as error:
            findings.append(_corrupt(name, error))
            continue
        if kind == "pytorch-zip" and _STORAGE_BLOB.search(name) and not looks_like_pickle(head):
            continue  # tensor bytes: torch never unpickles them
        size = max(info.file_size, len(head))
        try:
            if not members.add(name, head, size, _CrcChecked(reader, info.CRC, name, findings)):
                break
        except (zlib.error, OSError, ValueError, EOFError, lzma.LZMAError, struct.error) as error:
            findings.append(_corrupt(name, error))
    return Outcome(kind, findings)


class _CrcChecked(_Reader):
    """Reads a member and notes (without stopping) a CRC that does not match the central directory."""

    def __init__(self, reader: _ZipMemberReader, crc: int, name: str, findings: list[ScanFinding]) -> None:
        self.reader, self.crc, self.name, self.out = reader, crc, name, findings

    def __call__(self, cap: int) -> bytes:
        data = self.reader(cap)
        if len(data) == self.reader.declared and zlib.crc32(data) != self.crc:
            self.out.append(
                finding(
                    "archive.crc-mismatch",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    "CRC does not match the central directory (torch.load ignores it; scanners that stop "
                    "on it are bypassed)",
                    subject=self.name[:200],
                )
            )
        return data


def _corrupt(name: str, error: BaseException) -> ScanFinding:
    return finding(
        "archive.corrupt-member",
        FileVerdict.ERROR,
        Severity.MEDIUM,
        f"member cannot be decompressed: {type(error).__name__}",
        subject=name[:200],
    )


def _layout_findings(infos: list[zipfile.ZipInfo], budget: int) -> list[ScanFinding]:
    """Bombs visible in the central directory: declared sizes over the budget, and members whose
    compressed data overlap (the non-recursive zip bomb reuses one compressed kernel for every member)."""
    found: list[ScanFinding] = []
    declared = sum(i.file_size for i in infos)
    if declared > budget:
        found.append(
            finding(
                "archive.bomb",
                FileVerdict.MALICIOUS,
                Severity.HIGH,
                f"members declare {declared} bytes in total, over the budget of {budget} (zip bomb)",
            )
        )
    spans = sorted(
        (i.header_offset, i.header_offset + 30 + len(i.filename) + i.compress_size, i.filename)
        for i in infos
        if not i.is_dir()
    )
    reach = -1
    for start, end, name in spans:
        overlaps = start < reach
        reach = max(reach, end)
        if overlaps:
            found.append(
                finding(
                    "archive.overlapping-members",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    "member data overlaps another member's (overlapping-file zip bomb or parser confusion)",
                    subject=name[:200],
                )
            )
            break
    return found


def _local_member(
    handle: BinaryIO, size: int, info: zipfile.ZipInfo
) -> tuple[int | None, ScanFinding | None]:
    """Where a member's compressed bytes start, read from its local header; a finding when the header lies."""
    offset = info.header_offset
    handle.seek(offset)
    header = handle.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        return None, finding(
            "archive.bad-local-header", FileVerdict.ERROR, Severity.MEDIUM, "local file header is missing"
        )
    fields = _LOCAL_HEADER.unpack(header)
    name_length, extra_length = fields[9], fields[10]
    local_name = handle.read(name_length)
    start = offset + 30 + name_length + extra_length
    problem = None
    central = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
    if local_name != central:
        problem = finding(
            "archive.name-mismatch",
            FileVerdict.SUSPICIOUS,
            Severity.MEDIUM,
            "local header name differs from the central directory (tools disagree on the member name)",
            subject=info.filename[:200],
        )
    if start + info.compress_size > size:
        return start, finding(
            "archive.truncated-member", FileVerdict.ERROR, Severity.MEDIUM, "member data is truncated"
        )
    return start, problem


def _link_escape(info: tarfile.TarInfo) -> str:
    """Why a tar link points outside the extraction folder ("" when it does not)."""
    target = info.linkname.replace("\\", "/")
    if target.startswith("/") or re.match(r"^[A-Za-z]:", target):
        return "absolute target"
    base = list(PurePosixPath(info.name).parent.parts) if info.issym() else []
    depth = len([p for p in base if p not in ("", ".")])
    for part in PurePosixPath(target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return "target climbs out with .."
        elif part not in ("", "."):
            depth += 1
    return ""


def _tar_kind(names: list[str]) -> str:
    base = {PurePosixPath(n).name for n in names}
    if {"sys_info", "pickle", "storages"} <= base:
        return "pytorch-legacy-tar"
    return "tar"


class _TarReader(_Reader):
    def __init__(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.archive, self.member = archive, member

    def __call__(self, cap: int) -> bytes:
        handle = self.archive.extractfile(self.member)
        if handle is None:
            return b""
        data = handle.read(cap + 1)
        if len(data) > cap:
            raise TooLargeError(f"more than {cap} bytes")
        return data


def scan_tar(source: Source, context: ScanContext) -> Outcome:
    """A tar file: traversal in names and link targets, device files, caps; members sniffed and scanned."""
    limits = context.limits
    findings: list[ScanFinding] = []
    members = _Members(context)
    try:
        handle = source.open()
        with handle, tarfile.open(fileobj=handle, mode="r:") as archive:
            infos: list[tarfile.TarInfo] = []
            for info in archive:
                if len(infos) >= limits.max_members:
                    findings.append(
                        finding(
                            "archive.too-many-members",
                            FileVerdict.ERROR,
                            Severity.MEDIUM,
                            f"more than {limits.max_members} members; the rest was not scanned",
                        )
                    )
                    break
                infos.append(info)
            kind = _tar_kind([i.name for i in infos])
            for info in infos:
                reason = _unsafe_name(info.name)
                if reason:
                    findings.append(_traversal(info.name, reason))
                if info.issym() or info.islnk():
                    why = _link_escape(info)
                    if why:
                        findings.append(
                            finding(
                                "archive.link-escape",
                                FileVerdict.MALICIOUS,
                                Severity.HIGH,
                                f"link target escapes the extraction folder ({why})",
                                subject=info.name[:200],
                            )
                        )
                    continue
                if info.isdev() or info.isfifo():
                    findings.append(
                        finding(
                            "archive.special-file",
                            FileVerdict.SUSPICIOUS,
                            Severity.MEDIUM,
                            "device or FIFO member",
                            subject=info.name[:200],
                        )
                    )
                    continue
                if not info.isfile():
                    continue
                reader = _TarReader(archive, info)
                head = reader(min(info.size, _HEAD)) if info.size else b""
                if not members.add(info.name, head, info.size, reader):
                    break
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:
        findings.append(
            finding(
                "archive.malformed",
                FileVerdict.ERROR,
                Severity.MEDIUM,
                f"not a valid tar: {type(error).__name__}",
            )
        )
        return Outcome("tar", findings + members.findings)
    return Outcome(kind, findings + members.findings)


def scan_compressed(source: Source, context: ScanContext) -> Outcome:
    """gzip, bzip2, xz or zlib: decompress within the budget, then scan what comes out."""
    limits = context.limits
    fmt = sniff(source.head(16), source.size)
    try:
        raw = source.read(limits.max_file_bytes)
    except TooLargeError as error:
        return Outcome(fmt, [finding("file.too-large", FileVerdict.ERROR, Severity.MEDIUM, str(error))])
    cap = min(limits.max_file_bytes, max(context.budget[0], 0))
    try:
        if fmt == "gzip":
            data = zlib.decompressobj(wbits=31).decompress(raw, cap + 1)
        elif fmt == "zlib":
            data = zlib.decompressobj().decompress(raw, cap + 1)
        elif fmt == "bzip2":
            data = bz2.BZ2Decompressor().decompress(raw, cap + 1)
        else:
            data = lzma.LZMADecompressor().decompress(raw, cap + 1)
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError) as error:
        return Outcome(
            fmt,
            [
                finding(
                    "archive.corrupt-stream",
                    FileVerdict.ERROR,
                    Severity.MEDIUM,
                    f"cannot decompress: {type(error).__name__}",
                )
            ],
        )
    if len(data) > cap or not context.take(len(data)):
        return Outcome(
            fmt,
            [
                finding(
                    "archive.bomb",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    f"decompresses beyond the cap of {cap} bytes (decompression bomb)",
                )
            ],
        )
    inner_name = re.sub(r"\.(gz|bz2|xz|z|zlib|joblib)$", "", PurePosixPath(source.name).name) or "<stream>"
    outcome = context.scan_member(inner_name, data)
    return Outcome(f"{fmt}+{outcome.format}", [f.inside(inner_name) for f in outcome.findings])


def scan_unsupported(source: Source, context: ScanContext) -> Outcome:
    """7z, rar, zstd, lz4: recognised but not opened, so never safe."""
    fmt = sniff(source.head(16), source.size)
    return Outcome(
        fmt,
        [
            finding(
                "archive.unsupported",
                FileVerdict.SUSPICIOUS,
                Severity.MEDIUM,
                f"{fmt} container cannot be opened by this scanner; its contents are unscanned (model files "
                "packed this way have carried payloads past scanners, e.g. nullifAI)",
            )
        ],
    )
