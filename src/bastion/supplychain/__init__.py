"""Supply chain: static scanning of model files that never executes them, AI-BOMs and hash verification.

- :mod:`~bastion.supplychain.scanner` — :class:`Scanner` (paths -> :class:`FileResult` per file), the
  handler table by format;
- :mod:`~bastion.supplychain.pickles` — the pickle opcode walker (symbolic stack, memo, calls);
- :mod:`~bastion.supplychain.policy` — the globals allow/deny policy (data in ``data/supplychain/``);
- :mod:`~bastion.supplychain.archives`, :mod:`~bastion.supplychain.tensors`,
  :mod:`~bastion.supplychain.graphs`, :mod:`~bastion.supplychain.keras`,
  :mod:`~bastion.supplychain.templates` — the per-format handlers;
- :mod:`~bastion.supplychain.requirements` — unpinned and look-alike AI packages;
- :mod:`~bastion.supplychain.bom` and :mod:`~bastion.supplychain.verify` — CycloneDX 1.6 ML-BOM, lockfiles
  and verification; :mod:`~bastion.supplychain.sarif` — SARIF output.

Importing this package imports numpy and PyYAML only; the BOM needs the ``supplychain`` extra.
"""

from bastion.supplychain.policy import GlobalJudgement, GlobalsPolicy, load_policy
from bastion.supplychain.requirements import check_requirements, lookalike_of
from bastion.supplychain.sarif import render_sarif
from bastion.supplychain.scanner import HANDLERS, Scanner, scan_bytes, scan_paths
from bastion.supplychain.types import FileResult, FileVerdict, ScanFinding, ScanLimits, worst_verdict

__all__ = [
    "HANDLERS",
    "FileResult",
    "FileVerdict",
    "GlobalJudgement",
    "GlobalsPolicy",
    "ScanFinding",
    "ScanLimits",
    "Scanner",
    "check_requirements",
    "load_policy",
    "lookalike_of",
    "render_sarif",
    "scan_bytes",
    "scan_paths",
    "worst_verdict",
]
