"""Stream a CSV or Parquet file through the anonymisation rules in chunks, twice.

Pass 1 (only when quasi-identifiers are declared) counts the quasi-identifier combinations; the lattice
search picks the generalisation levels; pass 2 applies every rule, generalises the quasi-identifiers,
drops the rows of classes that stay too small (or not diverse enough) and writes the output. Each pass
holds one chunk at a time (``chunk_rows`` rows of Parquet, ``csv_block_bytes`` of CSV), so memory does
not grow with the file; the counter of pass 1 grows with the distinct combinations and is capped.

Errors name the file and the column, never a value: pyarrow's own messages can quote a row, so they are
replaced rather than chained.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.core.errors import ConfigError, InputError, UsageError
from bastion.privacy._optional import require
from bastion.privacy.anonymize.config import Action, AnonymizationConfig
from bastion.privacy.anonymize.kanonymity import CombinationCounter, Solution, search
from bastion.privacy.anonymize.rules import SUPPRESSED, DateShifter, Generalizer, KeyedHasher, text_of

__all__ = ["AnonymizationReport", "anonymize_file", "detect_format"]

#: shortest HMAC key accepted, in bytes
MINIMUM_KEY_BYTES = 16
RETENTION_METADATA = b"bastion.retention"


@dataclass(frozen=True, slots=True)
class AnonymizationReport:
    """What the run did and what it cost in information (no values, only counts and labels)."""

    input_rows: int
    output_rows: int
    suppressed_rows: int
    chunks: int
    seconds: float
    actions: dict[str, str]
    k: int
    l: int  # noqa: E741 - the l of l-diversity
    solution: Solution | None
    quasi_identifiers: tuple[str, ...]
    heights: tuple[int, ...]
    pii_replacements: dict[str, int] = field(default_factory=dict)
    unreadable_dates: dict[str, int] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        solution = self.solution
        kept = self.output_rows
        information: dict[str, Any] = {
            "suppressed_rows": self.suppressed_rows,
            "suppressed_share": round(self.suppressed_rows / self.input_rows, 6) if self.input_rows else 0.0,
        }
        if solution is not None:
            information |= {
                "levels": {
                    name: {"level": level, "height": height}
                    for name, level, height in zip(
                        self.quasi_identifiers, solution.levels, self.heights, strict=True
                    )
                },
                "precision_loss": round(solution.precision_loss, 4),
                "equivalence_classes": solution.classes,
                "smallest_class": solution.smallest_class,
                "average_class_size": round(kept / solution.classes, 3) if solution.classes else 0.0,
                "normalized_average_class_size": round(kept / solution.classes / self.k, 3)
                if solution.classes
                else 0.0,
                "discernibility": solution.discernibility,
                "lattice_nodes": solution.nodes_tried,
            }
        return {
            "schema": "bastion.privacy.anonymization/v1",
            "input_rows": self.input_rows,
            "output_rows": self.output_rows,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.input_rows / self.seconds, 1) if self.seconds > 0 else None,
            "k": self.k,
            "l": self.l,
            "columns": self.actions,
            "information_loss": information,
            "pii_replacements": dict(sorted(self.pii_replacements.items())),
            "unreadable_dates": self.unreadable_dates,
            "retention": self.retention,
        }


def detect_format(path: Path, given: str | None = None) -> str:
    if given:
        if given not in ("csv", "parquet"):
            raise UsageError(f"unknown format {given!r} (csv or parquet)")
        return given
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise UsageError(f"{path.name}: cannot tell the format from the name; give csv or parquet")


def _key(config: AnonymizationConfig, key: bytes | None) -> bytes | None:
    if not config.needs_key():
        return None
    if key is None:
        raw = os.environ.get(config.key_env, "")
        if not raw:
            raise ConfigError(f"hash and shift_dates need a key: set {config.key_env}")
        key = raw.encode("utf-8")
    if len(key) < MINIMUM_KEY_BYTES:
        raise ConfigError(f"the anonymisation key must be at least {MINIMUM_KEY_BYTES} bytes")
    return key


class _Source:
    """Chunks of one input file as pyarrow record batches, all CSV columns as text."""

    def __init__(self, path: Path, file_format: str, config: AnonymizationConfig) -> None:
        pa, pq = require("pyarrow"), require("pyarrow.parquet")

        self.path, self.format, self.config = path, file_format, config
        if not path.is_file():
            raise UsageError(f"{path.name}: no such file")
        if file_format == "csv":
            try:
                with path.open(encoding="utf-8", newline="") as handle:
                    header = next(csv.reader(handle), None)
            except UnicodeDecodeError:
                raise InputError(f"{path.name}: not UTF-8 text") from None
            except csv.Error:
                raise InputError(f"{path.name}: the header is not valid CSV") from None
            if not header:
                raise InputError(f"{path.name}: empty file, expected a header row")
            if len(set(header)) != len(header):
                raise InputError(f"{path.name}: duplicate column names in the header")
            self.schema = pa.schema([(name, pa.string()) for name in header])
        else:
            try:
                self.schema = pq.ParquetFile(path).schema_arrow
            except (pa.ArrowException, OSError):
                raise InputError(f"{path.name}: not a readable Parquet file") from None

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def batches(self) -> Iterator[Any]:
        pa, pacsv, pq = require("pyarrow"), require("pyarrow.csv"), require("pyarrow.parquet")

        try:
            if self.format == "csv":
                reader = pacsv.open_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(block_size=self.config.csv_block_bytes),
                    convert_options=pacsv.ConvertOptions(
                        column_types=dict(zip(self.schema.names, self.schema.types, strict=True)),
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                    ),
                )
                yield from reader
            else:
                yield from pq.ParquetFile(self.path).iter_batches(batch_size=self.config.chunk_rows)
        except pa.ArrowMemoryError:
            raise InputError(
                f"{self.path.name}: out of memory reading a chunk; lower csv_block_bytes or chunk_rows"
            ) from None
        except pa.ArrowException:
            kind = "CSV (malformed row or invalid UTF-8)" if self.format == "csv" else "Parquet"
            raise InputError(f"{self.path.name}: cannot read as {kind}") from None


class _Plan:
    """The per-column work, resolved against the input's columns."""

    def __init__(self, config: AnonymizationConfig, columns: list[str], key: bytes | None) -> None:
        named = [*config.columns, *config.quasi_identifiers, *config.sensitive]
        named += [rule.by for rule in config.columns.values() if rule.by]
        missing = sorted({name for name in named if name not in columns})
        if missing:
            raise ConfigError(f"the config names columns the input lacks: {missing}")
        self.config = config
        self.quasi = list(config.quasi_identifiers)
        self.generalizers = [Generalizer(config.quasi_identifiers[name].hierarchy) for name in self.quasi]
        for name, generalizer in zip(self.quasi, self.generalizers, strict=True):
            if config.quasi_identifiers[name].min_level > generalizer.height:
                raise ConfigError(f"quasi_identifiers.{name}.min_level exceeds the hierarchy's height")
        self.actions: dict[str, Action | str] = {}
        for name in columns:
            if name in config.quasi_identifiers:
                self.actions[name] = "quasi-identifier"
            elif name in config.columns:
                self.actions[name] = config.columns[name].action
            else:
                self.actions[name] = Action(config.default_action)
        self.output_columns = [name for name in columns if self.actions[name] is not Action.DROP]
        self.hashers = {
            name: KeyedHasher(key or b"", rule.length)
            for name, rule in config.columns.items()
            if rule.action is Action.HASH
        }
        self.shifters = {
            name: DateShifter(key or b"", rule.max_days)
            for name, rule in config.columns.items()
            if rule.action is Action.SHIFT_DATES
        }
        self.fixed = {
            name: Generalizer(rule.hierarchy)
            for name, rule in config.columns.items()
            if rule.action is Action.GENERALIZE and rule.hierarchy is not None
        }
        self._pii: Any = None

    def pii_detector(self) -> Any:
        if self._pii is None:
            from bastion.detect.registry import detectors

            self._pii = detectors.create("pii")
        return self._pii

    def output_type(self, name: str, original: Any) -> Any:
        pa = require("pyarrow")

        action = self.actions[name]
        return original if action in (Action.KEEP, Action.SHIFT_DATES) else pa.string()


def _text(column: Any) -> Any:
    """``column`` as a string array without nulls (the text a rule sees)."""
    pa, pc = require("pyarrow"), require("pyarrow.compute")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pa.array([text_of(value) for value in column.to_pylist()], pa.string())
    return pc.fill_null(column, "")


def _per_distinct(column: Any, function: Callable[[str], str]) -> Any:
    """``function`` applied once per distinct value of a text column, spread back to every row."""
    pa, pc = require("pyarrow"), require("pyarrow.compute")
    encoded = pc.dictionary_encode(column)
    mapped = pa.array([function(value) for value in encoded.dictionary.to_pylist()], pa.string())
    return mapped.take(encoded.indices)


def _labels(column: Any, generalizer: Generalizer, level: int) -> Any:
    text = _text(column)
    return text if level == 0 else _per_distinct(text, lambda value: generalizer.label(value, level))


#: rows of per-chunk group counts (or sensitive pairs) held before they are merged again
_COMPACT_ROWS = 250_000


class _GroupCounts:
    """Pass-1 counts as Arrow tables: per chunk the groups of quasi-identifier labels (with a count and a
    raw example) and the distinct (labels, sensitive value) pairs, merged again by Arrow whenever they
    grow past :data:`_COMPACT_ROWS` rows; Python only sees the final distinct combinations."""

    def __init__(self, keys: list[str], examples: list[str], sensitive: list[str], limit: int) -> None:
        self.keys, self.examples, self.sensitive, self.limit = keys, examples, sensitive, limit
        self.counts: list[Any] = []
        self.pairs: list[list[Any]] = [[] for _ in sensitive]

    def add(self, table: Any) -> None:
        aggregations = [(self.keys[0], "count"), *((name, "min") for name in self.examples)]
        grouped = table.group_by(self.keys).aggregate(aggregations)
        self.counts.append(grouped.rename_columns(self._names(grouped)))
        for position, name in enumerate(self.sensitive):
            self.pairs[position].append(
                table.select([*self.keys, name]).group_by([*self.keys, name]).aggregate([])
            )
        if sum(part.num_rows for part in self.counts) > _COMPACT_ROWS:
            self.compact()

    def _names(self, table: Any) -> list[str]:
        renamed = {f"{self.keys[0]}_count": "rows", "rows_sum": "rows"}
        renamed |= {f"{name}_min": name for name in self.examples}
        return [renamed.get(name, name) for name in table.column_names]

    def compact(self) -> None:
        pa = require("pyarrow")
        merged = pa.concat_tables(self.counts)
        aggregations = [("rows", "sum"), *((name, "min") for name in self.examples)]
        grouped = merged.group_by(self.keys, use_threads=False).aggregate(aggregations)
        self.counts = [grouped.rename_columns(self._names(grouped))]
        if self.counts[0].num_rows > self.limit:
            raise InputError(
                f"more than {self.limit:,} distinct quasi-identifier combinations: raise min_level of the "
                "most varied quasi-identifier or max_combinations"
            )
        for position, name in enumerate(self.sensitive):
            both = pa.concat_tables(self.pairs[position])
            self.pairs[position] = [both.group_by([*self.keys, name], use_threads=False).aggregate([])]


def _count_pass(source: _Source, plan: _Plan) -> CombinationCounter:
    pa = require("pyarrow")
    config = plan.config
    levels = [config.quasi_identifiers[name].min_level for name in plan.quasi]
    counter = CombinationCounter(plan.generalizers, levels, len(config.sensitive), config.max_combinations)
    keys = [f"q{i}" for i in range(len(plan.quasi))]
    examples = [f"r{i}" for i, level in enumerate(levels) if level]
    sensitive = [f"s{j}" for j in range(len(config.sensitive))]
    groups = _GroupCounts(keys, examples, sensitive, config.max_combinations)
    for batch in source.batches():
        columns: dict[str, Any] = {}
        for i, (name, generalizer, level) in enumerate(
            zip(plan.quasi, plan.generalizers, levels, strict=True)
        ):
            columns[keys[i]] = _labels(batch.column(name), generalizer, level)
            if level:
                columns[f"r{i}"] = _text(batch.column(name))
        for j, name in enumerate(config.sensitive):
            columns[sensitive[j]] = _text(batch.column(name))
        if batch.num_rows:
            groups.add(pa.table(columns))
    if not groups.counts:
        return counter
    groups.compact()
    final = groups.counts[0].to_pydict()
    combinations = list(zip(*(final[key] for key in keys), strict=True))
    example_rows = list(
        zip(*(final[f"r{i}"] if level else final[keys[i]] for i, level in enumerate(levels)), strict=True)
    )
    values: list[list[list[str]]] = []
    for position, name in enumerate(sensitive):
        per_combination: dict[tuple[str, ...], list[str]] = {}
        pairs = groups.pairs[position][0].to_pydict()
        for combination, value in zip(
            zip(*(pairs[key] for key in keys), strict=True), pairs[name], strict=True
        ):
            per_combination.setdefault(combination, []).append(value)
        values.append([per_combination.get(combination, []) for combination in combinations])
    counter.merge(combinations, example_rows, final["rows"], values)
    return counter


def _joined(labels: list[Any]) -> Any:
    pc = require("pyarrow.compute")
    return pc.binary_join_element_wise(*labels, "\x1f") if len(labels) > 1 else labels[0]


def _transform(
    batch: Any, plan: _Plan, solution: Solution | None, report: dict[str, Counter[str]], schema: Any
) -> Any:
    pa, pc = require("pyarrow"), require("pyarrow.compute")
    config = plan.config
    rows = batch.num_rows
    keep: Any = None
    arrays: list[Any] = []
    generalized: dict[str, Any] = {}
    if solution is not None and plan.quasi:
        labels = [
            _labels(batch.column(name), g, level)
            for name, g, level in zip(plan.quasi, plan.generalizers, solution.levels, strict=True)
        ]
        if solution.suppressed_classes:
            dropped = pa.array(["\x1f".join(combo) for combo in solution.suppressed_classes], pa.string())
            keep = pc.invert(pc.is_in(_joined(labels), value_set=dropped))
        generalized = dict(zip(plan.quasi, labels, strict=True))
    for name in plan.output_columns:
        action = plan.actions[name]
        target_type = schema.field(name).type
        if name in generalized:
            arrays.append(generalized[name])
        elif action is Action.KEEP:
            arrays.append(batch.column(name).cast(target_type))
        elif action is Action.HASH:
            hasher = plan.hashers[name]
            arrays.append(_per_distinct(_text(batch.column(name)), hasher))
        elif action is Action.SUPPRESS:
            arrays.append(pa.array([SUPPRESSED] * rows, pa.string()))
        elif action is Action.GENERALIZE:
            generalizer = plan.fixed[name]
            level = min(config.columns[name].level, generalizer.height)
            arrays.append(_labels(batch.column(name), generalizer, level))
        elif action is Action.SHIFT_DATES:
            rule = config.columns[name]
            assert rule.by is not None
            people = _text(batch.column(rule.by)).to_pylist()
            shifter = plan.shifters[name]
            shifted = [
                shifter.shift(v, p) for v, p in zip(batch.column(name).to_pylist(), people, strict=True)
            ]
            unreadable = sum(
                1
                for old, new in zip(batch.column(name).to_pylist(), shifted, strict=True)
                if new is None and old not in (None, "")
            )
            if unreadable:
                report["unreadable_dates"][name] += unreadable
            if pa.types.is_string(target_type) or pa.types.is_large_string(target_type):
                shifted = ["" if v is None else v for v in shifted]
            arrays.append(pa.array(shifted, type=target_type))
        else:  # Action.PII
            from bastion.pseudonymize import mask

            detector = plan.pii_detector()
            wanted = config.columns[name].types
            types = frozenset(wanted) if wanted else None
            masked: list[str] = []
            for text in _text(batch.column(name)).to_pylist():
                if not text:
                    masked.append(text)
                    continue
                found = [d for d in detector.detect(text) if d.flagged and d.span is not None]
                for detection in found:
                    if types is None or detection.type in types:
                        report["pii"][detection.type] += 1
                masked.append(mask(text, found, types))
            arrays.append(pa.array(masked, pa.string()))
    out = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return out if keep is None else out.filter(keep)


def anonymize_file(
    source_path: Path,
    output_path: Path,
    config: AnonymizationConfig,
    *,
    key: bytes | None = None,
    input_format: str | None = None,
    output_format: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> AnonymizationReport:
    """Anonymise ``source_path`` into ``output_path`` and report what was done. ``key`` (or the variable
    ``config.key_env``) keys the hashes and date shifts; it is needed only when the config uses them."""
    pa, pacsv, pq = require("pyarrow"), require("pyarrow.csv"), require("pyarrow.parquet")
    started = time.perf_counter()
    in_format = detect_format(source_path, input_format)
    out_format = detect_format(output_path, output_format)
    if source_path.resolve() == output_path.resolve():
        raise UsageError("the output must not overwrite the input")
    source = _Source(source_path, in_format, config)
    plan = _Plan(config, source.columns, _key(config, key))
    solution: Solution | None = None
    total_rows: int | None = None
    if plan.quasi:
        counter = _count_pass(source, plan)
        solution = search(counter, config.k, config.l, config.max_suppression)
        total_rows = counter.rows
    fields = []
    for name in plan.output_columns:
        original = source.schema.field(name).type
        target = plan.output_type(name, original)
        if out_format == "csv":
            target = pa.string() if target != original or in_format == "csv" else original
        tag = config.retention.columns.get(name)
        fields.append(pa.field(name, target, metadata={RETENTION_METADATA: tag.encode()} if tag else None))
    retention: dict[str, Any] = {
        "dataset": config.retention.dataset,
        "columns": dict(config.retention.columns),
    }
    schema = pa.schema(fields, metadata={RETENTION_METADATA: json.dumps(retention).encode()})
    output_path.parent.mkdir(parents=True, exist_ok=True)
    counters: dict[str, Counter[str]] = {"pii": Counter(), "unreadable_dates": Counter()}
    rows_in = rows_out = chunks = 0
    writer: Any = (
        pq.ParquetWriter(output_path, schema)
        if out_format == "parquet"
        else pacsv.CSVWriter(output_path, schema)
    )
    try:
        for batch in source.batches():
            out = _transform(batch, plan, solution, counters, schema)
            writer.write_batch(out)
            rows_in += batch.num_rows
            rows_out += out.num_rows
            chunks += 1
            if progress is not None:
                progress(batch.num_rows)
    finally:
        writer.close()
    if out_format == "csv" and (config.retention.dataset or config.retention.columns):
        sidecar = output_path.with_name(output_path.name + ".retention.json")
        sidecar.write_text(json.dumps(retention, indent=2) + "\n", encoding="utf-8")
    if total_rows is not None and total_rows != rows_in:
        raise InputError(f"{source_path.name} changed while it was read ({total_rows} then {rows_in} rows)")
    actions = {name: str(action) for name, action in plan.actions.items()}
    return AnonymizationReport(
        input_rows=rows_in,
        output_rows=rows_out,
        suppressed_rows=rows_in - rows_out,
        chunks=chunks,
        seconds=time.perf_counter() - started,
        actions=actions,
        k=config.k,
        l=config.l,
        solution=solution,
        quasi_identifiers=tuple(plan.quasi),
        heights=tuple(g.height for g in plan.generalizers),
        pii_replacements=dict(counters["pii"]),
        unreadable_dates=dict(counters["unreadable_dates"]),
        retention=retention,
    )
