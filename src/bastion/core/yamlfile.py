"""YAML files validated by pydantic models, with errors that name the file, the line and the field.

Policies, gateway configurations and inventories are written by people; when one is wrong, the error must
say where: ``policy.yaml:14: tenants.demo.input.injection.action: Input should be 'allow', 'flag', ...``.
:func:`load_model` parses safely (``yaml.SafeLoader``), keeps the node tree to find the line of every value,
and turns YAML and validation errors into :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bastion.core.errors import ConfigError

__all__ = ["MAX_YAML_BYTES", "load_model", "parse_model"]

#: Configuration files are small; a bigger one is a mistake (or an attack on the parser).
MAX_YAML_BYTES = 4 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def load_model(path: str | Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``. Raises :class:`ConfigError` naming file, line, field."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_YAML_BYTES:
            raise ConfigError(f"{file}: larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")
        raw = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{file}: cannot read: {error.strerror or error}") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file}: not UTF-8 text (byte {error.start})") from None
    return parse_model(text, model, source=str(file))


def parse_model(text: str, model: type[M], *, source: str = "<text>") -> M:
    """Validate YAML ``text`` as ``model``; ``source`` names it in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}: {problem}") from None
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, node, source)) from None


def _describe(error: ValidationError, root: yaml.Node | None, source: str) -> str:
    lines = []
    for problem in error.errors()[:10]:
        location = tuple(problem.get("loc", ()))
        line = _line_of(root, location)
        field = ".".join(str(part) for part in location) or "(top level)"
        where = f"{source}:{line}" if line is not None else source
        lines.append(f"{where}: {field}: {problem.get('msg', 'invalid')}")
    more = error.error_count() - len(lines)
    if more > 0:
        lines.append(f"... and {more} more")
    return "\n".join(lines)


def _line_of(root: yaml.Node | None, location: Sequence[Any]) -> int | None:
    """The 1-based line of the deepest node on ``location`` that exists in the file."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in location:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                found: yaml.Node = value
                return found
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
