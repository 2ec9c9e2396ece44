"""The shipped German Credit copy, the demo's payment data and user CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bastion.core.errors import InputError
from bastion.privacy.datasets import (
    GERMAN_CREDIT_SENSITIVE,
    PAYMENTS_SENSITIVE,
    TabularData,
    debtor_payments,
    read_csv_table,
    split,
)


def test_german_credit_matches_the_documented_counts(german: TabularData) -> None:
    # UCI documentation: 1,000 applicants, 700 good and 300 bad; 310 with status A92 (women), none A95
    assert len(german) == 1000
    assert int(german.labels.sum()) == 700
    female = german.features[:, german.column(GERMAN_CREDIT_SENSITIVE)]
    assert set(np.unique(female)) == {0.0, 1.0} and int(female.sum()) == 310
    assert german.features[0, german.column("age")] == 67.0
    assert german.features[0, german.column("credit_amount")] == 1169.0
    assert not any(name.startswith("personal_status") for name in german.columns)


def test_debtor_payments_is_deterministic_and_binary() -> None:
    first, second = (
        debtor_payments(seed=7, debtors_per_tenant=40),
        debtor_payments(seed=7, debtors_per_tenant=40),
    )
    assert np.array_equal(first.features, second.features) and np.array_equal(first.labels, second.labels)
    assert len(first) >= 120 and set(np.unique(first.labels)) == {0, 1}
    assert set(np.unique(first.features[:, first.column(PAYMENTS_SENSITIVE)])) == {0.0, 1.0}


def test_split_is_stratified_and_disjoint(german: TabularData) -> None:
    first, second = split(german, 0.5, 7)
    assert len(first) + len(second) == 1000
    assert abs(first.labels.mean() - second.labels.mean()) < 0.01


def test_read_csv_table(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2.5,0\n3,4,1\n")
    table = read_csv_table(path, "label")
    assert table.columns == ("a", "b") and table.labels.tolist() == [0, 1]
    for text, message in [
        ("a,b\n1,2\n", "no label column"),
        ("a,label\nx,1\n", "row 2, column 'a' is not a number"),
        ("a,label\nnan,1\n", "not a finite number"),
        ("a,label\n1\n", "row 2 has 1 fields"),
        ("", "empty file"),
        ("a,label\n", "no data rows"),
    ]:
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            read_csv_table(path, "label")
    path.write_bytes(b"a,label\n\xff\xfe,1\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_csv_table(path, "label")
    for blob in (b"a,label\n1\x00,1\n", bytes(range(256)) * 8):
        path.write_bytes(blob)
        with pytest.raises(InputError, match=r"^t\.csv: "):
            read_csv_table(path, "label")


def test_shipped_copy_is_the_documented_file() -> None:
    import hashlib
    from importlib import resources

    folder = resources.files("bastion.data.privacy.german_credit")
    digest = hashlib.sha256(folder.joinpath("german.data").read_bytes()).hexdigest()
    assert digest in folder.joinpath("README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in folder.joinpath("README.md").read_text(encoding="utf-8")
