from __future__ import annotations

from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.evaluation.jsonl import read_jsonl


def test_blank_lines_are_skipped_and_numbers_kept(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"a": 1}\n\n  \n{"a": 2}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2})]


def test_bad_json_and_missing_files_name_where(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"a": 1}\n{oops\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"set\.jsonl:2: not valid JSON"):
        list(read_jsonl(path))
    with pytest.raises(ConfigError, match="cannot read"):
        list(read_jsonl(tmp_path / "missing.jsonl"))
