"""Static analysis of pickle streams: an opcode walker with a symbolic stack and memo, never ``pickle.load``.

The walker reads opcodes with :mod:`pickletools`' argument readers and simulates the unpickler's stack,
memo and mark stack with inert values (:class:`_Global`, :class:`_Call`, constants), so it resolves what
the unpickler would import and call: ``GLOBAL``/``STACK_GLOBAL``/``INST`` imports, memo round trips
(``MEMOIZE``/``BINGET``), ``REDUCE``/``NEWOBJ``/``OBJ`` calls, ``BUILD`` on imported objects, extension
codes. Every finding carries the opcode offset. The unpickler runs opcodes in order, so whatever comes before
a broken or truncated opcode still runs: findings made before a parse error are kept ("nullifAI").

Formats that interleave raw data with pickle opcodes are handled here: joblib writes each numpy array's
bytes right after the ``BUILD`` of its ``NumpyArrayWrapper`` (and a whole second pickle for object arrays).
"""

from __future__ import annotations

import math
import mmap
import pickletools
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bastion.core.types import Severity
from bastion.supplychain.policy import GlobalsPolicy
from bastion.supplychain.types import FileVerdict, ScanFinding, ScanLimits

__all__ = ["TORCH_LEGACY_MAGIC", "PickleAnalysis", "analyse_pickles", "looks_like_pickle"]

#: first pickle of a legacy (non-zip) ``torch.save`` file
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_JOBLIB_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
#: what the walker reads: bytes in memory or a read-only memory map of a file
Buffer = bytes | mmap.mmap
_CODE2OP: dict[str, Any] = pickletools.code2op  # type: ignore[attr-defined]
_PROTO = b"\x80"


class _ParseError(Exception):
    """The stream is not a valid pickle at this offset (the unpickler would raise here)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _View:
    """A read-only file interface over a buffer (bytes or a memory map) that never copies it whole; what
    :mod:`pickletools`' argument readers need."""

    __slots__ = ("data", "pos")

    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.pos = 0

    def read(self, count: int = -1) -> bytes:
        end = len(self.data) if count < 0 else min(self.pos + count, len(self.data))
        chunk = bytes(self.data[self.pos : end])
        self.pos = end
        return chunk

    def readline(self) -> bytes:
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        return self.read(end - self.pos)

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int) -> None:
        self.pos = pos


class _Unknown:
    """A value the scan does not model (a persistent id, an out-of-band buffer, a loaded array)."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


@dataclass(slots=True)
class _Seen:
    module: str
    name: str
    offset: int
    called: bool = False
    extension: bool = False
    nested_loader: bool = False
    joblib_wrapper: bool = False


@dataclass(eq=False, slots=True)
class _Global:
    module: str
    name: str
    offset: int
    extension: bool = False
    seen: _Seen | None = None

    @property
    def full(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False, slots=True)
class _Call:
    func: Any
    args: Any
    offset: int
    state: Any = None


@dataclass(slots=True)
class PickleAnalysis:
    """What the walker found in one stream (possibly several pickles one after another)."""

    findings: list[ScanFinding] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)
    pickles: int = 0
    complete: bool = False
    error: str = ""
    error_offset: int | None = None
    end_offset: int = 0
    first_result: Any = None

    @property
    def dangerous(self) -> bool:
        return any(f.verdict is FileVerdict.MALICIOUS for f in self.findings)


def looks_like_pickle(head: bytes) -> bool:
    """Strong content signal: a ``PROTO`` opcode with a known protocol (2-5) at the start."""
    return len(head) >= 2 and head[:1] == _PROTO and 2 <= head[1] <= 5


class _Walker:
    def __init__(
        self, data: Buffer, policy: GlobalsPolicy, limits: ScanLimits, depth: int, budget: list[int]
    ) -> None:
        self.data = data
        self.stream = _View(data)
        self.policy = policy
        self.limits = limits
        self.depth = depth
        self.budget = budget  # opcodes left, shared with nested walkers
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.extra: list[ScanFinding] = []

    # -- findings ---------------------------------------------------------------------------------------
    def _finding(
        self,
        rule: str,
        verdict: FileVerdict,
        severity: Severity,
        message: str,
        offset: int,
        subject: str = "",
    ) -> None:
        self.extra.append(ScanFinding(rule, verdict, severity, message, offset, "", subject))

    def _import(self, module: str, name: str, offset: int, extension: bool = False) -> _Global:
        key = (module, name)
        seen = self.seen.get(key)
        if seen is None:
            nested = not extension and self.policy.is_nested_loader(module, name)
            joblib = f"{module}.{name}" == _JOBLIB_WRAPPER
            seen = self.seen[key] = _Seen(module, name, offset, False, extension, nested, joblib)
        return _Global(module, name, offset, extension, seen)

    def _called(self, func: Any, args: Any, offset: int, opcode: str) -> _Call:
        if isinstance(func, _Global):
            seen = func.seen
            assert seen is not None
            seen.called = True
            if seen.nested_loader:
                self._nested(func, args, offset)
        elif isinstance(func, _Call):
            self._finding(
                "pickle.computed-call",
                FileVerdict.MALICIOUS,
                Severity.HIGH,
                f"{opcode} calls the result of an earlier call (a callable built at load time)",
                offset,
            )
        elif isinstance(func, _Unknown):
            self._finding(
                "pickle.computed-call",
                FileVerdict.SUSPICIOUS,
                Severity.MEDIUM,
                f"{opcode} calls a value this scan cannot resolve ({func.what})",
                offset,
            )
        return _Call(func, args, offset)

    def _nested(self, func: _Global, args: Any, offset: int) -> None:
        payload = args[0] if isinstance(args, tuple) and args else None
        if not isinstance(payload, bytes | bytearray):
            self._finding(
                "pickle.nested-unresolved",
                FileVerdict.SUSPICIOUS,
                Severity.HIGH,
                f"{func.full} loads a pickle built at load time; it cannot be scanned",
                offset,
                func.full,
            )
            return
        inner = analyse_pickles(
            bytes(payload), self.policy, self.limits, depth=self.depth + 1, budget=self.budget
        )
        for finding in inner.findings:
            self.extra.append(finding.inside(f"<nested pickle @{offset}>"))

    # -- reading --------------------------------------------------------------------------------------
    def _line(self, pos: int, offset: int) -> tuple[str, int]:
        end = self.data.find(b"\n", pos)
        if end < 0:
            raise _ParseError("truncated line argument", offset)
        try:
            return self.data[pos:end].decode("utf-8"), end + 1
        except UnicodeDecodeError as error:
            raise _ParseError("line argument is not UTF-8", offset) from error

    def _slow_arg(self, op: Any, pos: int, offset: int) -> tuple[Any, int]:
        """Read the argument of a rare opcode with pickletools' reader."""
        stream = self.stream
        stream.seek(pos)
        try:
            arg = op.arg.reader(stream) if op.arg is not None else None
        except ValueError as error:
            raise _ParseError(f"{op.name}: {error}", offset) from error
        return arg, stream.tell()

    def walk(self, start: int) -> tuple[Any, int]:
        """Walk one pickle from ``start`` up to its STOP; returns (result, offset after STOP).

        The common binary opcodes are decoded inline from the buffer (the hot path); the rest go through
        :mod:`pickletools`' readers.
        """
        data = self.data
        size = len(data)
        stack: list[Any] = []
        metastack: list[list[Any]] = []
        memo: dict[int, Any] = {}
        unpack = struct.unpack_from
        pos = start
        budget = self.budget[0]

        def pop_mark(offset: int) -> list[Any]:
            nonlocal stack
            if not metastack:
                raise _ParseError("no MARK to pop to", offset)
            items = stack
            stack = metastack.pop()
            return items

        try:
            while True:
                if pos >= size:
                    raise _ParseError("truncated: the stream ends before STOP", pos)
                offset = pos
                code = data[pos]
                pos += 1
                budget -= 1
                if budget < 0:
                    raise _ParseError(f"opcode cap of {self.limits.max_opcodes} reached", offset)
                if code == 0x68:  # BINGET
                    if pos + 1 > size:
                        raise _ParseError("truncated argument", offset)
                    key = data[pos]
                    pos += 1
                    if key not in memo:
                        raise _ParseError(f"memo key {key} was never stored", offset)
                    stack.append(memo[key])
                elif code == 0x94:  # MEMOIZE
                    memo[len(memo)] = stack[-1]
                elif code == 0x4B:  # BININT1
                    if pos + 1 > size:
                        raise _ParseError("truncated argument", offset)
                    stack.append(data[pos])
                    pos += 1
                elif code == 0x71:  # BINPUT
                    if pos + 1 > size:
                        raise _ParseError("truncated argument", offset)
                    memo[data[pos]] = stack[-1]
                    pos += 1
                elif code == 0x28:  # MARK
                    metastack.append(stack)
                    stack = []
                elif code == 0x52:  # REDUCE
                    args = stack.pop()
                    self.budget[0] = budget
                    stack[-1] = self._called(stack[-1], args, offset, "REDUCE")
                    budget = self.budget[0]
                elif code == 0x74:  # TUPLE
                    items = pop_mark(offset)  # rebinds `stack`: call it before touching the list
                    stack.append(tuple(items))
                elif code in {140, 88}:  # SHORT_BINUNICODE, BINUNICODE
                    width = 1 if code == 0x8C else 4
                    if pos + width > size:
                        raise _ParseError("truncated argument", offset)
                    length = data[pos] if width == 1 else unpack("<I", data, pos)[0]
                    pos += width
                    if pos + length > size:
                        raise _ParseError("truncated argument", offset)
                    try:
                        stack.append(data[pos : pos + length].decode("utf-8", "surrogatepass"))
                    except UnicodeDecodeError as error:
                        raise _ParseError("string is not UTF-8", offset) from error
                    pos += length
                elif code == 0x4E:  # NONE
                    stack.append(None)
                elif code == 0x47:  # BINFLOAT
                    if pos + 8 > size:
                        raise _ParseError("truncated argument", offset)
                    stack.append(unpack(">d", data, pos)[0])
                    pos += 8
                elif code == 0x85:  # TUPLE1
                    stack[-1] = (stack[-1],)
                elif code == 0x4D:  # BININT2
                    if pos + 2 > size:
                        raise _ParseError("truncated argument", offset)
                    stack.append(unpack("<H", data, pos)[0])
                    pos += 2
                elif code == 0x62:  # BUILD
                    state = stack.pop()
                    self.budget[0] = budget
                    pos = self._build(stack[-1], state, offset, stack, pos)
                    budget = self.budget[0]
                elif code == 0x87:  # TUPLE3
                    third = stack.pop()
                    second = stack.pop()
                    stack[-1] = (stack[-1], second, third)
                elif code == 0x7D:  # EMPTY_DICT
                    stack.append({})
                elif code == 0x86:  # TUPLE2
                    second = stack.pop()
                    stack[-1] = (stack[-1], second)
                elif code == 0x75:  # SETITEMS
                    items = pop_mark(offset)
                    target = stack[-1]
                    if isinstance(target, dict):
                        _pairs(target, items)
                elif code == 0x29:  # EMPTY_TUPLE
                    stack.append(())
                elif code in {93, 143}:  # EMPTY_LIST, EMPTY_SET
                    stack.append([])
                elif code in {101, 144}:  # APPENDS, ADDITEMS
                    items = pop_mark(offset)
                    target = stack[-1]
                    if isinstance(target, list):
                        target.extend(items)
                elif code == 0x73:  # SETITEM
                    value = stack.pop()
                    key_value = stack.pop()
                    target = stack[-1]
                    if isinstance(target, dict):
                        _pairs(target, [key_value, value])
                elif code == 0x61:  # APPEND
                    value = stack.pop()
                    target = stack[-1]
                    if isinstance(target, list):
                        target.append(value)
                elif code in {67, 66}:  # SHORT_BINBYTES, BINBYTES
                    width = 1 if code == 0x43 else 4
                    if pos + width > size:
                        raise _ParseError("truncated argument", offset)
                    length = data[pos] if width == 1 else unpack("<I", data, pos)[0]
                    pos += width
                    if pos + length > size:
                        raise _ParseError("truncated argument", offset)
                    stack.append(data[pos : pos + length])
                    pos += length
                elif code in {136, 137}:  # NEWTRUE, NEWFALSE
                    stack.append(code == 0x88)
                elif code == 0x4A:  # BININT
                    if pos + 4 > size:
                        raise _ParseError("truncated argument", offset)
                    stack.append(unpack("<i", data, pos)[0])
                    pos += 4
                elif code == 0x93:  # STACK_GLOBAL
                    attr = stack.pop()
                    module = stack.pop()
                    if isinstance(module, str) and isinstance(attr, str):
                        stack.append(self._import(module, attr, offset))
                    else:
                        self._finding(
                            "pickle.computed-global",
                            FileVerdict.MALICIOUS,
                            Severity.HIGH,
                            "STACK_GLOBAL with a module or name computed at load time",
                            offset,
                        )
                        stack.append(_Unknown("computed global"))
                elif code == 0x81:  # NEWOBJ
                    args = stack.pop()
                    stack[-1] = self._called(stack[-1], args, offset, "NEWOBJ")
                elif code == 0x51:  # BINPERSID
                    stack[-1] = _Unknown("persistent id")
                elif code == 0x72:  # LONG_BINPUT
                    if pos + 4 > size:
                        raise _ParseError("truncated argument", offset)
                    memo[unpack("<I", data, pos)[0]] = stack[-1]
                    pos += 4
                elif code == 0x6A:  # LONG_BINGET
                    if pos + 4 > size:
                        raise _ParseError("truncated argument", offset)
                    key = unpack("<I", data, pos)[0]
                    pos += 4
                    if key not in memo:
                        raise _ParseError(f"memo key {key} was never stored", offset)
                    stack.append(memo[key])
                elif code == 0x95:  # FRAME
                    if pos + 8 > size:
                        raise _ParseError("truncated argument", offset)
                    pos += 8
                elif code == 0x80:  # PROTO
                    if pos + 1 > size:
                        raise _ParseError("truncated argument", offset)
                    pos += 1
                elif code == 0x2E:  # STOP
                    return stack.pop(), pos
                elif code == 0x30:  # POP
                    if stack:
                        stack.pop()
                    else:
                        pop_mark(offset)
                elif code == 0x96:  # BYTEARRAY8
                    if pos + 8 > size:
                        raise _ParseError("truncated argument", offset)
                    length = unpack("<Q", data, pos)[0]
                    pos += 8
                    if pos + length > size:
                        raise _ParseError("truncated argument", offset)
                    stack.append(bytearray(data[pos : pos + length]))
                    pos += length
                else:
                    op = _CODE2OP.get(chr(code))
                    if op is None:
                        raise _ParseError(f"unknown opcode 0x{code:02x}", offset)
                    name = op.name
                    if name == "INST":
                        module, pos = self._line(pos, offset)
                        attr, pos = self._line(pos, offset)
                        glob = self._import(module, attr, offset)
                        items = pop_mark(offset)
                        self.budget[0] = budget
                        stack.append(self._called(glob, tuple(items), offset, "INST"))
                        budget = self.budget[0]
                    elif name == "OBJ":
                        items = pop_mark(offset)
                        if not items:
                            raise _ParseError("OBJ without a class", offset)
                        self.budget[0] = budget
                        stack.append(self._called(items[0], tuple(items[1:]), offset, "OBJ"))
                        budget = self.budget[0]
                    elif name in ("LIST", "FROZENSET"):
                        items = pop_mark(offset)
                        stack.append(list(items))
                    elif name == "DICT":
                        items = pop_mark(offset)
                        stack.append(_pairs({}, items))
                    elif name == "POP_MARK":
                        pop_mark(offset)
                    else:
                        self.budget[0] = budget
                        pos = self._rare(op, pos, offset, stack, memo)
                        budget = self.budget[0]
        except IndexError as error:
            raise _ParseError("stack underflow", offset) from error
        finally:
            self.budget[0] = budget

    def _rare(self, op: Any, pos: int, offset: int, stack: list[Any], memo: dict[int, Any]) -> int:
        """Opcodes outside the hot path that do not pop to a MARK (text protocols, rare values, EXT)."""
        name = op.name
        if name == "GLOBAL":
            module, pos = self._line(pos, offset)
            attr, pos = self._line(pos, offset)
            stack.append(self._import(module, attr, offset))
            return pos
        arg, pos = self._slow_arg(op, pos, offset)
        if name in _CONST_OPS:
            stack.append(arg)
        elif name == "NEXT_BUFFER":
            stack.append(_Unknown("out-of-band buffer"))
        elif name == "READONLY_BUFFER":
            pass
        elif name == "BYTEARRAY8":
            stack.append(bytearray(arg or b""))
        elif name == "DUP":
            stack.append(stack[-1])
        elif name == "GET":
            index = int(arg)
            if index not in memo:
                raise _ParseError(f"memo key {index} was never stored", offset)
            stack.append(memo[index])
        elif name == "PUT":
            if int(arg) < 0:
                raise _ParseError("negative memo key", offset)
            memo[int(arg)] = stack[-1]
        elif name in ("EXT1", "EXT2", "EXT4"):
            self._finding(
                "pickle.extension-code",
                FileVerdict.SUSPICIOUS,
                Severity.HIGH,
                f"{name} imports through the copyreg extension registry (code {arg}); the target "
                "depends on the loading process and cannot be checked",
                offset,
                f"extension:{arg}",
            )
            stack.append(self._import("<extension>", str(arg), offset, extension=True))
        elif name == "NEWOBJ_EX":
            stack.pop()
            args = stack.pop()
            stack[-1] = self._called(stack[-1], args, offset, "NEWOBJ_EX")
        elif name == "PERSID":
            stack.append(_Unknown("persistent id"))
        else:  # pragma: no cover - every opcode of pickletools is handled here or in walk
            raise _ParseError(f"unhandled opcode {name}", offset)
        return pos

    def _build(self, target: Any, state: Any, offset: int, stack: list[Any], pos: int) -> int:
        if isinstance(target, _Global):
            self._finding(
                "pickle.build-on-global",
                FileVerdict.MALICIOUS,
                Severity.CRITICAL,
                f"BUILD sets attributes of the imported object {target.full} (monkey-patching a module, "
                "class or function at load time)",
                offset,
                target.full,
            )
            return pos
        for key in _state_keys(state) if isinstance(state, dict | tuple) else ():
            if isinstance(key, str) and key[:2] == "__" and key.endswith("__"):
                self._finding(
                    "pickle.dunder-state",
                    FileVerdict.MALICIOUS,
                    Severity.HIGH,
                    f"BUILD state sets the special attribute {key}",
                    offset,
                    key,
                )
        if isinstance(target, _Call):
            target.state = state
            func = target.func
            joblib = isinstance(func, _Global) and func.seen is not None and func.seen.joblib_wrapper
            if joblib and isinstance(state, dict):
                stack[-1], pos = self._skip_joblib_array(state, offset, pos)
        return pos

    def _skip_joblib_array(self, state: dict[Any, Any], offset: int, pos: int) -> tuple[Any, int]:
        """Step over the array bytes joblib writes after a NumpyArrayWrapper (or scan its nested pickle)."""
        dtype = state.get("dtype")
        shape = state.get("shape")
        if not (isinstance(dtype, _Call) and isinstance(dtype.args, tuple) and dtype.args):
            raise _ParseError("joblib array wrapper without a readable dtype", offset)
        if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise _ParseError("joblib array wrapper without a valid shape", offset)
        try:
            np_dtype = np.dtype(str(dtype.args[0]))
        except (TypeError, ValueError) as error:
            raise _ParseError("joblib array wrapper with an invalid dtype", offset) from error
        if np_dtype.hasobject:
            # object arrays are written as a whole pickle that joblib loads with the plain unpickler
            _, end = self.walk(pos)
            return _Unknown("object array"), end
        if state.get("numpy_array_alignment_bytes") is not None:
            if pos >= len(self.data):
                raise _ParseError("truncated joblib array padding", offset)
            pos += 1 + self.data[pos]
        end = pos + math.prod(shape) * np_dtype.itemsize
        if end > len(self.data):
            raise _ParseError("joblib array extends past the end of the file", offset)
        return _Unknown("numpy array"), end

    def findings(self) -> list[ScanFinding]:
        found: list[ScanFinding] = []
        for seen in self.seen.values():
            if seen.extension:
                continue
            judgement = self.policy.judge(seen.module, seen.name)
            full = f"{seen.module}.{seen.name}"
            if judgement.verdict is FileVerdict.SAFE:
                continue
            called = " - called at load time" if seen.called else ""
            severity = judgement.severity
            if judgement.verdict is FileVerdict.SUSPICIOUS and seen.called:
                severity = Severity.HIGH
            rule = (
                "pickle.denied-global"
                if judgement.verdict is FileVerdict.MALICIOUS
                else "pickle.unknown-global"
            )
            if judgement.rule == "dunder-walk":
                rule = "pickle.dunder-walk"
            found.append(
                ScanFinding(
                    rule,
                    judgement.verdict,
                    severity,
                    f"{full}: {judgement.reason}{called}",
                    seen.offset,
                    "",
                    full,
                )
            )
        return found + self.extra


_CONST_OPS = frozenset(
    {
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
        "UNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "FLOAT",
        "BINFLOAT",
    }
)


def _pairs(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for index in range(0, len(items) - 1, 2):
        try:
            target[items[index]] = items[index + 1]
        except TypeError:  # unhashable key: the unpickler would fail or build something we skip
            continue
    return target


def _state_keys(state: Any) -> list[Any]:
    keys: list[Any] = []
    if isinstance(state, dict):
        keys.extend(state)
    elif isinstance(state, tuple) and len(state) == 2:
        for part in state:
            if isinstance(part, dict):
                keys.extend(part)
    return keys


def analyse_pickles(
    data: Buffer,
    policy: GlobalsPolicy,
    limits: ScanLimits,
    *,
    strong: bool = True,
    max_pickles: int | None = None,
    depth: int = 0,
    budget: list[int] | None = None,
) -> PickleAnalysis:
    """Walk the pickles in ``data`` one after another (as repeated ``pickle.load`` calls would).

    ``strong``: the caller knows this is a pickle, so a parse error in the first pickle is an ``error``
    finding (never safe); otherwise parse errors are left to the caller to interpret. Trailing bytes that
    do not parse as a further pickle are ignored, but findings made in them before the error are kept.
    """
    result = PickleAnalysis()
    budget = budget if budget is not None else [limits.max_opcodes]
    if depth > limits.max_depth:
        result.findings.append(
            ScanFinding(
                "pickle.depth-cap",
                FileVerdict.ERROR,
                Severity.MEDIUM,
                f"nested pickles deeper than {limits.max_depth}",
            )
        )
        return result
    walker = _Walker(data, policy, limits, depth, budget)
    limit = max_pickles or limits.max_pickles_per_stream
    position = 0
    while position < len(data) and result.pickles < limit:
        try:
            value, end = walker.walk(position)
        except _ParseError as error:
            if result.pickles == 0:
                result.error, result.error_offset = str(error), error.offset
            break
        if result.pickles == 0:
            result.first_result = value if isinstance(value, int | str | bytes | tuple) else None
            result.complete = True
        result.pickles += 1
        position = end
    result.end_offset = position
    result.findings = walker.findings()
    result.globals = sorted(f"{m}.{n}" for (m, n) in walker.seen)
    if result.error and strong:
        result.findings.append(
            ScanFinding(
                "pickle.malformed",
                FileVerdict.ERROR,
                Severity.MEDIUM,
                f"not a valid pickle: {result.error} (what runs before this point still runs on load)",
                result.error_offset,
            )
        )
    return result
