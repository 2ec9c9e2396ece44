"""Read a YAML file and remember the line of every value, so that errors can name file, line and field.

>>> data, lines = load_yaml_with_lines("a:\\n  b: [1, 2]\\n", "x.yaml")
>>> data["a"]["b"], lines[("a", "b", 1)]
([1, 2], 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bastion.core.errors import ConfigError, InputError

__all__ = ["MAX_BYTES", "Location", "describe", "line_of", "load_yaml_with_lines", "read_text_file"]

#: inventories and evidence files larger than this are refused (bounded time and memory)
MAX_BYTES = 8 * 1024 * 1024
#: libyaml's safe loader when PyYAML was built with it (about 10x faster), else the pure-Python one
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Location = tuple[str | int, ...]


def read_text_file(path: Path, max_bytes: int = MAX_BYTES) -> str:
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
        raise InputError(f"{path}: not valid UTF-8 (byte {error.start})") from None


def _walk(node: yaml.Node, location: Location, lines: dict[Location, int]) -> None:
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
            lines[(*location, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*location, key), lines)
            lines[(*location, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*location, index), lines)


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


def line_of(location: Location, lines: Mapping[Location, int]) -> int | None:
    """The line of ``location`` or of its nearest enclosing value that has one."""
    for end in range(len(location), -1, -1):
        found = lines.get(tuple(location[:end]))
        if found is not None:
            return found
    return None


def describe(location: Location) -> str:
    """``("systems", 1, "ai_act")`` -> ``systems[1].ai_act``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"
