"""Vendor questionnaire scoring and contract clause checks on real TXT, DOCX and PDF files (EN and DE)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bastion.cli.govern import govern_app
from bastion.core.errors import InputError
from bastion.govern._data import load_data
from bastion.govern.vendors import (
    Paragraph,
    VendorAnswers,
    assess_vendor,
    check_contract,
    check_paragraphs,
    read_paragraphs,
)

CLAUSES = load_data("contract_clauses.yaml")["clauses"]
GOOD = {
    "trains_on_customer_data": False,
    "retention_days": 0,
    "sub_processors_listed": True,
    "data_residency": "eu",
    "certifications": ["ISO 27001", "ISO 42001"],
    "incident_notification_hours": 24,
    "model_change_notice_days": 60,
    "dora_art30_provisions": True,
    "audit_rights": True,
    "exit_support": True,
    "gpai_documentation": True,
}
CONTRACT_EN = """MASTER SERVICES AGREEMENT

1. The services are described in Annex 1 (Description of Services).

2. Customer Data is stored and processed exclusively within the European Union.

3. The Processor implements the technical and organisational measures in Annex 3.

4. The Processor processes Personal Data only on documented instructions from the Controller.

5. The Provider shall notify the Customer of any security incident within 24 hours.

6. Customer Data will not be used to train or improve the Provider's models.

7. The Provider will use commercially reasonable efforts to cooperate with the competent authorities.
"""
CONTRACT_DE = """Auftragsverarbeitungsvertrag

§ 1 Der Auftragsverarbeiter verarbeitet die Daten nur auf dokumentierte Weisung des Verantwortlichen.

§ 2 Unterauftragsverarbeiter dürfen nur mit vorheriger Genehmigung des Verantwortlichen beauftragt werden.

§ 3 Nach Beendigung des Vertrags wird der Auftragsverarbeiter alle Daten löschen oder herausgeben.

§ 4 Der Kunde und die Aufsichtsbehörde haben umfassende Prüf- und Kontrollrechte.
"""


@pytest.mark.parametrize("clause", CLAUSES, ids=[c["id"] for c in CLAUSES])
def test_clause_examples(clause: dict[str, Any]) -> None:
    position = [c["id"] for c in CLAUSES].index(clause["id"])
    for text in clause["examples"]["match"]:
        assert check_paragraphs([Paragraph(text, "p1")])[position].status == "present", text
    for text in clause["examples"]["no_match"]:
        assert check_paragraphs([Paragraph(text, "p1")])[position].status != "present", text


def test_vendor_scoring_with_reasons() -> None:
    good = assess_vendor(VendorAnswers(vendor="Good AI", answers=GOOD))
    assert good.rating == "good" and good.score == good.maximum - 0
    bad = assess_vendor(VendorAnswers(vendor="Bad AI", answers={**GOOD, "trains_on_customer_data": True}))
    assert bad.rating == "unacceptable"
    item = next(i for i in bad.items if i.id == "trains_on_customer_data")
    assert item.points == 0 and "training" in item.reason and item.ref.startswith("GDPR")
    sparse = assess_vendor(VendorAnswers(vendor="Quiet AI", answers={"retention_days": 400}))
    assert sparse.rating == "poor"
    assert next(i for i in sparse.items if i.id == "audit_rights").reason == "not answered"


def test_text_contract_present_weak_missing(tmp_path: Path) -> None:
    path = tmp_path / "msa.txt"
    path.write_text(CONTRACT_EN, encoding="utf-8")
    result = {c.id: c for c in check_contract(path).clauses}
    assert result["data_location"].status == "present" and result["data_location"].location == "paragraph 3"
    assert "European Union" in result["data_location"].quote
    assert result["authority_cooperation"].status == "weak"
    assert result["audit_rights"].status == "missing" and result["exit_strategy"].status == "missing"
    assert check_contract(path).language == "en"


def test_docx_contract_in_german(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    for paragraph in CONTRACT_DE.split("\n\n"):
        document.add_paragraph(paragraph.strip())
    path = tmp_path / "avv.docx"
    document.save(str(path))
    result = check_contract(path)
    clauses = {c.id: c for c in result.clauses}
    assert result.language == "de"
    assert clauses["processing_instructions"].status == "present"
    assert clauses["sub_processors"].location == "paragraph 3"
    assert clauses["audit_rights"].status == "present" and "Prüf" in clauses["audit_rights"].quote
    assert clauses["no_training"].status == "missing"


def test_pdf_contract_reports_the_page(tmp_path: Path) -> None:
    fpdf = pytest.importorskip("fpdf")
    pytest.importorskip("pypdf")
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "1. The services are described in Annex 1.")
    pdf.add_page()
    pdf.multi_cell(
        0, 6, "2. The Customer and its supervisors have the right to audit the Provider's premises."
    )
    path = tmp_path / "contract.pdf"
    pdf.output(str(path))
    audit = next(c for c in check_contract(path).clauses if c.id == "audit_rights")
    assert audit.status == "present" and audit.location.startswith("page 2")


def test_bad_contract_files(tmp_path: Path) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.4 garbage")
    unknown = tmp_path / "contract.odt"
    unknown.write_bytes(b"x")
    with pytest.raises(InputError):
        read_paragraphs(fake)
    with pytest.raises(InputError, match="unsupported"):
        read_paragraphs(unknown)
    huge = tmp_path / "huge.txt"
    huge.write_text("reasonable efforts " * 60000, encoding="utf-8")
    assert all(c.status in {"missing", "weak"} for c in check_contract(huge).clauses)


def test_cli_vendor_and_contract(tmp_path: Path) -> None:
    answers = tmp_path / "vendor.yaml"
    answers.write_text(
        json.dumps({"vendor": "Good AI", "assessed_at": "2026-11-01", "answers": GOOD}), encoding="utf-8"
    )
    runner = CliRunner()
    result = runner.invoke(govern_app, ["vendor", "assess", str(answers), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["rating"] == "good"
    contract = tmp_path / "msa.txt"
    contract.write_text(CONTRACT_EN, encoding="utf-8")
    result = runner.invoke(govern_app, ["contract", "check", str(contract), "--format", "json"])
    assert result.exit_code == 0
    statuses = {c["id"]: c["status"] for c in json.loads(result.stdout)["clauses"]}
    assert statuses["no_training"] == "present"
