"""Graph formats in protobuf: ONNX models and TensorFlow SavedModels, read with a small wire-format walker
(no ``onnx``/``tensorflow`` import, no generated code; field numbers from the public ``onnx.proto`` and
``saved_model.proto`` / ``graph.proto`` / ``node_def.proto`` / ``function.proto`` schemas).

ONNX: operators from domains other than the standard ones need a custom-op library (native code) to run
-> suspicious; initializers whose external data path is absolute, climbs out with ``..`` or resolves
(through symlinks) outside the model folder -> malicious (arbitrary file read, CVE-2022-25882,
CVE-2024-27318). SavedModel: Python-callback ops (``PyFunc``, ``EagerPyFunc``) and file-system ops
(``WriteFile``, ``ReadFile``, ``MatchingFiles`` ...) in the graph or its function library.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from bastion.core.types import Severity
from bastion.supplychain.context import Outcome, ScanContext, Source, finding
from bastion.supplychain.types import FileVerdict, ScanFinding

__all__ = ["ProtobufError", "fields", "scan_protobuf"]

_MAX_DEPTH = 64
_MAX_ITEMS = 5_000_000
STANDARD_ONNX_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.ms.internal.nhwc",
    }
)
#: TensorFlow ops that call back into Python
TF_PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
#: TensorFlow ops that touch the file system outside the checkpoint machinery
TF_FILE_OPS = frozenset({"WriteFile", "ReadFile", "MatchingFiles", "ImmutableConst", "DebugIdentityV3"})
_ONNX_TOP = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26})


class ProtobufError(Exception):
    """Bytes that are not a well-formed protobuf message."""


def _varint(data: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ProtobufError("truncated or oversized varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of one message: ints for varint and fixed
    fields, memoryview slices for length-delimited ones. Groups are refused."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos, end)
        elif wire == 1:
            if pos + 8 > end:
                raise ProtobufError("truncated fixed64")
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            if pos + 4 > end:
                raise ProtobufError("truncated fixed32")
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        elif wire == 2:
            length, pos = _varint(data, pos, end)
            if pos + length > end:
                raise ProtobufError("length-delimited field runs past its message")
            value, pos = data[pos : pos + length], pos + length
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, memoryview) else ""


def _top_numbers(data: memoryview) -> dict[int, int]:
    seen: dict[int, int] = {}
    for number, wire, _ in fields(data):
        seen[number] = wire
    return seen


def scan_protobuf(source: Source, context: ScanContext) -> Outcome:
    """A file that starts like a protobuf: an ONNX model, a SavedModel, or opaque data."""
    with source.view() as raw:
        data = memoryview(raw)
        try:
            try:
                top = _top_numbers(data)
            except ProtobufError:
                return Outcome("data")
            if top.get(7) == 2 and set(top) <= _ONNX_TOP and top.get(1) in (None, 0):
                return _scan_onnx(data, source, context)
            if set(top) <= {1, 2} and top.get(2) == 2 and top.get(1) in (None, 0):
                return _scan_saved_model(data)
            return Outcome("data")
        finally:
            data.release()


# -- ONNX -----------------------------------------------------------------------------------------------
class _OnnxWalk:
    def __init__(self, source: Source) -> None:
        self.findings: list[ScanFinding] = []
        self.items = 0
        self.function_domains: set[str] = set()
        self.custom: dict[str, set[str]] = {}
        self.source = source

    def tick(self) -> None:
        self.items += 1
        if self.items > _MAX_ITEMS:
            raise ProtobufError("too many graph elements")

    def graph(self, data: memoryview, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ProtobufError("subgraphs nested too deeply")
        for number, wire, value in fields(data):
            self.tick()
            if wire != 2:
                continue
            if number == 1:
                self.node(value, depth)
            elif number == 5:
                self.tensor(value)
            elif number == 15:  # SparseTensorProto: values (1) and indices (2) are tensors
                for sub_number, sub_wire, sub in fields(value):
                    if sub_number in (1, 2) and sub_wire == 2:
                        self.tensor(sub)

    def node(self, data: memoryview, depth: int) -> None:
        op_type, domain = "", ""
        for number, wire, value in fields(data):
            if number == 4 and wire == 2:
                op_type = _text(value)
            elif number == 7 and wire == 2:
                domain = _text(value)
            elif number == 5 and wire == 2:
                self.attribute(value, depth)
        if domain not in STANDARD_ONNX_DOMAINS:
            self.custom.setdefault(domain, set()).add(op_type)

    def attribute(self, data: memoryview, depth: int) -> None:
        for number, wire, value in fields(data):
            if wire != 2:
                continue
            if number in (6, 11):  # g, graphs
                self.graph(value, depth + 1)
            elif number in (5, 10):  # t, tensors
                self.tensor(value)

    def tensor(self, data: memoryview) -> None:
        external = False
        location = ""
        name = ""
        for number, wire, value in fields(data):
            if number == 14 and wire == 0:
                external = value == 1
            elif number == 8 and wire == 2:
                name = _text(value)
            elif number == 13 and wire == 2:
                key, text = "", ""
                for sub_number, sub_wire, sub in fields(value):
                    if sub_wire == 2 and sub_number == 1:
                        key = _text(sub)
                    elif sub_wire == 2 and sub_number == 2:
                        text = _text(sub)
                if key == "location":
                    location = text
        if external or location:
            self.external(location, name)

    def external(self, location: str, tensor: str) -> None:
        why = _escapes(location, self.source)
        if why:
            self.findings.append(
                finding(
                    "onnx.external-data-escape",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    f"external data of tensor '{tensor[:80]}' is read from outside the model folder ({why})",
                    subject=location[:200],
                )
            )


def _escapes(location: str, source: Source) -> str:
    normalised = location.replace("\\", "/")
    if not normalised:
        return "empty location"
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(normalised).parts:
        return "parent-directory (..) component"
    if source.path is not None and source.folder is not None:
        base = source.path.parent
        try:
            target = (base / normalised).resolve()
            root = source.folder.resolve()
        except (OSError, RuntimeError):
            return "path cannot be resolved"
        if target != root and root not in target.parents:
            return "resolves outside the folder through a link"
    return ""


def _scan_onnx(data: memoryview, source: Source, context: ScanContext) -> Outcome:
    walk = _OnnxWalk(source)
    try:
        for number, wire, value in fields(data):
            if wire != 2:
                continue
            if number == 7:
                walk.graph(value, 0)
            elif number == 20:  # TrainingInfoProto: initialization (1) and algorithm (3) graphs
                for sub_number, sub_wire, sub in fields(value):
                    if sub_number in (1, 3) and sub_wire == 2:
                        walk.graph(sub, 1)
            elif number == 25:  # FunctionProto: domain (10), nodes (5)
                domain = ""
                for sub_number, sub_wire, sub in fields(value):
                    if sub_number == 10 and sub_wire == 2:
                        domain = _text(sub)
                    elif sub_number == 5 and sub_wire == 2:
                        walk.node(sub, 1)
                walk.function_domains.add(domain)
    except (ProtobufError, RecursionError) as error:
        return Outcome(
            "onnx",
            [
                finding(
                    "onnx.malformed", FileVerdict.ERROR, Severity.MEDIUM, f"not a valid ONNX model: {error}"
                )
            ],
        )
    for domain, ops in sorted(walk.custom.items()):
        if domain in walk.function_domains:
            continue
        walk.findings.append(
            finding(
                "onnx.custom-operator",
                FileVerdict.SUSPICIOUS,
                Severity.MEDIUM,
                f"operators {', '.join(sorted(ops))[:200]} from custom domain '{domain[:80]}' need a native "
                "custom-op library to run",
                subject=domain[:200],
            )
        )
    return Outcome("onnx", walk.findings)


# -- TensorFlow SavedModel ------------------------------------------------------------------------------
def _node_ops(data: memoryview, ops: dict[str, int], depth: int) -> None:
    """Collect NodeDef.op (field 2) of a GraphDef node (field 1) or a FunctionDef node_def (field 3)."""
    for number, wire, value in fields(data):
        if number == 2 and wire == 2:
            name = _text(value)
            ops[name] = ops.get(name, 0) + 1


def _graph_ops(data: memoryview, ops: dict[str, int]) -> None:
    for number, wire, value in fields(data):
        if wire != 2:
            continue
        if number == 1:
            _node_ops(value, ops, 0)
        elif number == 2:  # FunctionDefLibrary: function (1) -> FunctionDef.node_def (3)
            for lib_number, lib_wire, function in fields(value):
                if lib_number == 1 and lib_wire == 2:
                    for fn_number, fn_wire, node in fields(function):
                        if fn_number == 3 and fn_wire == 2:
                            _node_ops(node, ops, 1)


def _scan_saved_model(data: memoryview) -> Outcome:
    ops: dict[str, int] = {}
    try:
        for number, wire, meta in fields(data):
            if number == 2 and wire == 2:
                for meta_number, meta_wire, graph in fields(meta):
                    if meta_number == 2 and meta_wire == 2:
                        _graph_ops(graph, ops)
    except (ProtobufError, RecursionError) as error:
        return Outcome(
            "tensorflow-savedmodel",
            [
                finding(
                    "tensorflow.malformed",
                    FileVerdict.ERROR,
                    Severity.MEDIUM,
                    f"not a valid SavedModel: {error}",
                )
            ],
        )
    if not ops:
        return Outcome("data")
    findings: list[ScanFinding] = []
    for op in sorted(ops):
        if op in TF_PYTHON_OPS:
            findings.append(
                finding(
                    "tensorflow.python-op",
                    FileVerdict.MALICIOUS,
                    Severity.CRITICAL,
                    f"op {op} calls Python code at run time",
                    subject=op,
                )
            )
        elif op in TF_FILE_OPS:
            findings.append(
                finding(
                    "tensorflow.file-op",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    f"op {op} reads or writes files at run time",
                    subject=op,
                )
            )
    return Outcome("tensorflow-savedmodel", findings)


def folder_of(source: Source) -> Path | None:
    """The folder references of ``source`` resolve against (its parent on disk)."""
    return source.path.parent if source.path is not None else None
