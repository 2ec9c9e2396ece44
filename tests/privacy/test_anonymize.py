"""Anonymisation: rules, hierarchies, k-anonymity and l-diversity (hypothesis), streaming, bad input."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core.errors import ConfigError, InputError, UsageError
from bastion.privacy.anonymize import (
    DateShifter,
    Generalizer,
    KeyedHasher,
    anonymize_file,
    load_config,
    parse_config,
)
from bastion.privacy.anonymize.config import (
    DateHierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
    SuppressHierarchy,
)

KEY = b"test-key-0123456789abcdef"
QUASI = {
    "age": {"hierarchy": {"type": "interval", "widths": [5, 10, 20, 40]}},
    "postcode": {"hierarchy": {"type": "prefix", "keep": [4, 3, 2, 1]}},
    "sex": {"hierarchy": {"type": "suppress"}},
}


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        return [
            {k: ("" if v is None else str(v)) for k, v in row.items()}
            for row in pq.read_table(path).to_pylist()
        ]
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("hierarchy", "value", "labels"),
    [
        (IntervalHierarchy(type="interval", widths=[5, 10]), "37", ["37", "[35-40)", "[30-40)", "*"]),
        (IntervalHierarchy(type="interval", widths=[5, 10]), "n/a", ["n/a", "*", "*", "*"]),
        (PrefixHierarchy(type="prefix", keep=[3, 1]), "10115", ["10115", "101**", "1****", "*"]),
        (DateHierarchy(type="date"), "1984-07-21", ["1984-07-21", "1984-07", "1984", "1980s", "*"]),
        (DateHierarchy(type="date"), "21.07.1984", ["21.07.1984", "*", "*", "*", "*"]),
        (MapHierarchy(type="map", levels=[{"de": "eu", "fr": "eu"}]), "de", ["de", "eu", "*"]),
        (MapHierarchy(type="map", levels=[{"de": "eu"}]), "us", ["us", "*", "*"]),
        (SuppressHierarchy(type="suppress"), "f", ["f", "*"]),
        (PrefixHierarchy(type="prefix", keep=[3]), "", ["", "*", "*"]),
    ],
)
def test_generalisation_hierarchies(hierarchy: Any, value: str, labels: list[str]) -> None:
    generalizer = Generalizer(hierarchy)
    assert generalizer.height == len(labels) - 1
    assert [generalizer.label(value, level) for level in range(generalizer.height + 1)] == labels


def test_keyed_hash_and_date_shift() -> None:
    hasher, other = KeyedHasher(KEY), KeyedHasher(b"another-key-0123456789")
    assert hasher("anna@example.org") == hasher("anna@example.org") != other("anna@example.org")
    assert len(hasher("x")) == 16 and hasher("x") != hasher("y")
    shifter = DateShifter(KEY, max_days=30)
    first, second = shifter.shift("2026-03-01", "d-1"), shifter.shift("2026-03-11", "d-1")
    assert (date.fromisoformat(second) - date.fromisoformat(first)).days == 10  # intervals survive
    offsets = {shifter.offset(f"d-{i}").days for i in range(300)}
    assert max(offsets) <= 30 and min(offsets) >= -30 and len(offsets) > 20
    assert shifter.shift("not a date", "d-1") is None
    assert shifter.shift(date(2026, 3, 1), "d-1") == date.fromisoformat(first)
    assert "T" in shifter.shift("2026-03-01T10:00:00", "d-1")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"columns": {"a": {"action": "explode"}}}, "columns.a.action"),
        ({"columns": {"a": {"action": "generalize"}}}, "generalize needs a hierarchy"),
        ({"columns": {"a": {"action": "shift_dates"}}}, "needs 'by'"),
        (
            {"quasi_identifiers": {"a": {"hierarchy": {"type": "interval", "widths": [5, 7]}}}},
            "whole multiple",
        ),
        ({"quasi_identifiers": {"a": {"hierarchy": {"type": "prefix", "keep": [1, 3]}}}}, "must not grow"),
        ({"columns": {"a": {"action": "drop"}}, "quasi_identifiers": {"a": QUASI["sex"]}}, "both ruled"),
        ({"l": 2, "quasi_identifiers": QUASI}, "needs at least one sensitive"),
        ({"k": 3}, "needs quasi_identifiers"),
        ({"k": 0}, "k"),
        ({"unknown": 1}, "unknown"),
        ([1, 2], "must be a mapping"),
        (
            {
                "quasi_identifiers": {
                    "c": {
                        "hierarchy": {"type": "map", "levels": [{"a": "x", "b": "x"}, {"a": "p", "b": "q"}]}
                    }
                }
            },
            "not nested",
        ),
    ],
)
def test_config_errors_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_shipped_example_config_runs_on_the_demo_debtors(tmp_path: Path) -> None:
    from bastion.demo.data import generate

    data = generate(seed=7, debtors_per_tenant=60)
    header = [
        "debtor_id",
        "tenant_id",
        "first_name",
        "last_name",
        "salutation",
        "street",
        "postcode",
        "city",
        "country",
        "birth_date",
        "email",
        "phone",
        "iban",
        "language",
        "opened_on",
        "outstanding_eur",
        "note",
    ]
    rows = []
    for index, debtor in enumerate(data.debtors):
        case = data.cases_of_debtor(debtor.debtor_id)[0]
        note = (
            f"Debtor {debtor.full_name} called, mail {debtor.email}, IBAN {debtor.iban}"
            if index % 3 == 0
            else ""
        )
        rows.append(
            [
                debtor.debtor_id,
                debtor.tenant_id,
                debtor.first_name,
                debtor.last_name,
                debtor.salutation,
                debtor.address.street,
                debtor.address.postcode,
                debtor.address.city,
                debtor.address.country,
                debtor.birth_date.isoformat(),
                debtor.email,
                debtor.phone,
                debtor.iban,
                debtor.language,
                case.opened_on.isoformat(),
                case.outstanding_cents / 100,
                note,
            ]
        )
    source = write_csv(tmp_path / "debtors.csv", header, rows)
    config = load_config(Path(__file__).parents[2] / "src/bastion/data/privacy/anonymize_debtors.yaml")
    report = anonymize_file(source, tmp_path / "out.parquet", config, key=KEY)
    out = pq.read_table(tmp_path / "out.parquet")
    cells = {str(value) for row in out.to_pylist() for value in row.values()}
    text = " ".join(sorted(cells))
    for debtor in data.debtors:
        assert debtor.email not in text and debtor.iban not in text and debtor.full_name not in text, (
            debtor.debtor_id
        )
    assert "first_name" not in out.column_names and report.pii_replacements["EMAIL"] >= 50
    combos = Counter(
        tuple(row[q] for q in ("birth_date", "postcode", "country", "salutation")) for row in out.to_pylist()
    )
    assert min(combos.values()) >= 5
    assert report.suppressed_rows <= 0.02 * len(rows)
    meta = out.schema.metadata[b"bastion.retention"]
    assert b"P6Y" in meta and out.schema.field("opened_on").metadata == {b"bastion.retention": b"P10Y"}


@st.composite
def tables(draw: Any) -> list[list[Any]]:
    size = draw(st.integers(1, 120))
    postcodes = draw(st.lists(st.from_regex(r"[0-9]{5}", fullmatch=True), min_size=1, max_size=8))
    return [
        [
            draw(st.integers(0, 99)),
            draw(st.sampled_from(postcodes)),
            draw(st.sampled_from(["f", "m", "d"])),
            draw(st.sampled_from(["flu", "cold", "asthma", "none"])),
            f"p{index}",
        ]
        for index in range(size)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=tables(),
    k=st.integers(1, 6),
    l_value=st.integers(1, 3),
    suppression=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_output_is_k_anonymous_and_l_diverse(
    tmp_path: Path, rows: list[list[Any]], k: int, l_value: int, suppression: float
) -> None:
    source = write_csv(tmp_path / "in.csv", ["age", "postcode", "sex", "diagnosis", "name"], rows)
    config = parse_config(
        {
            "columns": {"name": {"action": "drop"}},
            "quasi_identifiers": QUASI,
            "k": k,
            "l": l_value,
            "sensitive": ["diagnosis"],
            "max_suppression": suppression,
        }
    )
    output = tmp_path / "out.csv"
    try:
        report = anonymize_file(source, output, config)
    except InputError as error:
        assert "no generalisation reaches" in str(error)
        # the top of the lattice puts every row in one class: only too few rows or values can fail it
        assert len(rows) < k or len({row[3] for row in rows}) < l_value
        return
    out = read_rows(output)
    assert len(out) == report.output_rows == len(rows) - report.suppressed_rows
    assert report.suppressed_rows <= suppression * len(rows) + 1e-9
    assert all("name" not in row for row in out)
    classes: dict[tuple[str, ...], set[str]] = {}
    sizes: Counter[tuple[str, ...]] = Counter()
    for row in out:
        key = (row["age"], row["postcode"], row["sex"])
        sizes[key] += 1
        classes.setdefault(key, set()).add(row["diagnosis"])
    assert all(size >= k for size in sizes.values())
    assert all(len(values) >= l_value for values in classes.values())
    assert report.solution is not None and report.solution.smallest_class == min(sizes.values(), default=0)


def test_generalises_only_as_much_as_needed(tmp_path: Path) -> None:
    rows = [[30 + i % 5, "10115", "f", "x", f"p{i}"] for i in range(20)]
    source = write_csv(tmp_path / "in.csv", ["age", "postcode", "sex", "diagnosis", "name"], rows)
    config = parse_config({"quasi_identifiers": QUASI, "k": 4})
    report = anonymize_file(source, tmp_path / "out.csv", config)
    assert report.solution is not None and report.solution.levels == (0, 0, 0)  # 4 of each age already
    config = parse_config({"quasi_identifiers": QUASI, "k": 5})
    report = anonymize_file(source, tmp_path / "out.csv", config)
    assert report.solution is not None and report.solution.levels == (1, 0, 0)
    assert {row["age"] for row in read_rows(tmp_path / "out.csv")} == {"[30-35)"}
    loss = report.to_dict()["information_loss"]
    assert loss["levels"]["age"] == {"level": 1, "height": 5} and loss["precision_loss"] == pytest.approx(
        1 / 15, abs=1e-4
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streams_files_larger_than_a_chunk(tmp_path: Path, suffix: str) -> None:
    rows = [
        [20 + i % 60, f"{10000 + i % 40}", "fm"[i % 2], "ab"[i % 3 == 0], f"person{i}@example.org"]
        for i in range(6000)
    ]
    header = ["age", "postcode", "sex", "diagnosis", "email"]
    source = write_csv(tmp_path / "in.csv", header, rows)
    if suffix == ".parquet":
        table = pacsv.read_csv(
            source, convert_options=pacsv.ConvertOptions(column_types={"postcode": pa.string()})
        )
        source = tmp_path / "in.parquet"
        pq.write_table(table, source)
    base = {
        "columns": {"email": {"action": "hash"}},
        "quasi_identifiers": QUASI,
        "k": 10,
        "max_suppression": 0.01,
    }
    small = parse_config(base | {"chunk_rows": 500, "csv_block_bytes": 16 * 1024})
    whole = parse_config(base | {"chunk_rows": 1_000_000, "csv_block_bytes": 64 << 20})
    streamed = anonymize_file(source, tmp_path / f"a{suffix}", small, key=KEY)
    at_once = anonymize_file(source, tmp_path / f"b{suffix}", whole, key=KEY)
    assert streamed.chunks > 5 and at_once.chunks == 1
    assert streamed.input_rows == 6000 and streamed.output_rows == at_once.output_rows
    assert read_rows(tmp_path / f"a{suffix}") == read_rows(tmp_path / f"b{suffix}")
    first = read_rows(tmp_path / f"a{suffix}")[0]
    assert first["email"] == KeyedHasher(KEY)("person0@example.org")
    if suffix == ".parquet":
        assert pq.read_table(tmp_path / "a.parquet").schema.field("sex").type == pa.string()


def test_pii_column_is_redacted(tmp_path: Path) -> None:
    notes = [
        "Debtor asked to pay to IBAN DE89 3704 0044 0532 0130 00, write to max.mustermann@example.org",
        "Schuldner ruft morgen an.",
        "",
    ]
    source = write_csv(tmp_path / "in.csv", ["id", "note"], [[i, note] for i, note in enumerate(notes)])
    config = parse_config({"columns": {"note": {"action": "pii"}}})
    report = anonymize_file(source, tmp_path / "out.csv", config)
    out = read_rows(tmp_path / "out.csv")
    assert "DE89" not in out[0]["note"] and "example.org" not in out[0]["note"]
    assert "[IBAN]" in out[0]["note"] and "[EMAIL]" in out[0]["note"]
    assert out[1]["note"] == notes[1] and out[2]["note"] == ""
    assert report.pii_replacements == {"EMAIL": 1, "IBAN": 1}


def test_bad_input_gives_clear_errors_without_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({"columns": {"email": {"action": "hash"}}})
    good = write_csv(tmp_path / "in.csv", ["email"], [["secret.person@example.org"]])
    monkeypatch.delenv("BASTION_ANONYMIZE_KEY", raising=False)
    with pytest.raises(ConfigError, match="BASTION_ANONYMIZE_KEY"):
        anonymize_file(good, tmp_path / "o.csv", config)
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        anonymize_file(good, tmp_path / "o.csv", config, key=b"short")
    monkeypatch.setenv("BASTION_ANONYMIZE_KEY", "from-the-environment-123")
    assert anonymize_file(good, tmp_path / "o.csv", config).output_rows == 1
    missing = parse_config({"columns": {"iban": {"action": "drop"}}})
    with pytest.raises(ConfigError, match=r"\['iban'\]"):
        anonymize_file(good, tmp_path / "o.csv", missing)
    (tmp_path / "bad.csv").write_bytes(b"email\nsecret.person@example.org\n\xff\xfe\xfa\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "ragged.csv").write_text("email,x\nsecret.person@example.org,1,2,3\n")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 secret.person@example.org garbage")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    for name in ("bad.csv", "empty.csv", "ragged.csv", "bad.parquet", "binary.csv"):
        with pytest.raises(InputError) as caught:
            anonymize_file(tmp_path / name, tmp_path / "o.csv", parse_config({}))
        assert "secret" not in str(caught.value)
    with pytest.raises(UsageError, match="overwrite"):
        anonymize_file(good, good, parse_config({}))
    with pytest.raises(UsageError, match="format"):
        anonymize_file(good, tmp_path / "o.xlsx", parse_config({}))


def test_csv_output_carries_retention_in_a_sidecar(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ["a", "b"], [[1, 2]])
    config = parse_config(
        {
            "retention": {"dataset": "P1Y", "columns": {"a": "P3M"}},
            "default_action": "drop",
            "columns": {"a": {"action": "keep"}},
        }
    )
    report = anonymize_file(source, tmp_path / "out.csv", config)
    assert (tmp_path / "out.csv.retention.json").read_text().count("P3M") == 1
    assert read_rows(tmp_path / "out.csv") == [{"a": "1"}]
    assert report.to_dict()["columns"] == {"a": "keep", "b": "drop"}
