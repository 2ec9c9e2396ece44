"""AI-BOM: a CycloneDX 1.6 ML-BOM of a model folder or project, and a plain hash lockfile.

Every file becomes a component with its SHA-256 (and SHA-512 for models) and a ``bastion:path`` property
(the path relative to the scanned folder, what ``verify`` matches on). Model files (the scanner's format
says so) are ``machine-learning-model`` components with format, framework and scan verdict as properties
and a ``modelCard`` built from the Hugging Face model card (``README.md`` front matter): task, base model,
library, languages, licence, and the datasets it names, which become ``data`` components the model card
references. Pinned requirements become ``library`` components with a ``pkg:pypi`` purl.

cyclonedx-python-lib (the ``supplychain`` extra) builds and serialises the BOM; it has no model-card type
yet, so the ``modelCard`` objects are added to its JSON output by ``bom-ref``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bastion import __version__
from bastion.core.errors import InputError, UpstreamError
from bastion.supplychain.requirements import parse_requirements
from bastion.supplychain.scanner import Scanner
from bastion.supplychain.sniff import sniff_requirements_name
from bastion.supplychain.tensors import gguf_general_metadata
from bastion.supplychain.types import FileResult, ScanLimits

__all__ = [
    "BomEntry",
    "ModelCard",
    "build_entries",
    "hash_file",
    "read_model_card",
    "render_cyclonedx",
    "render_lockfile",
]

#: scanner format -> framework named in the BOM
FRAMEWORKS = {
    "pickle": "python-pickle",
    "joblib": "scikit-learn/joblib",
    "pytorch-zip": "pytorch",
    "pytorch-legacy": "pytorch",
    "pytorch-legacy-tar": "pytorch",
    "numpy": "numpy",
    "numpy-object": "numpy",
    "numpy-npz": "numpy",
    "safetensors": "safetensors",
    "gguf": "llama.cpp",
    "onnx": "onnx",
    "keras-v3": "keras",
    "keras-h5": "keras",
    "tensorflow-savedmodel": "tensorflow",
}
_CHUNK = 1 << 20
#: GGUF metadata keys carried into the BOM as properties
_GGUF_KEYS = frozenset(
    {
        "general.name",
        "general.architecture",
        "general.basename",
        "general.size_label",
        "general.license",
        "general.finetune",
        "general.organization",
        "general.base_model.0.name",
        "general.base_model.0.repo_url",
        "general.quantization_version",
        "general.file_type",
    }
)


def hash_file(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ModelCard:
    """Fields of a Hugging Face model card's YAML front matter that the BOM carries."""

    license: str = ""
    datasets: tuple[str, ...] = ()
    base_model: tuple[str, ...] = ()
    pipeline_tag: str = ""
    library_name: str = ""
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int | float))[:200]
    return ()


def read_model_card(folder: Path) -> ModelCard | None:
    """The model card of a folder (``README.md`` with YAML front matter), or None."""
    path = folder / "README.md"
    if not path.is_file() or path.stat().st_size > 4 * 1024 * 1024:
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not match:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    return ModelCard(
        license=str(data.get("license", "") or ""),
        datasets=_strings(data.get("datasets")),
        base_model=_strings(data.get("base_model")),
        pipeline_tag=str(data.get("pipeline_tag", "") or ""),
        library_name=str(data.get("library_name", "") or ""),
        languages=_strings(data.get("language")),
        tags=_strings(data.get("tags")),
        fields=tuple(sorted(str(k) for k in data)),
    )


@dataclass(frozen=True, slots=True)
class BomEntry:
    """One file of the BOM: relative path, hashes, scan result."""

    path: str
    sha256: str
    sha512: str
    size: int
    result: FileResult
    requirements: tuple[tuple[str, str], ...] = field(default=())

    @property
    def is_model(self) -> bool:
        return self.result.format in FRAMEWORKS


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def build_entries(root: Path, limits: ScanLimits | None = None) -> list[BomEntry]:
    """Hash and scan every file under ``root`` (or ``root`` itself)."""
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    scanner = Scanner(limits)
    base = root if root.is_dir() else root.parent
    entries: list[BomEntry] = []
    for path in _files(root):
        result = scanner.scan_file(path, folder=base)
        relative = path.relative_to(base).as_posix()
        requirements: tuple[tuple[str, str], ...] = ()
        if sniff_requirements_name(path.name):
            text = path.read_text(encoding="utf-8", errors="replace")
            requirements = tuple((r.name, r.specifier) for r in parse_requirements(text) if not r.url)
        is_model = result.format in FRAMEWORKS
        entries.append(
            BomEntry(
                relative,
                hash_file(path),
                hash_file(path, "sha512") if is_model else "",
                path.stat().st_size,
                result,
                requirements,
            )
        )
    return entries


def render_lockfile(entries: Sequence[BomEntry]) -> str:
    """``sha256sum`` format: ``<hex>  <relative path>`` per line, sorted by path."""
    return "".join(f"{e.sha256}  {e.path}\n" for e in sorted(entries, key=lambda e: e.path))


def _model_card_dict(card: ModelCard | None, fmt: str, dataset_refs: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {"modelArchitecture": fmt}
    if card is not None:
        if card.pipeline_tag:
            parameters["task"] = card.pipeline_tag
        if card.library_name:
            parameters["architectureFamily"] = card.library_name
    if dataset_refs:
        parameters["datasets"] = [{"ref": ref} for ref in dataset_refs]
    result: dict[str, Any] = {"modelParameters": parameters}
    if card is not None:
        properties = [{"name": "bastion:modelCard:fields", "value": ",".join(card.fields)}]
        properties += [{"name": "bastion:modelCard:baseModel", "value": v} for v in card.base_model]
        properties += [{"name": "bastion:modelCard:language", "value": v} for v in card.languages]
        result["properties"] = properties
    return result


def render_cyclonedx(root: Path, entries: Sequence[BomEntry], name: str = "") -> str:
    """The CycloneDX 1.6 JSON ML-BOM of ``entries`` (see the module docstring)."""
    try:
        from cyclonedx.contrib.license.factories import LicenseFactory
        from cyclonedx.model import HashAlgorithm, HashType, Property
        from cyclonedx.model.bom import Bom
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.output.json import JsonV1Dot6
        from packageurl import PackageURL
    except ImportError as error:
        raise UpstreamError(
            "AI-BOM output needs the supplychain extra: pip install 'bastion-ai[supplychain]'"
        ) from error

    folder = root if root.is_dir() else root.parent
    card = read_model_card(folder)
    bom = Bom()
    subject = Component(
        name=name or folder.resolve().name or "model", type=ComponentType.APPLICATION, bom_ref="subject"
    )
    bom.metadata.component = subject
    bom.metadata.properties.add(Property(name="bastion:version", value=__version__))

    factory = LicenseFactory()

    def licence(text: str) -> Any:
        try:  # an SPDX id in any case ("apache-2.0"), then an SPDX expression, else a named licence
            return factory.make_from_string(text)
        except Exception:  # the factory raises its own errors for unknown ids and broken expressions
            return factory.make_with_name(text)

    dataset_refs: list[str] = []
    if card is not None:
        for index, dataset in enumerate(card.datasets):
            ref = f"dataset-{index}"
            dataset_refs.append(ref)
            bom.components.add(
                Component(
                    name=dataset,
                    type=ComponentType.DATA,
                    bom_ref=ref,
                    properties=[Property(name="bastion:source", value="model card datasets")],
                )
            )
    cards: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        ref = f"file-{index}"
        properties = [
            Property(name="bastion:path", value=entry.path),
            Property(name="bastion:format", value=entry.result.format),
            Property(name="bastion:verdict", value=entry.result.verdict.value),
            Property(name="bastion:size", value=str(entry.size)),
        ]
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=entry.sha256)]
        if entry.is_model:
            hashes.append(HashType(alg=HashAlgorithm.SHA_512, content=entry.sha512))
            properties.append(Property(name="bastion:framework", value=FRAMEWORKS[entry.result.format]))
            licence_text = card.license if card is not None and card.license else ""
            if entry.result.format == "gguf":
                general = gguf_general_metadata(folder / entry.path)
                licence_text = licence_text or general.get("general.license", "")
                properties += [
                    Property(name=f"bastion:gguf:{key}", value=value)
                    for key, value in sorted(general.items())
                    if key in _GGUF_KEYS
                ]
            licenses = [licence(licence_text)] if licence_text else []
            component = Component(
                name=entry.path,
                type=ComponentType.MACHINE_LEARNING_MODEL,
                bom_ref=ref,
                hashes=hashes,
                properties=properties,
                licenses=licenses,
            )
            cards[ref] = _model_card_dict(card, entry.result.format, dataset_refs)
        else:
            component = Component(
                name=entry.path, type=ComponentType.FILE, bom_ref=ref, hashes=hashes, properties=properties
            )
        bom.components.add(component)
        for package, specifier in entry.requirements:
            version = specifier.lstrip("=").strip() if specifier.startswith("==") else None
            bom.components.add(
                Component(
                    name=package,
                    type=ComponentType.LIBRARY,
                    version=version,
                    bom_ref=f"pypi-{index}-{package}",
                    purl=PackageURL(type="pypi", name=package, version=version),
                    properties=[
                        Property(name="bastion:requirement", value=specifier or "(unpinned)"),
                        Property(name="bastion:declaredIn", value=entry.path),
                    ],
                )
            )
    bom.register_dependency(subject, [c for c in bom.components if c.type is not ComponentType.DATA])
    data = json.loads(JsonV1Dot6(bom).output_as_string())
    for component in data.get("components", []):
        model_card = cards.get(component.get("bom-ref", ""))
        if model_card is not None:
            component["modelCard"] = model_card
    return json.dumps(data, indent=2) + "\n"
