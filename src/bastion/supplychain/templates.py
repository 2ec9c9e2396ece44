"""Chat templates (Jinja in GGUF metadata and ``tokenizer_config.json``): find sandbox escapes statically.

A chat template runs every time the model formats a prompt. Loaders that render it outside Jinja's sandbox
(llama-cpp-python before 0.2.72, CVE-2024-34359) execute whatever it reaches: ``''.__class__.__mro__[1]
.__subclasses__()``, ``lipsum.__globals__['os'].popen(...)``, ``cycler.__init__.__globals__`` ... This
module parses the template with Jinja's parser (no rendering), folds constant strings (so ``'\\x5f\\x5f'``,
``'__cla' ~ 'ss__'``, ``'_' * 2`` and ``['_','_']|join`` are seen as what they build) and flags:

- attribute or item access to names starting with ``_`` (dunders and private attributes) -> malicious;
- methods that run commands or import code (``popen``, ``system``, ``eval``, ``import_module`` ...)
  -> malicious;
- the usual SSTI gadgets as names (``lipsum``, ``cycler``, ``joiner``, ``self``, ``config``, ``request``,
  ``url_for``, ``get_flashed_messages``) and ``attr`` filters with computed names -> suspicious;
- a template that does not parse or is oversized -> suspicious.

Without Jinja installed, a regular-expression fallback applies the same name lists to the raw text.
"""

from __future__ import annotations

import re
from typing import Any

from bastion.core.types import Severity
from bastion.supplychain.context import finding
from bastion.supplychain.types import FileVerdict, ScanFinding

__all__ = ["check_template"]

_EXEC_ATTRIBUTES = frozenset(
    {
        "popen",
        "system",
        "eval",
        "exec",
        "execfile",
        "import_module",
        "load_module",
        "check_output",
        "check_call",
        "getoutput",
        "spawn",
        "spawnv",
        "fork",
        "run_code",
        "runcode",
        "__import__",
    }
)
_GADGET_NAMES = frozenset(
    {"lipsum", "cycler", "joiner", "self", "config", "request", "url_for", "get_flashed_messages", "os"}
)
_DUNDER_TEXT = re.compile(r"__\w+__|\b_[A-Za-z]\w*__\w+")
_GENERATION_TAG = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")
_FALLBACK_ATTR = re.compile(r"\.\s*(_\w+)|\[\s*['\"](_\w+)['\"]\s*\]|\battr\s*\(")


def _finding(rule: str, verdict: FileVerdict, severity: Severity, message: str, key: str) -> ScanFinding:
    return finding(rule, verdict, severity, message, subject=key)


def check_template(template: str, key: str, max_chars: int = 1_000_000) -> list[ScanFinding]:
    """Findings for one chat template; ``key`` names where it was found (metadata key or JSON field)."""
    if len(template) > max_chars:
        return [
            _finding(
                "template.oversized",
                FileVerdict.SUSPICIOUS,
                Severity.MEDIUM,
                f"chat template of {len(template)} characters exceeds {max_chars}; not analysed",
                key,
            )
        ]
    try:
        from jinja2 import Environment, TemplateSyntaxError, nodes
    except ImportError:  # pragma: no cover - jinja2 ships with the supplychain extra
        return _fallback(template, key)
    try:
        # Hugging Face adds a {% generation %} block tag for assistant masks; it renders its body as is
        body = _GENERATION_TAG.sub("", template)
        tree = Environment(extensions=["jinja2.ext.loopcontrols"]).parse(body)
    except TemplateSyntaxError as error:
        return [
            _finding(
                "template.syntax",
                FileVerdict.SUSPICIOUS,
                Severity.MEDIUM,
                f"chat template does not parse (line {error.lineno}); loaders reject or mis-render it",
                key,
            )
        ]
    except RecursionError:
        return [
            _finding(
                "template.depth", FileVerdict.SUSPICIOUS, Severity.MEDIUM, "template nested too deep", key
            )
        ]
    found: dict[tuple[str, str], ScanFinding] = {}

    def add(rule: str, verdict: FileVerdict, severity: Severity, message: str) -> None:
        found.setdefault((rule, message), _finding(rule, verdict, severity, message, key))

    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter, nodes.Const)):
        if isinstance(node, nodes.Getattr):
            _judge_attribute(node.attr, add)
        elif isinstance(node, nodes.Getitem):
            value = _fold(node.arg, nodes)
            if isinstance(value, str):
                _judge_attribute(value, add)
        elif isinstance(node, nodes.Name):
            if node.name in _GADGET_NAMES:
                add(
                    "template.gadget",
                    FileVerdict.SUSPICIOUS,
                    Severity.HIGH,
                    f"uses '{node.name}', a known stepping stone to Python objects in template injection",
                )
        elif isinstance(node, nodes.Filter):
            if node.name == "attr":
                value = _fold(node.args[0], nodes) if node.args else None
                if isinstance(value, str):
                    _judge_attribute(value, add)
                else:
                    add(
                        "template.computed-attribute",
                        FileVerdict.SUSPICIOUS,
                        Severity.HIGH,
                        "attr filter with a name computed at render time",
                    )
            elif node.name in ("join", "format"):
                value = _fold(node, nodes)
                if isinstance(value, str) and _DUNDER_TEXT.search(value):
                    add(
                        "template.dunder-string",
                        FileVerdict.MALICIOUS,
                        Severity.CRITICAL,
                        "builds a dunder name from pieces",
                    )
        elif (
            isinstance(node, nodes.Const) and isinstance(node.value, str) and _DUNDER_TEXT.search(node.value)
        ):
            add(
                "template.dunder-string",
                FileVerdict.MALICIOUS,
                Severity.CRITICAL,
                "string constant names a dunder attribute",
            )
    for node in tree.find_all((nodes.Concat, nodes.Add, nodes.Mul)):
        value = _fold(node, nodes)
        if isinstance(value, str) and _DUNDER_TEXT.search(value):
            add(
                "template.dunder-string",
                FileVerdict.MALICIOUS,
                Severity.CRITICAL,
                "builds a dunder name from pieces",
            )
    return list(found.values())


def _judge_attribute(name: str, add: Any) -> None:
    if name.startswith("_"):
        add(
            "template.private-attribute",
            FileVerdict.MALICIOUS,
            Severity.CRITICAL,
            f"reaches the private attribute '{name[:40]}' (sandbox escape to Python internals)",
        )
    elif name in _EXEC_ATTRIBUTES:
        add(
            "template.exec-attribute",
            FileVerdict.MALICIOUS,
            Severity.CRITICAL,
            f"calls '{name}', which runs commands or imports code",
        )


def _fold(node: Any, nodes: Any, depth: int = 0) -> Any:
    """The constant a small expression builds (strings joined, repeated, concatenated), or None."""
    if depth > 50:
        return None
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Concat):
        parts = [_fold(n, nodes, depth + 1) for n in node.nodes]
        return "".join(str(p) for p in parts) if all(p is not None for p in parts) else None
    if isinstance(node, nodes.Add | nodes.Mul):
        left, right = _fold(node.left, nodes, depth + 1), _fold(node.right, nodes, depth + 1)
        try:
            if isinstance(node, nodes.Add) and isinstance(left, str) and isinstance(right, str):
                return left + right
            if (
                isinstance(node, nodes.Mul)
                and isinstance(left, str)
                and isinstance(right, int)
                and right < 100
            ):
                return left * right
        except TypeError:
            return None
        return None
    if isinstance(node, nodes.List | nodes.Tuple):
        items = [_fold(n, nodes, depth + 1) for n in node.items]
        return items if all(i is not None for i in items) else None
    if isinstance(node, nodes.Filter) and node.node is not None:
        inner = _fold(node.node, nodes, depth + 1)
        if node.name == "join" and isinstance(inner, list):
            return "".join(str(i) for i in inner)
        if node.name == "format" and isinstance(inner, str):
            args = [_fold(a, nodes, depth + 1) for a in node.args]
            if all(a is not None for a in args):
                try:
                    return inner % tuple(args)
                except (TypeError, ValueError, OverflowError):
                    return None
        return None
    return None


def _fallback(template: str, key: str) -> list[ScanFinding]:
    findings: list[ScanFinding] = []
    if _DUNDER_TEXT.search(template) or any(
        m.group(1) or m.group(2) for m in _FALLBACK_ATTR.finditer(template)
    ):
        findings.append(
            _finding(
                "template.private-attribute",
                FileVerdict.MALICIOUS,
                Severity.CRITICAL,
                "reaches private or dunder attributes",
                key,
            )
        )
    words = set(re.findall(r"[A-Za-z_]\w*", template))
    if words & _EXEC_ATTRIBUTES:
        findings.append(
            _finding(
                "template.exec-attribute",
                FileVerdict.MALICIOUS,
                Severity.CRITICAL,
                "names a command function",
                key,
            )
        )
    if words & _GADGET_NAMES:
        findings.append(
            _finding(
                "template.gadget",
                FileVerdict.SUSPICIOUS,
                Severity.HIGH,
                "uses a template-injection gadget",
                key,
            )
        )
    return findings
