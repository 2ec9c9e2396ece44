"""Bad input: every detector on hostile texts of growing size; time must grow linearly.

Usage: ``python benchmarks/bench_bad_input.py [--sizes 1,2,5,10]`` (sizes in MB of characters).

Inputs: repeated ordinary German prose, random printable noise, one long base64-like run, nested
percent-encoding, a flood of HTML comment openers, and text full of zero-width and combining characters.
Prints seconds per detector and input; writes ``benchmarks/results/bad_input.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bastion.core.errors import BastionError  # noqa: E402
from bastion.detect.base import ScanContext  # noqa: E402
from bastion.detect.registry import detectors  # noqa: E402
from bastion.evaluation.machine import describe_machine  # noqa: E402


def inputs(size: int) -> dict[str, str]:
    rng = random.Random(size)
    prose = "Sehr geehrte Damen und Herren, ich habe die Forderung am 3. März beglichen. "
    alphabet = "".join(chr(c) for c in range(33, 127))
    return {
        "prose": (prose * (size // len(prose) + 1))[:size],
        "noise": "".join(rng.choices(alphabet, k=size)),
        "base64_run": "QUJD" * (size // 4),
        "percent_nested": "%2525" * (size // 5),
        "comment_flood": "<!--" * (size // 4),
        "invisible": ("a\u200b\u0301" * (size // 3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,2,5,10", help="sizes in MB (10**6 characters)")
    args = parser.parse_args()
    sizes = [int(float(s) * 1_000_000) for s in args.sizes.split(",")]
    context = ScanContext(
        protected_texts=("You are the assistant of Muster Inkasso GmbH.",), canaries=("CANARY-1",)
    )
    rows = []
    for detector_id in detectors.ids():
        detector = detectors.create(detector_id)
        for size in sizes:
            for name, text in inputs(size).items():
                started = time.perf_counter()
                try:
                    outcome = f"{len(detector.detect(text, context))} detections"
                except BastionError as error:
                    outcome = f"error: {type(error).__name__}"
                seconds = time.perf_counter() - started
                rows.append(
                    {
                        "detector": detector_id,
                        "input": name,
                        "mb": size / 1e6,
                        "seconds": seconds,
                        "outcome": outcome,
                    }
                )
                print(
                    f"{detector_id:<10} {name:<15} {size / 1e6:>5.1f} MB {seconds:8.2f} s  {outcome}",
                    flush=True,
                )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bad_input.json").write_text(
        json.dumps({"machine": describe_machine(), "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# Bad input: seconds per detector and hostile input",
        "",
        f"Machine: {describe_machine()['cpu_model']}, {describe_machine()['nproc']} cores. "
        f"Command: `python benchmarks/bench_bad_input.py --sizes {args.sizes}`.",
        "",
        "| detector | input | " + " | ".join(f"{s / 1e6:g} MB" for s in sizes) + " |",
        "|---|---|" + "---:|" * len(sizes),
    ]
    for detector_id in detectors.ids():
        for name in inputs(1):
            cells = [
                f"{r['seconds']:.2f}" for r in rows if r["detector"] == detector_id and r["input"] == name
            ]
            lines.append(f"| {detector_id} | {name} | " + " | ".join(cells) + " |")
    (out / "bad_input.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
