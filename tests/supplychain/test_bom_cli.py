"""AI-BOM, verification, requirements checks and the ``bastion supplychain`` commands (Typer's runner)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from bastion.cli.supplychain import FAIL_EXIT, supplychain_app
from bastion.supplychain import FileVerdict, check_requirements
from bastion.supplychain.bom import build_entries, render_cyclonedx, render_lockfile
from bastion.supplychain.requirements import parse_requirements
from bastion.supplychain.verify import HashStatus, read_expected, verify_folder

runner = CliRunner()
EVIL = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x85R."
CARD = """---
license: apache-2.0
datasets:
- imdb
- glue
base_model: google/gemma-3-270m
pipeline_tag: text-classification
language: [en, de]
---
# Model
"""


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    torch = pytest.importorskip("torch")
    folder = tmp_path / "my-model"
    folder.mkdir()
    net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    torch.save(net.state_dict(), folder / "pytorch_model.bin")
    (folder / "config.json").write_text('{"architectures": ["Tiny"]}', "utf-8")
    (folder / "README.md").write_text(CARD, "utf-8")
    (folder / "requirements.txt").write_text("torch==2.13.0\nnumpy>=1.26\n", "utf-8")
    return folder


# -- requirements -----------------------------------------------------------------------------------------
def test_requirements_parsing_and_findings() -> None:
    text = (
        "# comment\n-r other.txt\ntorch==2.5.1 --hash=sha256:" + "a" * 64 + "\n"
        "transformers>=4.40\nnumpy\nrequets==2.0\ngit+https://example.invalid/x.git#egg=thing\n"
        "scikit_learn[alldeps]==1.5.0 ; python_version >= '3.10'\nlocal @ file:///tmp/x\n"
    )
    names = [(r.name, r.pinned, r.url) for r in parse_requirements(text)]
    assert ("torch", True, False) in names and ("scikit-learn", True, False) in names
    assert ("transformers", False, False) in names and ("local", False, True) in names
    findings = {(f.rule, f.subject) for f in check_requirements(text)}
    assert ("requirements.unpinned", "transformers") in findings
    assert ("requirements.unpinned", "numpy") in findings
    assert ("requirements.lookalike", "requets") in findings
    assert ("requirements.url", "thing") in findings
    assert not any(subject == "torch" for _, subject in findings)


# -- BOM and verify ---------------------------------------------------------------------------------------
def test_cyclonedx_bom_has_models_hashes_card_and_datasets(model_folder: Path) -> None:
    entries = build_entries(model_folder)
    bom = json.loads(render_cyclonedx(model_folder, entries))
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    components = {c["name"]: c for c in bom["components"]}
    model = components["pytorch_model.bin"]
    assert model["type"] == "machine-learning-model"
    assert {h["alg"] for h in model["hashes"]} == {"SHA-256", "SHA-512"}
    properties = {p["name"]: p["value"] for p in model["properties"]}
    assert properties["bastion:format"] == "pytorch-zip" and properties["bastion:framework"] == "pytorch"
    assert properties["bastion:verdict"] == "safe"
    assert model["licenses"][0]["license"]["id"] == "Apache-2.0"
    card = model["modelCard"]
    assert card["modelParameters"]["task"] == "text-classification"
    datasets = {c["bom-ref"]: c["name"] for c in bom["components"] if c["type"] == "data"}
    assert sorted(datasets.values()) == ["glue", "imdb"]
    assert {d["ref"] for d in card["modelParameters"]["datasets"]} == set(datasets)
    library = components["torch"]
    assert library["type"] == "library" and library["purl"] == "pkg:pypi/torch@2.13.0"


def test_bom_validates_against_the_cyclonedx_schema(model_folder: Path) -> None:
    pytest.importorskip("jsonschema")
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = render_cyclonedx(model_folder, build_entries(model_folder))
    try:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    except Exception as error:  # the validator needs optional format checkers; skip when absent
        pytest.skip(f"schema validation unavailable: {error}")
    assert errors is None, errors


def test_verify_against_bom_and_lockfile(model_folder: Path, tmp_path: Path) -> None:
    entries = build_entries(model_folder)
    bom_path = tmp_path / "bom.json"
    bom_path.write_text(render_cyclonedx(model_folder, entries), "utf-8")
    lock_path = tmp_path / "model.lock"
    lock_path.write_text(render_lockfile(entries), "utf-8")
    for reference in (bom_path, lock_path):
        checks = verify_folder(model_folder, read_expected(reference))
        assert {c.status for c in checks} == {HashStatus.OK}
    (model_folder / "config.json").write_text('{"architectures": ["Evil"]}', "utf-8")
    (model_folder / "README.md").unlink()
    (model_folder / "extra.pkl").write_bytes(EVIL)
    statuses = {c.path: c.status for c in verify_folder(model_folder, read_expected(bom_path))}
    assert statuses["config.json"] is HashStatus.CHANGED
    assert statuses["README.md"] is HashStatus.MISSING
    assert statuses["extra.pkl"] is HashStatus.UNLISTED
    assert statuses["pytorch_model.bin"] is HashStatus.OK


def test_lockfile_with_escaping_path_is_refused(tmp_path: Path) -> None:
    from bastion.core.errors import InputError

    lock = tmp_path / "bad.lock"
    lock.write_text("0" * 64 + "  ../../etc/passwd\n", "utf-8")
    with pytest.raises(InputError):
        read_expected(lock)


# -- CLI --------------------------------------------------------------------------------------------------
def test_scan_json_contract_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "evil.bin").write_bytes(EVIL)
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps({"a": [1, 2]}, protocol=4))
    result = runner.invoke(supplychain_app, ["scan", str(tmp_path), "--format", "json"])
    assert result.exit_code == FAIL_EXIT
    payload = json.loads(result.stdout)
    assert set(payload) == {"files"}
    by_name = {Path(f["path"]).name: f for f in payload["files"]}
    assert set(by_name) == {"evil.bin", "ok.pkl"}
    for entry in payload["files"]:
        assert {"path", "format", "verdict", "findings"} <= set(entry)
    assert by_name["evil.bin"]["verdict"] == "malicious" and by_name["evil.bin"]["format"] == "pickle"
    assert by_name["evil.bin"]["findings"][0]["subject"] == "os.system"
    assert by_name["ok.pkl"]["verdict"] == "safe"
    clean = runner.invoke(supplychain_app, ["scan", str(tmp_path / "ok.pkl"), "--format", "json"])
    assert clean.exit_code == 0


def test_scan_archive_members_are_findings_of_the_container(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("model/weights.pkl", EVIL)
    result = runner.invoke(supplychain_app, ["scan", str(tmp_path / "bundle.zip"), "--format", "json"])
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["verdict"] == "malicious"
    assert entry["findings"][0]["member"] == "model/weights.pkl"


def test_fail_on_and_allow_options(tmp_path: Path) -> None:
    custom = b"\x80\x02cmypkg.models\nNet\n)\x81."
    (tmp_path / "custom.pkl").write_bytes(custom)
    path = str(tmp_path / "custom.pkl")
    assert runner.invoke(supplychain_app, ["scan", path]).exit_code == FAIL_EXIT
    assert runner.invoke(supplychain_app, ["scan", path, "--fail-on", "malicious"]).exit_code == 0
    assert runner.invoke(supplychain_app, ["scan", path, "--allow", "mypkg.models.Net"]).exit_code == 0
    assert runner.invoke(supplychain_app, ["scan", path, "--fail-on", "sometimes"]).exit_code == 2
    assert runner.invoke(supplychain_app, ["scan", path, "--format", "xml"]).exit_code == 2
    assert runner.invoke(supplychain_app, ["scan", str(tmp_path / "missing.pkl")]).exit_code == 1


def test_scan_sarif_and_table(tmp_path: Path) -> None:
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    out = tmp_path / "report.sarif"
    result = runner.invoke(
        supplychain_app, ["scan", str(tmp_path / "evil.pkl"), "--format", "sarif", "--output", str(out)]
    )
    assert result.exit_code == FAIL_EXIT
    sarif = json.loads(out.read_text("utf-8"))
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["pickle.denied-global"]
    assert run["results"][0]["level"] == "error"
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "evil.pkl"
    )
    table = runner.invoke(supplychain_app, ["scan", str(tmp_path / "evil.pkl")])
    assert "malicious" in table.stdout and "os.system" in table.stdout


def test_bom_and_verify_commands(model_folder: Path, tmp_path: Path) -> None:
    bom_path = tmp_path / "bom.json"
    result = runner.invoke(supplychain_app, ["bom", str(model_folder), "--output", str(bom_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(bom_path.read_text("utf-8"))["specVersion"] == "1.6"
    lock = runner.invoke(supplychain_app, ["bom", str(model_folder), "--format", "lock"])
    assert lock.exit_code == 0 and "pytorch_model.bin" in lock.stdout
    ok = runner.invoke(
        supplychain_app, ["verify", str(model_folder), "--against", str(bom_path), "--format", "json"]
    )
    assert ok.exit_code == 0 and json.loads(ok.stdout)["summary"]["ok"] == 4
    (model_folder / "pytorch_model.bin").write_bytes(EVIL)
    bad = runner.invoke(supplychain_app, ["verify", str(model_folder), "--against", str(bom_path)])
    assert bad.exit_code == FAIL_EXIT and "changed" in bad.stdout
    assert runner.invoke(supplychain_app, ["bom", str(model_folder), "--format", "spdx"]).exit_code == 2


def test_verdict_order() -> None:
    assert [v.rank for v in FileVerdict] == [0, 1, 2, 3]


GOLDEN = Path(__file__).parent / "golden" / "evil.sarif"


def test_sarif_matches_the_golden_file() -> None:
    """Same input, same SARIF (the tool version is normalised); regenerate with BASTION_REGENERATE=1."""
    import os

    from bastion.supplychain import render_sarif, scan_bytes

    results = [
        scan_bytes(EVIL, "models/evil.pkl"),
        scan_bytes(b"\x80\x02cmypkg\nNet\n.", "models/custom.pkl"),
        scan_bytes(pickle.dumps([1, 2], protocol=2), "models/ok.pkl"),
    ]
    text = render_sarif(results)
    document = json.loads(text)
    document["runs"][0]["tool"]["driver"]["version"] = "X"
    normalised = json.dumps(document, indent=2) + "\n"
    if os.environ.get("BASTION_REGENERATE"):
        GOLDEN.write_text(normalised, "utf-8")
    assert normalised == GOLDEN.read_text("utf-8")


def test_gguf_general_metadata_reaches_the_bom(tmp_path: Path, builder: ModuleType) -> None:
    folder = tmp_path / "gguf-model"
    folder.mkdir()
    metadata = {"general.architecture": "llama", "general.name": "Tiny", "general.license": "mit"}
    (folder / "tiny.gguf").write_bytes(builder._gguf(metadata))
    bom = json.loads(render_cyclonedx(folder, build_entries(folder)))
    (model,) = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    properties = {p["name"]: p["value"] for p in model["properties"]}
    assert properties["bastion:gguf:general.name"] == "Tiny"
    assert properties["bastion:framework"] == "llama.cpp"
    assert model["licenses"][0]["license"]["id"] == "MIT"
