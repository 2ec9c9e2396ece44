"""Format detection by content (magic numbers and header shape), never by file name.

The one exception is requirements files (plain text without a signature), recognised by their name.
"""

from __future__ import annotations

import re
import struct

from bastion.supplychain.pickles import looks_like_pickle

__all__ = ["PICKLE_START_BYTES", "sniff", "sniff_requirements_name"]

#: first bytes of protocol 0/1 pickles (no PROTO opcode): MARK, GLOBAL, INST-free text opcodes, containers
PICKLE_START_BYTES = frozenset(b"(cdiFIJKLMNSTUVX]}")
_REQUIREMENTS_NAME = re.compile(r"^(?:.*[-_.])?(?:requirements|constraints)(?:[-_.].*)?\.(?:txt|in)$", re.I)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x93NUMPY", "numpy"),
    (b"GGUF", "gguf"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
)


def sniff(head: bytes, size: int) -> str:
    """The format of a file from its first bytes (at least 512 where the file has them) and its size.

    Returns one of ``zip``, ``tar``, ``numpy``, ``gguf``, ``hdf5``, ``gzip``, ``bzip2``, ``xz``, ``zlib``,
    ``7z``, ``rar``, ``zstd``, ``lz4``, ``pickle``, ``safetensors``, ``json``, ``protobuf?`` (the caller
    tries ONNX and SavedModel), ``pickle?`` (a protocol 0/1 pickle or text: the caller probes it) or
    ``data``.
    """
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if looks_like_pickle(head):
        return "pickle"
    if len(head) >= 10 and head[8:10] in (b'{"', b"{}"):
        (length,) = struct.unpack("<Q", head[:8])
        if length >= 2:  # a length past the end of the file is the safetensors handler's error to report
            return "safetensors"
    if (
        len(head) >= 2
        and head[0] == 0x78
        and (head[0] * 256 + head[1]) % 31 == 0
        and head[1] in b"\x01\x5e\x9c\xda"
    ):
        return "zlib"
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    if stripped[:1] in (b"{", b"["):
        return "json"
    if head[:1] in (b"\x08", b"\x0a", b"\x12") and size > 2:
        return "protobuf?"
    if head[:1] and head[0] in PICKLE_START_BYTES:
        return "pickle?"
    return "data"


def sniff_requirements_name(name: str) -> bool:
    """True for ``requirements.txt``, ``requirements-dev.in``, ``constraints.txt`` and the like."""
    return bool(_REQUIREMENTS_NAME.match(name))
