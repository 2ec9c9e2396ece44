"""The globals policy: which imported names a pickle may use (data in ``data/supplychain/globals.yaml``).

Default deny: a global is ``malicious`` when a deny rule or a dunder walk matches it, ``safe`` when an allow
rule matches it, and ``suspicious`` otherwise. See the YAML file's header for the exact order.
"""

from __future__ import annotations

import _compat_pickle
import fnmatch
import functools
import re
from dataclasses import dataclass
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError
from bastion.core.types import Severity
from bastion.supplychain.types import FileVerdict

__all__ = ["GlobalJudgement", "GlobalsPolicy", "load_policy", "normalise_global"]

DATA_PACKAGE = "bastion.data.supplychain"

#: dunders that reach interpreter internals (functions' globals, builtins, subclasses, code objects)
_DANGEROUS_DUNDERS = frozenset(
    {
        "__builtins__",
        "__globals__",
        "__subclasses__",
        "__import__",
        "__getattribute__",
        "__getattr__",
        "__code__",
        "__class__",
        "__base__",
        "__bases__",
        "__mro__",
        "__dict__",
        "__init__",
        "__loader__",
        "__spec__",
        "__self__",
        "__func__",
        "__closure__",
        "__reduce__",
        "__reduce_ex__",
        "__setstate__",
        "__call__",
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _DenyRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    severity: Severity = Severity.CRITICAL
    reason: str
    prefixes: list[str] = Field(min_length=1)
    note: str = ""
    match: list[str] = Field(min_length=1)
    no_match: list[str] = []


class _AllowRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    framework: str
    module: str
    names: list[str] = Field(min_length=1)
    dotted: bool = False
    examples: list[str] = Field(min_length=1)


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    deny: list[_DenyRule]
    nested_loaders: list[str] = []
    allow: list[_AllowRule]


@dataclass(frozen=True, slots=True)
class GlobalJudgement:
    """How the policy judges one global: verdict, severity, the rule id that decided and why."""

    verdict: FileVerdict
    severity: Severity
    rule: str
    reason: str
    framework: str = ""


def normalise_global(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names to Python 3 ones as the unpickler does (``__builtin__`` -> ``builtins``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _starts_with(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


class GlobalsPolicy:
    """Deny prefixes, allow globs and nested loaders, compiled once from the policy file."""

    def __init__(self, data: _PolicyFile, extra_allowed: frozenset[str] = frozenset()) -> None:
        self._data = data
        self._deny = [(prefix, rule) for rule in data.deny for prefix in rule.prefixes]
        self._nested = frozenset(data.nested_loaders)
        self._extra = extra_allowed
        self._exact: dict[tuple[str, str], str] = {}
        self._globs: list[tuple[re.Pattern[str], list[re.Pattern[str]], _AllowRule]] = []
        for rule in data.allow:
            module_re = re.compile(fnmatch.translate(rule.module))
            self._globs.append((module_re, [re.compile(fnmatch.translate(n)) for n in rule.names], rule))
            if not any(ch in rule.module for ch in "*?["):
                for name in rule.names:
                    if not any(ch in name for ch in "*?["):
                        self._exact[(rule.module, name)] = rule.framework

    @property
    def deny_rules(self) -> list[_DenyRule]:
        return list(self._data.deny)

    @property
    def allow_rules(self) -> list[_AllowRule]:
        return list(self._data.allow)

    def is_nested_loader(self, module: str, name: str) -> bool:
        """True for globals that unpickle their bytes argument (the scanner scans that argument)."""
        module, name = normalise_global(module, name)
        return f"{module}.{name}" in self._nested

    def judge(self, module: str, name: str) -> GlobalJudgement:
        """Judge the global ``module``/``name`` (as written in the pickle)."""
        module, name = normalise_global(module, name)
        return self._judge(module, name)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - the policy lives as long as the process
    def _judge(self, module: str, name: str) -> GlobalJudgement:
        full = f"{module}.{name}"
        deny = self._deny_match(module, name)
        if deny is not None:
            prefix, rule = deny
            return GlobalJudgement(
                FileVerdict.MALICIOUS, rule.severity, rule.id, f"{rule.reason} (matches {prefix})"
            )
        if not module or not all(_IDENTIFIER.match(part) for part in (*module.split("."), *name.split("."))):
            return GlobalJudgement(
                FileVerdict.SUSPICIOUS, Severity.MEDIUM, "malformed-name", "global name is not a Python name"
            )
        if full in self._extra:
            return GlobalJudgement(FileVerdict.SAFE, Severity.INFO, "allowed", "allowed by the caller")
        framework = self._exact.get((module, name))
        if framework is not None:
            return GlobalJudgement(FileVerdict.SAFE, Severity.INFO, "allowed", "allowlisted", framework)
        for part in name.split("."):
            if part in _DANGEROUS_DUNDERS:
                return GlobalJudgement(
                    FileVerdict.MALICIOUS,
                    Severity.CRITICAL,
                    "dunder-walk",
                    f"reaches interpreter internals through {part}",
                )
        if "." not in name:
            for module_re, name_res, allow in self._globs:
                if module_re.match(module) and any(n.match(name) for n in name_res):
                    return GlobalJudgement(
                        FileVerdict.SAFE, Severity.INFO, "allowed", "allowlisted", allow.framework
                    )
        elif name.split(".", 1)[0][:1].isupper():
            # a class attribute walk (Class.method): allowed only for dotted rules
            for module_re, name_res, allow in self._globs:
                if allow.dotted and module_re.match(module) and any(n.match(name) for n in name_res):
                    return GlobalJudgement(
                        FileVerdict.SAFE, Severity.INFO, "allowed", "allowlisted", allow.framework
                    )
        why = "attribute walk through an unreviewed name" if "." in name else "global not on the allowlist"
        return GlobalJudgement(FileVerdict.SUSPICIOUS, Severity.MEDIUM, "unknown-global", why)

    def _deny_match(self, module: str, name: str) -> tuple[str, _DenyRule] | None:
        full = f"{module}.{name}"
        tails = [full]
        # tails inside the name part: ("torch", "os.system") -> "os.system", "system"
        parts = name.split(".")
        tails.extend(".".join(parts[i:]) for i in range(len(parts)))
        module_parts = module.split(".")
        module_tails = [".".join(module_parts[i:]) + "." + name for i in range(1, len(module_parts))]
        for prefix, rule in self._deny:
            if any(_starts_with(tail, prefix) for tail in tails):
                return prefix, rule
            # tails inside the module path only for dotted prefixes (numpy.testing, torch.hub):
            # a bare "signal" must not flag scipy.signal
            if "." in prefix and any(_starts_with(tail, prefix) for tail in module_tails):
                return prefix, rule
        return None


def _load_file() -> _PolicyFile:
    try:
        text = resources.files(DATA_PACKAGE).joinpath("globals.yaml").read_text(encoding="utf-8")
        return _PolicyFile.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"data/supplychain/globals.yaml is invalid: {error}") from error


@functools.lru_cache(maxsize=8)
def load_policy(extra_allowed: frozenset[str] = frozenset()) -> GlobalsPolicy:
    """The shipped policy, plus ``extra_allowed`` fully qualified globals (``mypkg.models.Net``)."""
    return GlobalsPolicy(_load_file(), extra_allowed)
