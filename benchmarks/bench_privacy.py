"""Benchmark of privacy testing (side by side with IBM ART) and of dataset anonymisation.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_privacy.py            # everything
    PYTHONPATH=src .venv/bin/python benchmarks/bench_privacy.py --part anonymization --rows 2000000

Membership inference. Two demo targets, each split 50/50 into members (the training set) and
non-members (same population). Each half is split again: the *known* halves are what an attacker that
knows some members and non-members holds (IBM ART's ``MembershipInferenceBlackBox`` trains its attack
model on them, and ART's ``ShadowModels`` trains its shadows on them), the *evaluation* halves are the
candidates every attack scores. Bastion's attacks see only the evaluation candidates (their shadows are
trained on random halves of them, as LiRA prescribes). Models: the deliberately overfit full-depth
random forest and the regularised forest of the mitigation study, the same fitted model for both tools.
Figures: ROC AUC, TPR at 1% and 0.1% FPR (0.1% is resolvable only with >= 1,000 evaluation
non-members: German Credit has 250, the payments data about 1,700), and wall time (shadow training
included).

Anonymisation. A synthetic CSV of debtor-like rows (id, e-mail, age, postcode, sex, tenant, amount, date)
larger than the memory cap of the process that anonymises it: the child runs (with Arrow's system
allocator and ``MALLOC_ARENA_MAX=2``, so that reserved but unused address space does not count) under
``RLIMIT_AS`` (address space, which bounds everything the process maps, libraries and thread stacks
included: numpy and pyarrow alone map about 350 MiB) of ``--memory-cap-mib`` MiB (default 1,024) while the
file is larger than that, so the run only succeeds if it streams (default 14M rows, 1.3 GiB, under a
1,280 MiB cap). Rules: id and e-mail dropped, k = 10 over age, postcode (from 4-digit prefixes,
``min_level: 1``) and sex with l = 2 on the tenant. Rows per second cover both passes; peak memory is
the child's maximum resident set size. Two smaller runs measure the per-value rules (keyed hashes and
date shifts, 300k rows) and the PII detector on a free-text column (5k notes), which dominate the cost
when present.

Writes ``benchmarks/results/privacy.json`` and ``benchmarks/results/privacy.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
SHADOWS = 32


def _summary(scores: Any, truth: np.ndarray) -> dict[str, float]:
    from bastion.privacy.metrics import summarize

    values = np.asarray(scores, dtype=np.float64)
    if values.ndim == 2:
        values = values[:, -1]
    summary, _ = summarize(values, truth)
    return {
        "auc": round(summary.auc, 4),
        "tpr_at_1pct_fpr": round(summary.tpr_at_1pct_fpr, 4),
        "tpr_at_0.1pct_fpr": round(summary.tpr_at_01pct_fpr, 4),
    }


def _art_rows(
    model: Any, recipe_factory: Any, known: tuple[Any, ...], evaluation: tuple[Any, ...]
) -> list[dict[str, Any]]:
    from art.attacks.inference.membership_inference import (
        MembershipInferenceBlackBox,
        MembershipInferenceBlackBoxRuleBased,
        ShadowModels,
    )
    from art.estimators.classification.scikitlearn import ScikitlearnRandomForestClassifier

    members_x, members_y, nonmembers_x, nonmembers_y = known
    x, y, truth = evaluation
    classifier = ScikitlearnRandomForestClassifier(model)
    rows: list[dict[str, Any]] = []

    started = time.perf_counter()
    rule = MembershipInferenceBlackBoxRuleBased(classifier)
    scores = rule.infer(x, y)  # 1 = member (correctly classified); its "probabilities" are not scores
    rows.append(
        {
            "tool": "ART",
            "name": "MembershipInferenceBlackBoxRuleBased",
            **_summary(scores, truth),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    for kind in ("rf", "gb"):
        started = time.perf_counter()
        attack = MembershipInferenceBlackBox(classifier, attack_model_type=kind)
        attack.fit(members_x, members_y, nonmembers_x, nonmembers_y)
        scores = attack.infer(x, y, probabilities=True)
        rows.append(
            {
                "tool": "ART",
                "name": f"MembershipInferenceBlackBox ({kind})",
                **_summary(scores, truth),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    started = time.perf_counter()
    pool_x = np.concatenate([members_x, nonmembers_x])
    pool_y = np.concatenate([members_y, nonmembers_y])
    template = ScikitlearnRandomForestClassifier(recipe_factory().fit(pool_x, pool_y))
    shadows = ShadowModels(template, num_shadow_models=3, random_state=7)
    (in_x, in_y, in_p), (out_x, out_y, out_p) = shadows.generate_shadow_dataset(pool_x, np.eye(2)[pool_y])
    attack = MembershipInferenceBlackBox(classifier, attack_model_type="rf")
    attack.fit(in_x, in_y, out_x, out_y, in_p, out_p)
    scores = attack.infer(x, y, probabilities=True)
    rows.append(
        {
            "tool": "ART",
            "name": "ShadowModels (3) + BlackBox (rf)",
            **_summary(scores, truth),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return rows


def membership_benchmark(name: str, shadows: int) -> dict[str, Any]:
    from bastion.privacy.assessment import assess
    from bastion.privacy.attacks import AttackContext
    from bastion.privacy.datasets import split
    from bastion.privacy.demos import demo_setup
    from bastion.privacy.policy import load_policy
    from bastion.privacy.targets import EstimatorTarget

    setup = demo_setup(name, seed=7, debtors_per_tenant=2_000)
    known_members, eval_members = split(setup.members, 0.5, 11)
    known_nonmembers, eval_nonmembers = split(setup.nonmembers, 0.5, 11)
    x = np.concatenate([eval_members.features, eval_nonmembers.features])
    y = np.concatenate([eval_members.labels, eval_nonmembers.labels])
    truth = np.arange(len(y)) < len(eval_members)
    known = (known_members.features, known_members.labels, known_nonmembers.features, known_nonmembers.labels)
    models: list[dict[str, Any]] = []
    for recipe in setup.recipes[:2]:
        model = recipe.factory().fit(setup.members.features, setup.members.labels)
        context = AttackContext(
            EstimatorTarget(model, name=f"{name}:{recipe.name}"),
            eval_members,
            eval_nonmembers,
            shadow_factory=recipe.factory,
            shadows=shadows,
            sensitive=setup.sensitive,
            seed=7,
        )
        assessment = assess(context, load_policy(), holdout=setup.nonmembers)
        ours = [
            {
                "tool": "Bastion",
                "name": result.attack_id,
                "auc": round(result.summary.auc, 4),
                "tpr_at_1pct_fpr": round(result.summary.tpr_at_1pct_fpr, 4),
                "tpr_at_0.1pct_fpr": round(result.summary.tpr_at_01pct_fpr, 4),
                "seconds": round(result.seconds, 3),
                **({"gain": round(result.gain, 4)} if result.gain is not None else {}),
            }
            for result in assessment.results
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            art = _art_rows(model, recipe.factory, known, (x, y, truth))
        assert assessment.utility is not None
        models.append(
            {
                "recipe": recipe.name,
                "description": recipe.description,
                "accuracy": round(assessment.utility.accuracy, 4),
                "majority_accuracy": round(assessment.utility.majority_accuracy, 4),
                "verdict": assessment.verdict.label,
                "attacks": ours + art,
            }
        )
    return {
        "dataset": name,
        "members": len(setup.members),
        "nonmembers": len(setup.nonmembers),
        "evaluation_members": len(eval_members),
        "evaluation_nonmembers": len(eval_nonmembers),
        "shadows": shadows,
        "models": models,
    }


# --- anonymisation --------------------------------------------------------------------------------------

#: the large, streamed run: k-anonymity and l-diversity (vectorised with Arrow)
ANONYMIZE_CONFIG: dict[str, Any] = {
    "key_env": "BENCH_ANONYMIZE_KEY",
    "columns": {"record_id": {"action": "drop"}, "email": {"action": "drop"}},
    "quasi_identifiers": {
        "age": {"hierarchy": {"type": "interval", "widths": [5, 10, 20]}},
        "postcode": {"hierarchy": {"type": "prefix", "keep": [4, 3, 2, 1]}, "min_level": 1},
        "sex": {"hierarchy": {"type": "suppress"}},
    },
    "k": 10,
    "l": 2,
    "sensitive": ["tenant"],
    "max_suppression": 0.01,
    "csv_block_bytes": 4 << 20,
}


#: the per-value rules, measured on a smaller file
RULES = {
    "record_id": {"action": "hash"},
    "email": {"action": "hash"},
    "opened_on": {"action": "shift_dates", "by": "record_id", "max_days": 30},
}


def write_synthetic_csv(path: Path, rows: int, seed: int = 7, chunk: int = 500_000) -> int:
    """Debtor-like rows, written in chunks (the generator itself stays small)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    tenants = np.array(["t-telkonord", "t-stadtwerke-elbtal", "t-brightcart"])
    schema = pa.schema(
        [
            (n, pa.string())
            for n in ("record_id", "email", "age", "postcode", "sex", "tenant", "amount_eur", "opened_on")
        ]
    )
    with pacsv.CSVWriter(path, schema) as writer:
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            ids = np.arange(start, start + size)
            days = rng.integers(0, 420, size)
            columns = [
                [f"d-{i}" for i in ids],
                [f"person{i}@mail{i % 97}.example" for i in ids],
                rng.integers(18, 90, size).astype(str).tolist(),
                (10_000 + rng.integers(0, 3_000, size) * 3).astype(str).tolist(),
                rng.choice(np.array(["f", "m"]), size).tolist(),
                tenants[rng.integers(0, 3, size)].tolist(),
                np.round(rng.gamma(2.0, 150.0, size), 2).astype(str).tolist(),
                (np.datetime64("2025-09-18") + days).astype(str).tolist(),
            ]
            writer.write_batch(pa.record_batch([pa.array(c, pa.string()) for c in columns], schema=schema))
    return path.stat().st_size


def _child_run(source: Path, output: Path, config_path: Path, cap_mib: int) -> dict[str, Any]:
    """Anonymise in a child process under an address-space cap; its peak RSS comes back from rusage."""
    code = (
        "import json, resource, sys\n"
        f"cap = {cap_mib} << 20\n"
        "resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n"
        "from pathlib import Path\n"
        "from bastion.privacy.anonymize import anonymize_file, parse_config\n"
        "config = parse_config(json.loads(Path(sys.argv[3]).read_text()))\n"
        "report = anonymize_file(Path(sys.argv[1]), Path(sys.argv[2]), config)\n"
        "print(json.dumps(report.to_dict()))\n"
    )
    env = dict(
        os.environ,
        BENCH_ANONYMIZE_KEY="benchmark-key-not-secret-0123",
        PYTHONPATH=str(ROOT / "src"),
        # Arrow's default allocator reserves address space far beyond what it uses; under RLIMIT_AS the
        # system allocator shows what the process really needs
        ARROW_DEFAULT_MEMORY_POOL="system",
        MALLOC_ARENA_MAX="2",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(source), str(output), str(config_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise RuntimeError(f"anonymisation child failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "report": report,
        "wall_seconds": round(seconds, 2),
        "peak_rss_mib": round(max(peak, before) / 1024, 1),
    }


def anonymization_benchmark(rows: int, cap_mib: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as folder:
        directory = Path(folder)
        source = directory / "debtors.csv"
        started = time.perf_counter()
        size = write_synthetic_csv(source, rows)
        generated = time.perf_counter() - started
        config_path = directory / "config.json"
        config_path.write_text(json.dumps(ANONYMIZE_CONFIG))
        run = _child_run(source, directory / "out.parquet", config_path, cap_mib)
        out_size = (directory / "out.parquet").stat().st_size
        report = run["report"]
        loss = report["information_loss"]
        # the per-value rules (keyed hashes and date shifts are one HMAC per value in Python)
        rules_source = directory / "rules.csv"
        write_synthetic_csv(rules_source, 300_000, seed=8)
        rules_config = directory / "rules.json"
        rules_config.write_text(json.dumps({"key_env": "BENCH_ANONYMIZE_KEY", "columns": RULES}))
        rules = _child_run(rules_source, directory / "rules.out.parquet", rules_config, cap_mib)
        # the PII detector on a free-text column, on a small file (it dominates the cost when present)
        notes = directory / "notes.csv"
        notes.write_text(
            "record_id,note\n"
            + "".join(
                f'd-{i},"Debtor Anna Schmidt called, IBAN DE89 3704 0044 0532 0130 00, '
                f'mail a{i}@example.org"\n'
                for i in range(5_000)
            )
        )
        pii_config = directory / "pii.json"
        pii_config.write_text(json.dumps({"columns": {"note": {"action": "pii"}}}))
        pii = _child_run(notes, directory / "notes.out.csv", pii_config, max(cap_mib, 1024))
    return {
        "rows": rows,
        "file_mib": round(size / 2**20, 1),
        "output_parquet_mib": round(out_size / 2**20, 1),
        "generation_seconds": round(generated, 1),
        "memory_cap_mib": cap_mib,
        "peak_rss_mib": run["peak_rss_mib"],
        "wall_seconds": run["wall_seconds"],
        "rows_per_second_two_passes": round(rows / run["wall_seconds"], 0),
        "chunks": report["chunks"],
        "suppressed_rows": rows - report["output_rows"],
        "levels": loss.get("levels"),
        "smallest_class": loss.get("smallest_class"),
        "precision_loss": loss.get("precision_loss"),
        "keyed_rules": {
            "rows": 300_000,
            "rules": RULES,
            "rows_per_second": round(300_000 / rules["wall_seconds"], 0),
            "wall_seconds": rules["wall_seconds"],
        },
        "pii_free_text": {
            "rows": 5_000,
            "rows_per_second": round(5_000 / pii["wall_seconds"], 0),
            "wall_seconds": pii["wall_seconds"],
            "replacements": pii["report"]["pii_replacements"],
        },
    }


def describe() -> dict[str, Any]:
    from bastion.evaluation.machine import describe_machine

    machine = describe_machine()
    from importlib.metadata import version

    machine["art_version"] = version("adversarial-robustness-toolbox")
    machine["scikit_learn_version"] = version("scikit-learn")
    machine["pyarrow_version"] = version("pyarrow")
    return machine


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "# Privacy benchmark",
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"load average {machine['load_average_1min']} (shared machine); scikit-learn "
        f"{machine['scikit_learn_version']}, ART {machine['art_version']}, "
        f"pyarrow {machine['pyarrow_version']}.  ",
        "Command: `PYTHONPATH=src .venv/bin/python benchmarks/bench_privacy.py`",
        "",
        "## Membership inference, Bastion and IBM ART on the same models and evaluation candidates",
        "",
    ]
    lines += [
        "ART's black-box attacks train on the known halves (they see labelled members); Bastion's do not. "
        "Seconds include shadow training (Bastion: the shadows, 32 by default; ART: 3). "
        "TPR at 0.1% FPR means something only with at least 1,000 evaluation non-members: the payments rows, "
        "not the German Credit rows (250 non-members: the first false positive is already 0.4% FPR).",
        "",
    ]
    for dataset in report["membership"]:
        resolvable = "resolvable" if dataset["evaluation_nonmembers"] >= 1000 else "not resolvable"
        lines += [
            f"### {dataset['dataset']}: {dataset['members']} members / {dataset['nonmembers']} non-members; "
            f"evaluated on {dataset['evaluation_members']} + {dataset['evaluation_nonmembers']} "
            f"(0.1% FPR {resolvable}); {dataset['shadows']} shadow models",
            "",
        ]
        for model in dataset["models"]:
            lines += [
                f"**{model['recipe']}** ({model['description']}): accuracy {model['accuracy']:.3f} "
                f"(majority class {model['majority_accuracy']:.3f}), verdict {model['verdict']}",
                "",
                "| tool | attack | AUC | TPR@1%FPR | TPR@0.1%FPR | seconds |",
                "|---|---|---:|---:|---:|---:|",
            ]
            for row in model["attacks"]:
                name = row["name"] + (f" (gain {row['gain']:+.3f})" if "gain" in row else "")
                lines.append(
                    f"| {row['tool']} | {name} | {row['auc']:.3f} | {row['tpr_at_1pct_fpr']:.3f} | "
                    f"{row['tpr_at_0.1pct_fpr']:.3f} | {row['seconds']:.2f} |"
                )
            lines.append("")
    anon = report["anonymization"]
    lines += [
        "## Anonymisation, streamed under a memory cap",
        "",
        f"{anon['rows']:,} rows, {anon['file_mib']} MiB CSV, anonymised by a process capped at "
        f"{anon['memory_cap_mib']} MiB of address space (RLIMIT_AS): peak RSS {anon['peak_rss_mib']} MiB, "
        f"{anon['wall_seconds']} s for both passes = **{anon['rows_per_second_two_passes']:,.0f} rows/s**, "
        f"{anon['chunks']} chunks per pass, {anon['suppressed_rows']} rows suppressed, smallest class "
        f"{anon['smallest_class']} (k = 10), precision loss {anon['precision_loss']}; "
        f"levels {anon['levels']}.",
        "",
        f"Keyed rules (HMAC of id and e-mail, date shift per id) on {anon['keyed_rules']['rows']:,} rows: "
        f"{anon['keyed_rules']['rows_per_second']:,.0f} rows/s (one HMAC per value in Python).",
        "",
        f"With the PII detector on a free-text column ({anon['pii_free_text']['rows']:,} notes): "
        f"{anon['pii_free_text']['rows_per_second']:,.0f} rows/s, replacements "
        f"{anon['pii_free_text']['replacements']}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--part",
        choices=("all", "membership", "anonymization"),
        default="all",
        help="run one part; the other is kept from an earlier privacy.json",
    )
    parser.add_argument("--rows", type=int, default=14_000_000, help="rows of the anonymisation file")
    parser.add_argument("--memory-cap-mib", type=int, default=1280)
    parser.add_argument("--shadows", type=int, default=SHADOWS)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "privacy.json"
    earlier: dict[str, Any] = json.loads(path.read_text()) if path.is_file() and args.part != "all" else {}
    report: dict[str, Any] = {"machine": describe(), "membership": earlier.get("membership", [])}
    if "anonymization" in earlier:
        report["anonymization"] = earlier["anonymization"]
    if args.part in ("all", "membership"):
        report["membership"] = []
        for name in ("german-credit", "payments"):
            started = time.perf_counter()
            report["membership"].append(membership_benchmark(name, args.shadows))
            print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")  # kept if the next part fails
    if args.part in ("all", "anonymization"):
        report["anonymization"] = anonymization_benchmark(args.rows, args.memory_cap_mib)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    render(report)


def render(report: dict[str, Any]) -> None:
    """Write privacy.md from a report (also: ``python -c 'import bench_privacy as b; b.rerender()'``)."""
    if report["membership"] and "anonymization" in report:
        text = markdown(report)
        (RESULTS / "privacy.md").write_text(text, encoding="utf-8")
        print(text)


def rerender() -> None:
    """privacy.md again from privacy.json, without measuring."""
    render(json.loads((RESULTS / "privacy.json").read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
