"""Keras models and JSON configs: ``.keras`` (a zip whose ``config.json`` arrives here as a member),
legacy ``.h5`` (the model config is a JSON attribute inside the HDF5 file), and other JSON files that carry
code-like content (``tokenizer_config.json`` chat templates).

Keras checks: ``Lambda`` layers carry Python bytecode or source that runs on load (CVE-2024-3660);
objects whose ``module`` is not Keras are custom code, and modules the pickle policy denies (``os``,
``builtins`` ...) or Keras helpers that fetch files (``keras.utils.get_file``) were used to escape
``safe_mode`` (CVE-2025-1550, CVE-2025-8747).

HDF5 is read without h5py (no native HDF5 parser runs on hostile files): the Keras config attribute is a
JSON text stored verbatim, found by searching for its ``{"class_name":`` opening and decoded with
``json.JSONDecoder.raw_decode``.
"""

from __future__ import annotations

import json
import mmap
import re
from typing import Any

from bastion.core.types import Severity
from bastion.supplychain.context import Outcome, ScanContext, Source, TooLargeError, finding
from bastion.supplychain.policy import GlobalsPolicy
from bastion.supplychain.templates import check_template
from bastion.supplychain.types import FileVerdict, ScanFinding

__all__ = ["check_keras_config", "scan_hdf5", "scan_json"]

_KERAS_MODULES = (
    "keras",
    "tf_keras",
    "tensorflow.keras",
    "tensorflow.python.keras",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
)
_CONFIG_START = re.compile(rb'\{\s*"(?:class_name|module)"\s*:')
_MAX_NODES = 1_000_000


def _is_keras_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _KERAS_MODULES)


def check_keras_config(config: Any, policy: GlobalsPolicy) -> list[ScanFinding]:
    """Findings for a Keras model config (any nesting of dicts and lists)."""
    found: dict[tuple[str, str], ScanFinding] = {}
    stack: list[Any] = [config]
    visited = 0
    while stack:
        node = stack.pop()
        visited += 1
        if visited > _MAX_NODES:
            found[("keras.too-large", "")] = finding(
                "keras.too-large", FileVerdict.ERROR, Severity.MEDIUM, "config too large to check"
            )
            break
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        class_name = node.get("class_name")
        if not isinstance(class_name, str):
            continue
        module = node.get("module")
        if class_name in ("Lambda", "__lambda__", "function") or node.get("function_type") == "lambda":
            found.setdefault(
                ("keras.lambda", class_name),
                finding(
                    "keras.lambda",
                    FileVerdict.MALICIOUS,
                    Severity.CRITICAL,
                    f"{class_name} carries Python code that runs when the model loads",
                    subject=class_name,
                ),
            )
        if isinstance(module, str) and module:
            judgement = policy.judge(module, class_name)
            if judgement.verdict is FileVerdict.MALICIOUS:
                found.setdefault(
                    ("keras.denied-object", f"{module}.{class_name}"),
                    finding(
                        "keras.denied-object",
                        FileVerdict.MALICIOUS,
                        Severity.CRITICAL,
                        f"config object {module}.{class_name}: {judgement.reason}",
                        subject=f"{module}.{class_name}"[:200],
                    ),
                )
            elif not _is_keras_module(module):
                found.setdefault(
                    ("keras.custom-object", f"{module}.{class_name}"),
                    finding(
                        "keras.custom-object",
                        FileVerdict.SUSPICIOUS,
                        Severity.MEDIUM,
                        f"custom object {module}.{class_name} needs its own code to load",
                        subject=f"{module}.{class_name}"[:200],
                    ),
                )
    return list(found.values())


def _is_keras_config(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("class_name"), str) and "config" in data


def scan_json(source: Source, context: ScanContext) -> Outcome:
    """A JSON file: Keras configs are checked, chat templates analysed, anything else is data."""
    try:
        raw = source.read(context.limits.max_header_bytes)
        data = json.loads(raw.decode("utf-8-sig"))
    except TooLargeError:
        return Outcome("json")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Outcome("data")
    findings: list[ScanFinding] = []
    fmt = "json"
    if _is_keras_config(data):
        fmt = "keras-config"
        findings.extend(check_keras_config(data, context.policy))
    if isinstance(data, dict) and "chat_template" in data:
        fmt = "tokenizer-config"
        template = data["chat_template"]
        templates: list[tuple[str, Any]] = [("chat_template", template)]
        if isinstance(template, list):
            templates = [
                (f"chat_template.{item.get('name', index)}", item.get("template"))
                for index, item in enumerate(template)
                if isinstance(item, dict)
            ]
        for key, text in templates:
            if isinstance(text, str):
                findings.extend(check_template(text, key, context.limits.max_template_chars))
    return Outcome(fmt, findings)


def scan_hdf5(source: Source, context: ScanContext) -> Outcome:
    """HDF5: a Keras ``.h5`` model when a Keras config is stored in it (checked), else weights or data."""
    with source.view() as raw:
        return _scan_hdf5(raw, context)


def _scan_hdf5(raw: bytes | mmap.mmap, context: ScanContext) -> Outcome:
    decoder = json.JSONDecoder()
    findings: list[ScanFinding] = []
    configs = 0
    covered = 0
    for match in _CONFIG_START.finditer(raw):
        if match.start() < covered:
            continue  # a layer inside a config already checked
        end = raw.find(b"\x00", match.start(), match.start() + context.limits.max_header_bytes)
        chunk = raw[match.start() : end if end >= 0 else match.start() + context.limits.max_header_bytes]
        try:
            config, length = decoder.raw_decode(chunk.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            continue
        covered = match.start() + length
        if _is_keras_config(config):
            configs += 1
            findings.extend(check_keras_config(config, context.policy))
        if configs >= 8:
            break
    if configs == 0 and raw.find(b"Lambda") >= 0:
        findings.append(
            finding(
                "keras.lambda-text",
                FileVerdict.SUSPICIOUS,
                Severity.MEDIUM,
                "mentions a Lambda layer but no readable Keras config was found",
            )
        )
    return Outcome("keras-h5" if configs else "hdf5", findings)
