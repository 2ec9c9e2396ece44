"""The scanner: walks paths, detects each file's format by content and runs its handler.

Data flow::

    paths ─► files (folders recursively, symlinks judged, not followed)
          ─► Source ─► sniff(head) ─► HANDLERS[format](source, context) ─► Outcome(format, findings)
                                          │ containers (zip, tar, gzip ...) call context.scan_member(...)
                                          ▼ for each member, one level deeper, findings re-labelled
          ─► FileResult(path, format, verdict = worst finding, findings)

Handlers never raise on hostile input: a parse failure is an ``error`` finding, an unexpected exception is
caught here and reported as ``error`` (never ``safe``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from bastion.core.errors import InputError
from bastion.core.types import Severity
from bastion.supplychain import archives, graphs, keras, requirements, tensors
from bastion.supplychain.context import Handler, Outcome, ScanContext, Source, TooLargeError, finding
from bastion.supplychain.pickles import TORCH_LEGACY_MAGIC, Buffer, analyse_pickles
from bastion.supplychain.policy import load_policy
from bastion.supplychain.sniff import sniff, sniff_requirements_name
from bastion.supplychain.types import FileResult, FileVerdict, ScanLimits, worst_verdict

__all__ = ["HANDLERS", "Scanner", "scan_bytes", "scan_paths"]

logger = logging.getLogger(__name__)
#: protocol 0/1 candidates (no signature) are probed this far
_PROBE_BYTES = 1024 * 1024


def _scan_pickle(source: Source, context: ScanContext) -> Outcome:
    return _pickle_outcome(source, context, strong=True)


def _probe_pickle(source: Source, context: ScanContext) -> Outcome:
    """A protocol 0/1 pickle has no signature: walk it and call it a pickle only if it parses or imports."""
    outcome = _pickle_outcome(source, context, strong=False)
    if outcome.format == "data":
        return Outcome("data")
    return outcome


def _pickle_outcome(source: Source, context: ScanContext, strong: bool) -> Outcome:
    with source.view() as whole:
        # a protocol 0/1 payload runs from the start: probe only the front of a candidate
        data = whole if strong or len(whole) <= _PROBE_BYTES else whole[:_PROBE_BYTES]
        return _walk_pickles(data, context, strong)


def _walk_pickles(data: Buffer, context: ScanContext, strong: bool) -> Outcome:
    policy, limits, budget = context.policy, context.limits, context.opcodes
    analysis = analyse_pickles(data, policy, limits, strong=strong, max_pickles=1, budget=budget)
    fmt = "pickle"
    if analysis.complete and analysis.first_result == TORCH_LEGACY_MAGIC:
        # legacy torch.save: magic, protocol, sys_info, model, storage keys, then raw storage bytes
        analysis = analyse_pickles(data, policy, limits, strong=strong, max_pickles=5, budget=budget)
        fmt = "pytorch-legacy"
    elif analysis.complete and analysis.end_offset < len(data):
        analysis = analyse_pickles(data, policy, limits, strong=strong, budget=budget)
    elif not strong and not analysis.complete:
        # text that happens to start like a protocol 0 pickle: only a denied import makes it one
        kept = [f for f in analysis.findings if f.verdict is FileVerdict.MALICIOUS]
        return Outcome("pickle", kept) if kept else Outcome("data")
    if any(g.startswith("joblib.") for g in analysis.globals):
        fmt = "joblib"
    return Outcome(fmt, list(analysis.findings))


def _scan_unsupported(source: Source, context: ScanContext) -> Outcome:
    return archives.scan_unsupported(source, context)


def _scan_data(source: Source, context: ScanContext) -> Outcome:
    return Outcome("data")


#: format (as :func:`sniff` names it) -> handler; third parties extend it before scanning
HANDLERS: dict[str, Handler] = {
    "pickle": _scan_pickle,
    "pickle?": _probe_pickle,
    "zip": archives.scan_zip,
    "tar": archives.scan_tar,
    "gzip": archives.scan_compressed,
    "bzip2": archives.scan_compressed,
    "xz": archives.scan_compressed,
    "zlib": archives.scan_compressed,
    "7z": _scan_unsupported,
    "rar": _scan_unsupported,
    "zstd": _scan_unsupported,
    "lz4": _scan_unsupported,
    "numpy": tensors.scan_npy,
    "safetensors": tensors.scan_safetensors,
    "gguf": tensors.scan_gguf,
    "hdf5": keras.scan_hdf5,
    "json": keras.scan_json,
    "protobuf?": graphs.scan_protobuf,
    "data": _scan_data,
}


def _dispatch(source: Source, context: ScanContext) -> Outcome:
    if sniff_requirements_name(Path(source.name).name):
        return requirements.scan_requirements_source(source, context)
    head = source.head(4096)
    fmt = sniff(head, source.size)
    try:
        return HANDLERS[fmt](source, context)
    except RecursionError:
        return Outcome(
            fmt, [finding("scan.recursion", FileVerdict.ERROR, Severity.MEDIUM, "nested too deeply")]
        )


class Scanner:
    """Scans files and folders with one policy and one set of limits.

    >>> Scanner().scan(["model.pt"])  # doctest: +SKIP
    """

    def __init__(self, limits: ScanLimits | None = None) -> None:
        self.limits = limits or ScanLimits()
        self.policy = load_policy(self.limits.extra_allowed_globals)

    def new_context(self) -> ScanContext:
        """A fresh context (budgets reset) for one top-level file; handlers receive it."""
        return ScanContext(
            self.policy,
            self.limits,
            _dispatch,
            budget=[self.limits.max_total_bytes],
            opcodes=[self.limits.max_opcodes],
        )

    def scan_source(self, source: Source, display: str | None = None) -> FileResult:
        """Judge one source; exceptions from handlers become an ``error`` verdict."""
        started = time.perf_counter()
        try:
            outcome = _dispatch(source, self.new_context())
        except (OSError, MemoryError, ValueError, TooLargeError) as error:
            outcome = Outcome(
                "unknown",
                [finding("scan.failed", FileVerdict.ERROR, Severity.MEDIUM, f"{type(error).__name__}")],
            )
        except Exception as error:  # a handler bug must not turn into "safe" or a crash
            logger.warning("supplychain handler failed", extra={"error": type(error).__name__})
            outcome = Outcome(
                "unknown",
                [
                    finding(
                        "scan.failed",
                        FileVerdict.ERROR,
                        Severity.MEDIUM,
                        f"scanner failure: {type(error).__name__}",
                    )
                ],
            )
        verdict = worst_verdict([f.verdict for f in outcome.findings])
        return FileResult(
            display or source.name,
            outcome.format,
            verdict,
            tuple(outcome.findings),
            source.size,
            time.perf_counter() - started,
        )

    def scan(self, paths: Iterable[str | Path]) -> list[FileResult]:
        """One result per file: files as given, folders recursively (sorted)."""
        results: list[FileResult] = []
        for raw in paths:
            path = Path(raw)
            if not path.exists() and not path.is_symlink():
                raise InputError(f"{path}: no such file or folder")
            if path.is_dir():
                for file_path, problem in _walk(path, self.limits.max_folder_files):
                    results.append(problem if problem else self.scan_file(file_path, folder=path))
            else:
                results.append(self.scan_file(path, folder=path.parent))
        return results

    def scan_file(self, path: Path, folder: Path | None = None) -> FileResult:
        """Judge one file on disk (``folder``: the model folder its references must stay inside)."""
        try:
            size = path.stat().st_size
        except OSError as error:
            return FileResult(
                str(path),
                "unknown",
                FileVerdict.ERROR,
                (finding("file.unreadable", FileVerdict.ERROR, Severity.MEDIUM, type(error).__name__),),
            )
        return self.scan_source(Source(str(path), size, path=path, folder=folder or path.parent))

    def scan_bytes(self, data: bytes, name: str = "<bytes>") -> FileResult:
        """Judge bytes held in memory (references to other files cannot be checked)."""
        return self.scan_source(Source(name, len(data), data=data))


def _walk(root: Path, cap: int) -> Iterator[tuple[Path, FileResult | None]]:
    count = 0
    resolved_root = root.resolve()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if (Path(folder) / d).is_symlink()):
            path = Path(folder) / name
            count += 1
            if count > cap:
                yield (
                    path,
                    FileResult(
                        str(root),
                        "folder",
                        FileVerdict.ERROR,
                        (
                            finding(
                                "folder.too-many-files",
                                FileVerdict.ERROR,
                                Severity.MEDIUM,
                                f"over {cap} files",
                            ),
                        ),
                    ),
                )
                return
            if path.is_symlink():
                yield path, _symlink_result(path, resolved_root)
            elif path.is_file():
                yield path, None


def _symlink_result(path: Path, root: Path) -> FileResult:
    target = path.resolve()
    if target == root or root in target.parents:
        return FileResult(
            str(path),
            "symlink",
            FileVerdict.SAFE,
            (
                finding(
                    "folder.symlink",
                    FileVerdict.SAFE,
                    Severity.INFO,
                    "symlink inside the folder; target scanned",
                ),
            ),
        )
    return FileResult(
        str(path),
        "symlink",
        FileVerdict.SUSPICIOUS,
        (
            finding(
                "folder.symlink-escape",
                FileVerdict.SUSPICIOUS,
                Severity.HIGH,
                "symlink points outside the scanned folder; its target was not scanned",
            ),
        ),
    )


def scan_paths(paths: Iterable[str | Path], limits: ScanLimits | None = None) -> list[FileResult]:
    """Scan files and folders with the shipped policy (see :class:`Scanner`)."""
    return Scanner(limits).scan(paths)


def scan_bytes(data: bytes, name: str = "<bytes>", limits: ScanLimits | None = None) -> FileResult:
    """Scan bytes held in memory."""
    return Scanner(limits).scan_bytes(data, name)


def verdicts(results: Iterable[FileResult]) -> FileVerdict:
    """The worst verdict over many results."""
    return worst_verdict([r.verdict for r in results])
