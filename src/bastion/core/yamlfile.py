"""YAML files written by people, read safely, with errors that name the file, the line and the field.

Policies, gateway configurations and inventories are written by hand; when one is wrong, the error must say
where: ``policy.yaml:14: tenants.demo.input.injection.action: Input should be 'allow', 'flag', ...``.

- :func:`read_text_file` reads UTF-8 text with a size limit and refuses binary files.
- :func:`load_yaml_with_lines` parses safely (libyaml's safe loader when available) and maps the location of
  every value (keys and list indexes) to its line; :func:`line_of` and :func:`describe` turn a location
  into ``file:line: field``.
- :func:`load_model` / :func:`parse_model` validate a file or text as a pydantic model and raise
  :class:`ConfigError` naming file, line and field.

>>> data, lines = load_yaml_with_lines("a:\\n  b: [1, 2]\\n", "x.yaml")
>>> data["a"]["b"], lines[("a", "b", 1)], describe(("a", "b", 1))
([1, 2], 2, 'a.b[1]')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bastion.core.errors import ConfigError, InputError

__all__ = [
    "MAX_YAML_BYTES",
    "Location",
    "describe",
    "line_of",
    "load_model",
    "load_yaml_with_lines",
    "parse_model",
    "read_text_file",
]

#: Files people write are small; a bigger one is a mistake (or an attack on the parser).
MAX_YAML_BYTES = 8 * 1024 * 1024
#: libyaml's safe loader when PyYAML was built with it (about 10x faster), else the pure-Python one
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Location = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


def read_text_file(path: Path, max_bytes: int = MAX_YAML_BYTES) -> str:
    """The UTF-8 text of ``path``; :class:`InputError` when missing, too large, binary or not UTF-8."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    if size > max_bytes:
        raise InputError(f"{path}: {size} bytes is over the limit of {max_bytes}")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise InputError(f"{path}: binary file (NUL bytes), expected UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None


def load_yaml_with_lines(text: str, name: str) -> tuple[Any, dict[Location, int]]:
    """Parse ``text`` (safe loader) and map each value's location (keys and list indexes) to its line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # a safe loader (libyaml when available)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{name}{line}: invalid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{name}: invalid YAML ({type(error).__name__})") from None
    lines: dict[Location, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, location: Location, lines: dict[Location, int]) -> None:
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
            _walk(value_node, (*location, key), lines)
            lines[(*location, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*location, index), lines)


def line_of(location: Sequence[str | int], lines: Mapping[Location, int]) -> int | None:
    """The line of ``location`` or of its nearest enclosing value that has one."""
    for end in range(len(location), -1, -1):
        found = lines.get(tuple(location[:end]))
        if found is not None:
            return found
    return None


def describe(location: Sequence[str | int]) -> str:
    """``("systems", 1, "ai_act")`` -> ``systems[1].ai_act``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def load_model(path: str | Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``. Raises :class:`ConfigError` naming file, line, field."""
    try:
        text = read_text_file(Path(path))
    except InputError as error:
        raise ConfigError(str(error)) from None
    return parse_model(text, model, source=str(path))


def parse_model(text: str, model: type[M], *, source: str = "<text>") -> M:
    """Validate YAML ``text`` as ``model``; ``source`` names it in errors."""
    data, lines = load_yaml_with_lines(text, source)
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as error:
        messages = []
        for problem in error.errors()[:10]:
            location = tuple(problem.get("loc", ()))
            line = line_of(location, lines)
            where = f"{source}:{line}" if line is not None else source
            messages.append(f"{where}: {describe(location)}: {problem.get('msg', 'invalid')}")
        if error.error_count() > len(messages):
            messages.append(f"... and {error.error_count() - len(messages)} more")
        raise ConfigError("\n".join(messages)) from None
