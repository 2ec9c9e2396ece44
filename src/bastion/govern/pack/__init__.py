"""The audit pack: HTML and PDF for auditors and supervisors, OSCAL JSON, Annex IV skeletons, policies.

>>> sorted(PACK_FORMATS)
['html', 'oscal', 'pdf']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from bastion.core.errors import UsageError
from bastion.govern.assessment import Assessment
from bastion.govern.classify import render_text
from bastion.govern.pack.documents import annex_iv, policy_documents
from bastion.govern.pack.html import render_html
from bastion.govern.pack.oscal import OSCAL_FILES, validate, write_oscal
from bastion.govern.pack.pdf import render_pdf

__all__ = ["OSCAL_FILES", "PACK_FORMATS", "validate", "write_pack"]

PACK_FORMATS = frozenset({"html", "pdf", "oscal"})


def _documents(assessment: Assessment, directory: Path) -> list[Path]:
    written = []
    for system in assessment.inventory.systems:
        path = directory / f"annex-iv-{system.id}.md"
        path.write_text(annex_iv(assessment, system), encoding="utf-8")
        written.append(path)
    for name, text in policy_documents(assessment).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    path = directory / "classification.md"
    path.write_text(render_text(list(assessment.classifications)), encoding="utf-8")
    written.append(path)
    path = directory / "classification.json"
    path.write_text(
        json.dumps([c.to_dict() for c in assessment.classifications], indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    written.append(path)
    return written


def write_pack(assessment: Assessment, directory: Path, formats: Iterable[str]) -> list[Path]:
    """Write the pack in ``formats`` (html, pdf, oscal) into ``directory``; returns the files written.
    The Markdown documents (Annex IV per system, AI policy, risk procedure, classification) always come
    along."""
    chosen = set(formats)
    unknown = chosen - PACK_FORMATS
    if unknown or not chosen:
        raise UsageError(f"--format: expected one or more of {', '.join(sorted(PACK_FORMATS))}")
    directory.mkdir(parents=True, exist_ok=True)
    written = _documents(assessment, directory)
    if "html" in chosen:
        path = directory / "audit-pack.html"
        path.write_text(render_html(assessment, [p.name for p in written]), encoding="utf-8")
        written.append(path)
    if "pdf" in chosen:
        written.append(render_pdf(assessment, directory / "audit-pack.pdf"))
    if "oscal" in chosen:
        written += write_oscal(assessment, directory)
    return written
