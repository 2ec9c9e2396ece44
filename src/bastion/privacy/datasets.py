"""Tabular data for the attacks: numeric feature matrices with labels, and the demo data sets.

- :class:`TabularData`: features (float matrix), integer class labels, column names; ``subset`` and
  ``concat`` keep the three together.
- :func:`german_credit`: the UCI Statlog German Credit data (1,000 applicants, CC BY 4.0, shipped in
  ``bastion/data/privacy/german_credit/``), one-hot encoded; label 1 = good credit risk; the binary
  column ``sex_female`` is the sensitive attribute of the attribute-inference attacks.
- :func:`debtor_payments`: the payment-propensity data of the demo system (one row per collection case:
  did the debtor pay anything?), from :func:`bastion.demo.data.generate`; ``salutation_ms`` is sensitive.
- :func:`read_csv_table`: a user's CSV (numeric columns only, a named label column).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bastion.core.errors import ConfigError, InputError

__all__ = [
    "GERMAN_CREDIT_SENSITIVE",
    "PAYMENTS_SENSITIVE",
    "TabularData",
    "debtor_payments",
    "german_credit",
    "read_csv_table",
    "split",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

GERMAN_CREDIT_SENSITIVE = "sex_female"
PAYMENTS_SENSITIVE = "salutation_ms"
#: rows of a CSV read at most (the attacks hold the data in memory)
MAX_CSV_ROWS = 2_000_000


@dataclass(frozen=True, slots=True)
class TabularData:
    """``features[i]`` has class ``labels[i]``; ``columns`` names the feature columns."""

    features: FloatArray
    labels: IntArray
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.labels.ndim != 1:
            raise InputError("features must be a matrix and labels a vector")
        if self.features.shape[0] != self.labels.shape[0]:
            raise InputError(f"{self.features.shape[0]} feature rows for {self.labels.shape[0]} labels")
        if self.features.shape[1] != len(self.columns):
            raise InputError(f"{self.features.shape[1]} feature columns for {len(self.columns)} names")
        if not np.all(np.isfinite(self.features)):
            raise InputError("features must be finite numbers (no NaN or infinity)")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, rows: NDArray[np.intp] | Sequence[int]) -> TabularData:
        index = np.asarray(rows, dtype=np.intp)
        return TabularData(self.features[index], self.labels[index], self.columns)

    def column(self, name: str) -> int:
        """The index of the column ``name``; :class:`ConfigError` if there is none."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise ConfigError(f"no feature column {name!r}") from None

    @staticmethod
    def concat(parts: Sequence[TabularData]) -> TabularData:
        if not parts:
            raise InputError("nothing to concatenate")
        if any(part.columns != parts[0].columns for part in parts):
            raise InputError("the tables have different columns")
        return TabularData(
            np.concatenate([part.features for part in parts]),
            np.concatenate([part.labels for part in parts]),
            parts[0].columns,
        )


def split(data: TabularData, fraction: float, seed: int) -> tuple[TabularData, TabularData]:
    """A random split: ``fraction`` of the rows, then the rest (stratified by label)."""
    if not 0.0 < fraction < 1.0:
        raise InputError("the split fraction must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    first: list[int] = []
    for label in np.unique(data.labels):
        rows = np.flatnonzero(data.labels == label)
        rng.shuffle(rows)
        first.extend(rows[: round(fraction * rows.size)].tolist())
    chosen = np.zeros(len(data), dtype=bool)
    chosen[first] = True
    return data.subset(np.flatnonzero(chosen)), data.subset(np.flatnonzero(~chosen))


# --- German Credit -------------------------------------------------------------------------------------

#: the 20 attributes of ``german.data`` in file order: (name, numeric?)
_GERMAN_ATTRIBUTES: tuple[tuple[str, bool], ...] = (
    ("checking_status", False),
    ("duration_months", True),
    ("credit_history", False),
    ("purpose", False),
    ("credit_amount", True),
    ("savings", False),
    ("employment_since", False),
    ("installment_rate", True),
    ("personal_status", False),
    ("other_debtors", False),
    ("residence_since", True),
    ("property", False),
    ("age", True),
    ("other_installment_plans", False),
    ("housing", False),
    ("existing_credits", True),
    ("job", False),
    ("people_liable", True),
    ("telephone", False),
    ("foreign_worker", False),
)
#: personal status codes: A92 and A95 are women; A93 and A95 are single (see the data set's documentation)
_FEMALE = frozenset({"A92", "A95"})
_SINGLE = frozenset({"A93", "A95"})


def german_credit() -> TabularData:
    """The 1,000 German Credit applicants; label 1 = good risk, 0 = bad risk.

    Categorical attributes are one-hot encoded (``purpose=A43``). The personal status code mixes sex and
    marital status, so it becomes two binary columns, ``sex_female`` and ``single``, and nothing else in
    the table reveals the sex directly.
    """
    text = (
        resources.files("bastion.data.privacy.german_credit")
        .joinpath("german.data")
        .read_text(encoding="ascii")
    )
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if any(len(row) != len(_GERMAN_ATTRIBUTES) + 1 for row in rows):
        raise ConfigError("german.data: every row must have 21 fields")
    columns: list[str] = []
    values: list[list[float]] = [[] for _ in rows]
    for position, (name, numeric) in enumerate(_GERMAN_ATTRIBUTES):
        field = [row[position] for row in rows]
        if name == "personal_status":
            columns += [GERMAN_CREDIT_SENSITIVE, "single"]
            for out, code in zip(values, field, strict=True):
                out += [float(code in _FEMALE), float(code in _SINGLE)]
        elif numeric:
            columns.append(name)
            for out, raw in zip(values, field, strict=True):
                out.append(float(raw))
        else:
            levels = sorted(set(field), key=lambda code: (len(code), code))
            columns += [f"{name}={level}" for level in levels]
            for out, code in zip(values, field, strict=True):
                out += [float(code == level) for level in levels]
    labels = np.array([1 if row[-1] == "1" else 0 for row in rows], dtype=np.int64)
    return TabularData(np.array(values, dtype=np.float64), labels, tuple(columns))


# --- the demo's payment propensity ----------------------------------------------------------------------


def debtor_payments(seed: int = 7, debtors_per_tenant: int = 2_000) -> TabularData:
    """One row per collection case of the demo world: did the debtor pay anything on it (label 1)?

    Features: the debtor's age, preferred language, country, salutation (``salutation_ms``, the
    sensitive attribute), how many cases they have, the tenant, the claim and fee amounts in euros, the
    days since the case opened and the month it opened.
    """
    from bastion.demo.data import generate

    data = generate(seed=seed, debtors_per_tenant=debtors_per_tenant)
    tenants = sorted(tenant.tenant_id for tenant in data.tenants)
    countries = sorted({debtor.address.country for debtor in data.debtors})
    debtors = {debtor.debtor_id: debtor for debtor in data.debtors}
    case_counts: dict[str, int] = {}
    for case in data.cases:
        case_counts[case.debtor_id] = case_counts.get(case.debtor_id, 0) + 1
    paid_cases = {payment.case_id for payment in data.payments}
    today = data.reference_date
    columns = (
        "age",
        "language_de",
        PAYMENTS_SENSITIVE,
        "cases_of_debtor",
        "original_amount_eur",
        "fees_eur",
        "days_open",
        "opened_month",
        *(f"tenant={tenant}" for tenant in tenants),
        *(f"country={country}" for country in countries),
    )
    rows: list[list[float]] = []
    labels: list[int] = []
    for case in data.cases:
        debtor = debtors[case.debtor_id]
        age = (today - debtor.birth_date).days / 365.25
        rows.append(
            [
                math.floor(age),
                float(debtor.language == "de"),
                float(debtor.salutation == "ms"),
                float(case_counts[case.debtor_id]),
                case.original_amount_cents / 100.0,
                case.fees_cents / 100.0,
                float((today - case.opened_on).days),
                float(case.opened_on.month),
                *(float(case.tenant_id == tenant) for tenant in tenants),
                *(float(debtor.address.country == country) for country in countries),
            ]
        )
        labels.append(int(case.case_id in paid_cases))
    return TabularData(np.array(rows, dtype=np.float64), np.array(labels, dtype=np.int64), columns)


# --- user files ------------------------------------------------------------------------------------------


def read_csv_table(path: Path, label: str, columns: Sequence[str] | None = None) -> TabularData:
    """A CSV with a header: ``label`` holds integer classes, the other (or the given) columns numbers.

    Raises :class:`InputError` naming the row and column of a value that is not a finite number, and for
    files that are not UTF-8 text or have more than :data:`MAX_CSV_ROWS` rows.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise InputError(f"{path.name}: empty file, expected a header row")
            if label not in header:
                raise InputError(f"{path.name}: no label column {label!r}")
            wanted = list(columns) if columns else [name for name in header if name != label]
            missing = [name for name in wanted if name not in header]
            if missing:
                raise InputError(f"{path.name}: missing columns {missing}")
            positions = [header.index(name) for name in wanted]
            label_at = header.index(label)
            rows: list[list[float]] = []
            labels: list[int] = []
            for line, record in enumerate(reader, start=2):
                if len(rows) >= MAX_CSV_ROWS:
                    raise InputError(f"{path.name}: more than {MAX_CSV_ROWS:,} rows")
                if len(record) != len(header):
                    raise InputError(f"{path.name}: row {line} has {len(record)} fields, not {len(header)}")
                rows.append([_number(path, line, header[p], record[p]) for p in positions])
                labels.append(int(_number(path, line, label, record[label_at])))
    except UnicodeDecodeError as error:
        raise InputError(f"{path.name}: not UTF-8 text") from error
    except csv.Error:
        raise InputError(f"{path.name}: not valid CSV (binary data?)") from None
    except OSError as error:
        raise InputError(f"{path.name}: cannot read ({error.strerror})") from error
    if not rows:
        raise InputError(f"{path.name}: no data rows")
    return TabularData(
        np.array(rows, dtype=np.float64).reshape(len(rows), len(wanted)),
        np.array(labels, dtype=np.int64),
        tuple(wanted),
    )


def _number(path: Path, line: int, column: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{path.name}: row {line}, column {column!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{path.name}: row {line}, column {column!r} is not a finite number")
    return value
