"""The labelled corpus: every malicious sample (each technique and published bypass) is caught with the rule
that names the technique, every benign real model is safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bastion.supplychain import FileVerdict, Scanner

#: file -> (verdict, a rule that must be among the findings)
EXPECTED = {
    "reduce-os-system-p0.pkl": ("malicious", "pickle.denied-global"),
    "reduce-os-system-p5.pkl": ("malicious", "pickle.denied-global"),
    "p0-builtin-alias-eval.pkl": ("malicious", "pickle.denied-global"),
    "p4-memo-stack-global.pkl": ("malicious", "pickle.denied-global"),
    "memo-callable-binget.pkl": ("malicious", "pickle.denied-global"),
    "inst-opcode.pkl": ("malicious", "pickle.denied-global"),
    "obj-opcode.pkl": ("malicious", "pickle.denied-global"),
    "newobj-ex-popen.pkl": ("malicious", "pickle.denied-global"),
    "ext1-registry.pkl": ("suspicious", "pickle.extension-code"),
    "broken-after-reduce.pkl": ("malicious", "pickle.malformed"),
    "truncated-after-reduce.pkl": ("malicious", "pickle.malformed"),
    "second-pickle.pkl": ("malicious", "pickle.denied-global"),
    "exotic-torch-dotted-os.pkl": ("malicious", "pickle.denied-global"),
    "numpy-builtins-dunder.pkl": ("malicious", "pickle.dunder-walk"),
    "build-monkeypatch.pkl": ("malicious", "pickle.build-on-global"),
    "computed-stack-global.pkl": ("malicious", "pickle.computed-global"),
    "operator-methodcaller.pkl": ("malicious", "pickle.computed-call"),
    "torch-zip-renamed-pkl.pt": ("malicious", "pickle.denied-global"),
    "torch-zip-bad-crc.pt": ("malicious", "pickle.denied-global"),
    "torch-zip-name-mismatch.pt": ("malicious", "archive.name-mismatch"),
    "torch-zip-odd-path.pt": ("malicious", "archive.path-traversal"),
    "torch-legacy-reduce.pt": ("malicious", "pickle.denied-global"),
    "torch-legacy-tar.tar": ("malicious", "pickle.denied-global"),
    "nested-zips.zip": ("malicious", "pickle.denied-global"),
    "zip-traversal.zip": ("malicious", "archive.path-traversal"),
    "tar-traversal.tar": ("malicious", "archive.path-traversal"),
    "tar-symlink-escape.tar": ("malicious", "archive.link-escape"),
    "zip-bomb-ratio.zip": ("suspicious", "archive.ratio"),
    "fake-7z.pt": ("suspicious", "archive.unsupported"),
    "joblib-compressed.joblib": ("malicious", "pickle.denied-global"),
    "numpy-object-array.npy": ("malicious", "pickle.denied-global"),
    "npz-object-array.npz": ("malicious", "pickle.denied-global"),
    "gguf-template-hex-escaped.gguf": ("malicious", "template.dunder-string"),
    "gguf-template-concat.gguf": ("malicious", "template.dunder-string"),
    "gguf-template-join-pieces.gguf": ("malicious", "template.dunder-string"),
    "gguf-tensor-oob.gguf": ("malicious", "gguf.tensor-bounds"),
    "tokenizer_config.json": ("malicious", "template.private-attribute"),
    "safetensors-header-overflow.safetensors": ("error", "safetensors.header-size"),
    "safetensors-overlap.safetensors": ("suspicious", "safetensors.overlap"),
    "onnx-external-escape.onnx": ("malicious", "onnx.external-data-escape"),
    "onnx-external-absolute.onnx": ("malicious", "onnx.external-data-escape"),
    "onnx-custom-op.onnx": ("suspicious", "onnx.custom-operator"),
    "keras-lambda.keras": ("malicious", "keras.lambda"),
    "keras-module-os.keras": ("malicious", "keras.denied-object"),
    "keras-get-file.keras": ("malicious", "keras.denied-object"),
    "keras-lambda.h5": ("malicious", "keras.lambda"),
    "savedmodel-writefile.pb": ("malicious", "tensorflow.file-op"),
    "savedmodel-pyfunc.pb": ("malicious", "tensorflow.python-op"),
    "requirements.txt": ("malicious", "requirements.lookalike"),
}


def _scan(root: Path, sample: dict[str, Any]) -> Any:
    path = root / sample["path"]
    return Scanner().scan_file(path, folder=path.parent)


def test_every_malicious_sample_is_caught(corpus: tuple[Path, list[dict[str, Any]]]) -> None:
    root, samples = corpus
    malicious = [s for s in samples if s["label"] == "malicious"]
    assert len(malicious) >= 80
    missed = [s["path"] for s in malicious if _scan(root, s).verdict is FileVerdict.SAFE]
    assert not missed, f"reported safe: {missed}"


def test_malicious_samples_carry_the_technique_rule(corpus: tuple[Path, list[dict[str, Any]]]) -> None:
    root, samples = corpus
    by_name = {Path(s["path"]).name: s for s in samples if s["label"] == "malicious"}
    assert set(EXPECTED) <= set(by_name)
    wrong = []
    for name, (verdict, rule) in EXPECTED.items():
        result = _scan(root, by_name[name])
        rules = {f.rule for f in result.findings}
        if result.verdict.value != verdict or rule not in rules:
            wrong.append((name, result.verdict.value, sorted(rules)))
    assert not wrong


def test_every_benign_model_is_safe(corpus: tuple[Path, list[dict[str, Any]]]) -> None:
    root, samples = corpus
    benign = [s for s in samples if s["label"] == "benign"]
    assert len(benign) >= 20
    flagged = {}
    for sample in benign:
        result = _scan(root, sample)
        if result.verdict is not FileVerdict.SAFE:
            flagged[sample["path"]] = [f.to_dict() for f in result.findings]
    assert not flagged


def test_benign_formats_are_recognised(corpus: tuple[Path, list[dict[str, Any]]]) -> None:
    root, samples = corpus
    formats = {Path(s["path"]).name: _scan(root, s).format for s in samples if s["label"] == "benign"}
    assert formats["torch-state-dict.pt"] == "pytorch-zip"
    assert formats["torch-legacy.pt"] == "pytorch-legacy"
    assert formats["sklearn-forest.joblib"] == "joblib"
    assert formats["sklearn-forest-z.joblib"] == "zlib+joblib"
    assert formats["numpy-arrays.npz"] == "numpy-npz"
    assert formats["small.gguf"] == "gguf"
    assert formats["keras-dense.keras"] == "keras-v3"
    assert formats["savedmodel.pb"] == "tensorflow-savedmodel"
    assert formats["model-handmade.onnx"] == "onnx"
    assert formats["model-folder.tar.gz"] == "gzip+tar"


def test_folder_scan_reports_one_entry_per_file(corpus: tuple[Path, list[dict[str, Any]]]) -> None:
    root, samples = corpus
    results = Scanner().scan([root / "benign"])
    paths = {Path(r.path).relative_to(root).as_posix() for r in results}
    assert {s["path"] for s in samples if s["label"] == "benign"} <= paths


@pytest.mark.parametrize("protocol", range(6))
def test_reduce_payload_every_protocol(corpus: tuple[Path, list[dict[str, Any]]], protocol: int) -> None:
    root, _ = corpus
    result = Scanner().scan_file(root / "malicious" / f"reduce-os-system-p{protocol}.pkl")
    assert result.verdict is FileVerdict.MALICIOUS
    assert any(f.subject in ("posix.system", "os.system", "nt.system") for f in result.findings)
