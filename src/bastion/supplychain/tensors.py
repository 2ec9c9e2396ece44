"""Tensor formats: NumPy ``.npy`` (object arrays carry pickles), safetensors (header validation) and GGUF
(header, metadata, tensor table and chat templates), all parsed here without the formats' libraries."""

from __future__ import annotations

import ast
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from bastion.core.types import Severity
from bastion.supplychain.context import Outcome, ScanContext, Source, TooLargeError, finding
from bastion.supplychain.pickles import analyse_pickles
from bastion.supplychain.templates import check_template
from bastion.supplychain.types import FileVerdict, ScanFinding

__all__ = [
    "GGML_TYPES",
    "SAFETENSORS_DTYPE_BITS",
    "gguf_general_metadata",
    "scan_gguf",
    "scan_npy",
    "scan_safetensors",
]


def _error(rule: str, message: str, offset: int | None = None) -> ScanFinding:
    return finding(rule, FileVerdict.ERROR, Severity.MEDIUM, message, offset)


# -- NumPy ----------------------------------------------------------------------------------------------
def scan_npy(source: Source, context: ScanContext) -> Outcome:
    """``.npy``: a literal header (read with ``ast.literal_eval``), then raw data or, for object arrays, a
    pickle that ``np.load(allow_pickle=True)`` would run."""
    head = source.head(16 + 65536)
    if len(head) < 10:
        return Outcome("numpy", [_error("numpy.truncated", "header is truncated")])
    major = head[6]
    if major == 1:
        (length,) = struct.unpack("<H", head[8:10])
        start = 10
    elif major in (2, 3):
        (length,) = struct.unpack("<I", head[8:12])
        start = 12
    else:
        return Outcome("numpy", [_error("numpy.version", f"unknown .npy version {major}")])
    if length > 65536 or start + length > len(head):
        return Outcome("numpy", [_error("numpy.header", "header is larger than 64 KiB or truncated")])
    try:
        text = head[start : start + length].decode("utf-8" if major == 3 else "latin-1")
        header = ast.literal_eval(text)
        descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
        dtype = np.lib.format.descr_to_dtype(descr)
    except (ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError, MemoryError, RecursionError):
        return Outcome("numpy", [_error("numpy.header", "header is not a valid .npy header")])
    if not (
        isinstance(shape, tuple)
        and all(isinstance(d, int) and d >= 0 for d in shape)
        and isinstance(fortran, bool)
    ):
        return Outcome("numpy", [_error("numpy.header", "shape or fortran_order is invalid")])
    data_start = start + length
    if dtype.hasobject:
        try:
            data = source.read(context.limits.max_file_bytes)
        except TooLargeError as error:
            return Outcome("numpy", [_error("file.too-large", str(error))])
        analysis = analyse_pickles(
            data[data_start:], context.policy, context.limits, max_pickles=1, budget=context.opcodes
        )
        findings = [
            finding(
                "numpy.object-array",
                FileVerdict.SAFE,
                Severity.LOW,
                "object array: its data is a pickle (np.load needs allow_pickle=True)",
                data_start,
            ),
            *analysis.findings,
        ]
        return Outcome("numpy-object", findings)
    expected = math.prod(shape) * dtype.itemsize
    if source.size - data_start < expected:
        return Outcome(
            "numpy", [_error("numpy.truncated", f"data holds {source.size - data_start} of {expected} bytes")]
        )
    return Outcome("numpy")


# -- safetensors ----------------------------------------------------------------------------------------
#: bits per element of each safetensors dtype
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:80]!r}")
        result[key] = value
    return result


def scan_safetensors(source: Source, context: ScanContext) -> Outcome:
    """safetensors: a JSON header (size-capped, duplicate keys refused), then tensor bytes whose offsets
    must lie inside the buffer, match dtype and shape, and neither overlap nor leave gaps."""
    with source.open() as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            return Outcome(
                "safetensors", [_error("safetensors.header-size", "file is shorter than 8 bytes", 0)]
            )
        (length,) = struct.unpack("<Q", prefix)
        if length > context.limits.max_header_bytes or length > source.size - 8:
            return Outcome(
                "safetensors", [_error("safetensors.header-size", "header size is out of bounds", 0)]
            )
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        return Outcome(
            "safetensors", [_error("safetensors.header-json", f"header is not valid JSON: {error}", 8)]
        )
    if not isinstance(header, dict):
        return Outcome("safetensors", [_error("safetensors.header-json", "header is not a JSON object", 8)])
    findings: list[ScanFinding] = []
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        findings.append(_error("safetensors.metadata", "__metadata__ must map strings to strings", 8))
    buffer = source.size - 8 - length
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        problem = _tensor_problem(info, buffer)
        if problem:
            findings.append(
                finding("safetensors.tensor", FileVerdict.ERROR, Severity.MEDIUM, problem, subject=name[:200])
            )
            continue
        if set(info) - {"dtype", "shape", "data_offsets"}:
            findings.append(
                finding(
                    "safetensors.extra-keys",
                    FileVerdict.SUSPICIOUS,
                    Severity.LOW,
                    "tensor entry has keys other than dtype, shape and data_offsets",
                    subject=name[:200],
                )
            )
        spans.append((info["data_offsets"][0], info["data_offsets"][1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin < position:
            findings.append(
                finding(
                    "safetensors.overlap",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    "tensor data overlaps another tensor",
                    subject=name[:200],
                )
            )
        elif begin > position:
            findings.append(
                finding(
                    "safetensors.gap",
                    FileVerdict.SUSPICIOUS,
                    Severity.LOW,
                    f"{begin - position} bytes before this tensor belong to no tensor (hidden data)",
                    subject=name[:200],
                )
            )
        position = max(position, end)
    if position < buffer and not findings:
        findings.append(
            finding(
                "safetensors.trailing",
                FileVerdict.SUSPICIOUS,
                Severity.LOW,
                f"{buffer - position} bytes after the last tensor belong to no tensor (hidden data)",
            )
        )
    return Outcome("safetensors", findings)


def _tensor_problem(info: Any, buffer: int) -> str:
    if not isinstance(info, dict):
        return "tensor entry is not an object"
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPE_BITS:
        return f"unknown dtype {str(dtype)[:20]!r}"
    if not (
        isinstance(shape, list)
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        return "shape must be a list of non-negative integers"
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        and 0 <= offsets[0] <= offsets[1] <= buffer
    ):
        return "data_offsets must be [begin, end] inside the data buffer"
    bits = math.prod(shape) * SAFETENSORS_DTYPE_BITS[str(dtype)]
    if (bits + 7) // 8 != offsets[1] - offsets[0]:
        return "data_offsets length does not match dtype and shape"
    return ""


# -- GGUF -----------------------------------------------------------------------------------------------
#: ggml tensor types: id -> (name, elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}
_GGUF_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_MAX_COUNT = 1 << 24
_TEMPLATE_KEY = "tokenizer.chat_template"


class _GGUFError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(slots=True)
class _Buffer:
    """Reads the file front on demand, up to a cap, so a 4 GB model costs only its metadata."""

    handle: BinaryIO
    cap: int
    data: bytes = b""
    pos: int = 0

    def need(self, count: int) -> None:
        end = self.pos + count
        if end <= len(self.data):
            return
        if end > self.cap:
            raise _GGUFError(f"metadata exceeds the cap of {self.cap} bytes", self.pos)
        want = min(self.cap, max(end, 2 * len(self.data), 1 << 22)) - len(self.data)
        self.data += self.handle.read(want)
        if end > len(self.data):
            raise _GGUFError("truncated: the file ends inside the metadata", self.pos)

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self, keep: bool = True) -> str:
        length = self.unpack("<Q")
        self.need(length)
        raw = self.data[self.pos : self.pos + length] if keep else b""
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _GGUFError("string is not UTF-8", self.pos - length) from error


def _gguf_value(buf: _Buffer, kind: int, keep: bool, depth: int = 0) -> Any:
    if kind in _GGUF_SCALARS:
        return buf.unpack(_GGUF_SCALARS[kind])
    if kind == 8:
        return buf.string(keep)
    if kind == 9:
        if depth > 2:
            raise _GGUFError("arrays nested too deeply", buf.pos)
        item_kind = buf.unpack("<I")
        count = buf.unpack("<Q")
        if count > _MAX_COUNT:
            raise _GGUFError(f"array of {count} items exceeds the cap", buf.pos)
        if item_kind in _GGUF_SCALARS:
            size = struct.calcsize(_GGUF_SCALARS[item_kind]) * count
            buf.need(size)
            buf.pos += size
            return None
        if item_kind == 8:
            _skip_strings(buf, count)
            return None
        for _ in range(count):
            _gguf_value(buf, item_kind, False, depth + 1)
        return None
    raise _GGUFError(f"unknown value type {kind}", buf.pos)


def _skip_strings(buf: _Buffer, count: int) -> None:
    """Step over ``count`` length-prefixed strings (token vocabularies: 100k+ entries) in a tight loop."""
    data, pos, unpack = buf.data, buf.pos, struct.unpack_from
    for _ in range(count):
        if pos + 8 > len(data):
            buf.pos = pos
            buf.need(8)
            data = buf.data
        (length,) = unpack("<Q", data, pos)
        pos += 8 + length
        if pos > len(data):
            buf.pos = pos - length
            buf.need(length)
            data = buf.data
    buf.pos = pos


def gguf_general_metadata(path: Path, cap: int = 100 * 1024 * 1024) -> dict[str, str]:
    """The ``general.*`` string and integer keys of a GGUF file (name, architecture, licence ...), for the
    AI-BOM; empty when the file is not a readable GGUF."""
    found: dict[str, str] = {}
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            return found
        buf = _Buffer(handle, min(cap, path.stat().st_size), b"GGUF", 4)
        try:
            if buf.unpack("<I") not in (2, 3):
                return found
            buf.unpack("<Q")
            kv_count = buf.unpack("<Q")
            for _ in range(min(kv_count, _MAX_COUNT)):
                key = buf.string()
                kind = buf.unpack("<I")
                value = _gguf_value(buf, kind, key.startswith("general."))
                if (
                    key.startswith("general.")
                    and isinstance(value, str | int)
                    and not isinstance(value, bool)
                ):
                    found[key] = str(value)[:200]
        except _GGUFError:
            return found
    return found


def scan_gguf(source: Source, context: ScanContext) -> Outcome:
    """GGUF: header, metadata (chat templates checked), tensor table (types, bounds, alignment, overlap)."""
    findings: list[ScanFinding] = []
    with source.open() as handle:
        buf = _Buffer(handle, min(context.limits.max_header_bytes, source.size))
        try:
            buf.pos = 4
            version = buf.unpack("<I")
            if version not in (2, 3):
                raise _GGUFError(f"unsupported GGUF version {version}", 4)
            tensor_count, kv_count = buf.unpack("<Q"), buf.unpack("<Q")
            if tensor_count > _MAX_COUNT or kv_count > _MAX_COUNT:
                raise _GGUFError("tensor or key count exceeds the cap", 8)
            alignment = 32
            for _ in range(kv_count):
                key = buf.string()
                kind = buf.unpack("<I")
                keep = key.startswith(_TEMPLATE_KEY) or key == "general.alignment"
                value = _gguf_value(buf, kind, keep)
                if key == "general.alignment":
                    if not isinstance(value, int) or value <= 0 or value & (value - 1):
                        raise _GGUFError("general.alignment must be a power of two", buf.pos)
                    alignment = value
                elif key.startswith(_TEMPLATE_KEY) and isinstance(value, str):
                    findings.extend(check_template(value, key, context.limits.max_template_chars))
            tensors = []
            for _ in range(tensor_count):
                name = buf.string()
                dims_count = buf.unpack("<I")
                if dims_count > 4:
                    raise _GGUFError(f"tensor with {dims_count} dimensions (at most 4)", buf.pos)
                dims = [buf.unpack("<Q") for _ in range(dims_count)]
                tensors.append((name, dims, buf.unpack("<I"), buf.unpack("<Q")))
            data_start = -(-buf.pos // alignment) * alignment
        except _GGUFError as error:
            return Outcome(
                "gguf", [*findings, _error("gguf.malformed", f"not a valid GGUF: {error}", error.offset)]
            )
    findings.extend(_check_tensors(tensors, data_start, source.size, alignment))
    return Outcome("gguf", findings)


def _check_tensors(
    tensors: list[tuple[str, list[int], int, int]], data_start: int, size: int, alignment: int
) -> list[ScanFinding]:
    findings: list[ScanFinding] = []
    spans: list[tuple[int, int, str]] = []
    for name, dims, kind, offset in tensors:
        if kind not in GGML_TYPES:
            findings.append(
                finding(
                    "gguf.tensor-type",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    f"unknown tensor type {kind}",
                    subject=name[:200],
                )
            )
            continue
        _, block, block_bytes = GGML_TYPES[kind]
        elements = math.prod(dims)
        if elements % block:
            findings.append(
                finding(
                    "gguf.tensor-shape",
                    FileVerdict.ERROR,
                    Severity.MEDIUM,
                    "element count is not a multiple of the block size",
                    subject=name[:200],
                )
            )
            continue
        nbytes = elements // block * block_bytes
        begin = data_start + offset
        if offset % alignment or begin + nbytes > size:
            findings.append(
                finding(
                    "gguf.tensor-bounds",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    "tensor data lies outside the file or off alignment (memory-safety attack on the loader)",
                    subject=name[:200],
                )
            )
            continue
        spans.append((begin, begin + nbytes, name))
    spans.sort()
    end = data_start
    for begin, stop, name in spans:
        if begin < end:
            findings.append(
                finding(
                    "gguf.tensor-overlap",
                    FileVerdict.SUSPICIOUS,
                    Severity.MEDIUM,
                    "tensor data overlaps another tensor",
                    subject=name[:200],
                )
            )
        end = max(end, stop)
    return findings
