"""The pickle walker on hand-written opcode streams: resolution of imports and calls, memo tricks, broken
streams, caps, and hostile bytes in bounded time. Nothing here is ever unpickled."""

from __future__ import annotations

import pickle
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.supplychain import FileVerdict, ScanLimits, load_policy, scan_bytes
from bastion.supplychain.pickles import analyse_pickles

P = pickle


def _u(text: str) -> bytes:
    raw = text.encode()
    return P.SHORT_BINUNICODE + bytes([len(raw)]) + raw


def _g(module: str, name: str) -> bytes:
    return P.GLOBAL + f"{module}\n{name}\n".encode()


def _rules(data: bytes) -> set[str]:
    return {f.rule for f in scan_bytes(data).findings}


def test_denied_global_has_offset_and_subject() -> None:
    data = P.PROTO + b"\x02" + _g("os", "system") + _u("id") + P.TUPLE1 + P.REDUCE + P.STOP
    result = scan_bytes(data)
    assert result.verdict is FileVerdict.MALICIOUS
    (item,) = result.findings
    assert item.offset == 2 and item.subject == "os.system" and "called at load time" in item.message


def test_allowlisted_globals_are_safe() -> None:
    data = pickle.dumps({"a": np.arange(3), "b": {1, 2}, "c": bytearray(b"x")}, protocol=2)
    assert scan_bytes(data).verdict is FileVerdict.SAFE


def test_unknown_class_is_suspicious_not_malicious() -> None:
    data = P.PROTO + b"\x02" + _g("mypackage.models", "Net") + P.EMPTY_TUPLE + P.NEWOBJ + P.STOP
    result = scan_bytes(data)
    assert result.verdict is FileVerdict.SUSPICIOUS
    assert result.findings[0].rule == "pickle.unknown-global"


def test_caller_allowlist_makes_a_custom_class_safe() -> None:
    data = P.PROTO + b"\x02" + _g("mypackage.models", "Net") + P.EMPTY_TUPLE + P.NEWOBJ + P.STOP
    result = scan_bytes(data, limits=ScanLimits(extra_allowed_globals=frozenset({"mypackage.models.Net"})))
    assert result.verdict is FileVerdict.SAFE


def test_memo_round_trip_of_strings_resolves_stack_global() -> None:
    data = (
        P.PROTO
        + b"\x04"
        + _u("subprocess")
        + P.MEMOIZE
        + _u("check_output")
        + P.MEMOIZE
        + P.POP
        + P.POP
        + P.BINGET
        + b"\x00"
        + P.BINGET
        + b"\x01"
        + P.STACK_GLOBAL
        + P.STOP
    )
    result = scan_bytes(data)
    assert result.verdict is FileVerdict.MALICIOUS
    assert result.findings[0].subject == "subprocess.check_output"


def test_missing_memo_key_is_a_parse_error_not_safe() -> None:
    data = P.PROTO + b"\x02" + P.BINGET + b"\x09" + P.STOP
    result = scan_bytes(data)
    assert result.verdict is FileVerdict.ERROR
    assert "memo key 9" in result.findings[0].message


def test_findings_before_a_broken_opcode_are_kept() -> None:
    data = P.PROTO + b"\x02" + _g("os", "system") + _u("id") + P.TUPLE1 + P.REDUCE + b"\xfe\xfd"
    result = scan_bytes(data)
    assert result.verdict is FileVerdict.MALICIOUS
    assert {"pickle.denied-global", "pickle.malformed"} <= {f.rule for f in result.findings}


def test_benign_pickle_then_garbage_is_still_safe() -> None:
    data = pickle.dumps([1, 2, 3], protocol=4) + b"\x00\x01 trailing bytes"
    assert scan_bytes(data).verdict is FileVerdict.SAFE


def test_empty_and_truncated_inputs_are_never_safe() -> None:
    assert scan_bytes(b"\x80\x04").verdict is FileVerdict.ERROR
    assert scan_bytes(b"\x80\x04\x95").verdict is FileVerdict.ERROR
    assert scan_bytes(P.PROTO + b"\x02" + P.TUPLE1 + P.STOP).verdict is FileVerdict.ERROR  # stack underflow


def test_empty_file_is_data() -> None:
    result = scan_bytes(b"")
    assert result.format == "data" and result.verdict is FileVerdict.SAFE


def test_build_on_an_imported_object_is_malicious() -> None:
    data = P.PROTO + b"\x02" + _g("collections", "OrderedDict") + P.EMPTY_DICT + P.BUILD + P.STOP
    assert "pickle.build-on-global" in _rules(data)


def test_dunder_state_key_is_flagged() -> None:
    data = (
        P.PROTO
        + b"\x02"
        + _g("collections", "OrderedDict")
        + P.EMPTY_TUPLE
        + P.REDUCE
        + P.EMPTY_DICT
        + _u("__reduce__")
        + P.NONE
        + P.SETITEM
        + P.BUILD
        + P.STOP
    )
    assert "pickle.dunder-state" in _rules(data)


def test_extension_codes_are_never_safe() -> None:
    for opcode, arg in ((P.EXT1, b"\x01"), (P.EXT2, b"\x01\x00"), (P.EXT4, b"\x01\x00\x00\x00")):
        data = P.PROTO + b"\x02" + opcode + arg + P.STOP
        assert scan_bytes(data).verdict is FileVerdict.SUSPICIOUS


def test_nested_loader_argument_is_scanned() -> None:
    inner = P.PROTO + b"\x02" + _g("os", "system") + P.STOP
    data = P.PROTO + b"\x02" + _g("torch.storage", "_load_from_bytes") + P.SHORT_BINBYTES
    data += bytes([len(inner)]) + inner + P.TUPLE1 + P.REDUCE + P.STOP
    result = scan_bytes(data)
    assert result.verdict is FileVerdict.MALICIOUS
    assert any(f.member.startswith("<nested pickle") and f.subject == "os.system" for f in result.findings)


def test_opcode_cap_bounds_work() -> None:
    data = P.PROTO + b"\x02" + P.EMPTY_LIST + (P.NONE + P.APPEND) * 20_000 + P.STOP
    result = scan_bytes(data, limits=ScanLimits(max_opcodes=1000))
    assert result.verdict is FileVerdict.ERROR
    assert "opcode cap" in result.findings[0].message


def test_deep_nesting_of_nested_pickles_is_capped() -> None:
    data = P.PROTO + b"\x02" + _g("os", "system") + P.STOP
    for _ in range(8):
        data = (
            P.PROTO
            + b"\x02"
            + _g("torch.storage", "_load_from_bytes")
            + P.BINBYTES
            + len(data).to_bytes(4, "little")
            + data
            + P.TUPLE1
            + P.REDUCE
            + P.STOP
        )
    result = scan_bytes(data, limits=ScanLimits(max_depth=3))
    assert "pickle.depth-cap" in {f.rule for f in result.findings}


def test_many_pickles_in_one_stream_are_all_walked() -> None:
    benign = pickle.dumps({"x": 1}, protocol=2)
    evil = P.PROTO + b"\x02" + _g("webbrowser", "open") + P.STOP
    result = analyse_pickles(benign * 5 + evil, load_policy(), ScanLimits())
    assert result.pickles == 6 and result.dangerous


def test_protocol_zero_text_without_payload_is_data() -> None:
    assert scan_bytes(b"cat and dog\nare animals\n").format == "data"
    assert scan_bytes(b"(just text").verdict is FileVerdict.SAFE


def test_huge_declared_lengths_fail_fast() -> None:
    data = P.PROTO + b"\x04" + P.BINUNICODE8 + (1 << 62).to_bytes(8, "little") + b"x" * 10
    started = time.perf_counter()
    assert scan_bytes(data).verdict is FileVerdict.ERROR
    assert time.perf_counter() - started < 1.0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = scan_bytes(b"\x80\x04" + data)
    assert result.verdict in set(FileVerdict)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_any_format_never_raise(data: bytes) -> None:
    result = scan_bytes(data)
    assert result.verdict in set(FileVerdict)
