"""Quality checks for the hand-written domain corpus (English files and the fr/es/it/pt files).

Three checks, printed as a short report:

1. near duplicates: pairs of rows in the same group whose word sets have a Jaccard similarity of 0.7 or more
   (a sign of template filling);
2. originality: rows that share a run of ``--ngram`` words (default 8) with any text of the public corpora
   in ``/work/shared/data`` (a sign of copying);
3. difficulty: 5-fold cross-validated ROC AUC and recall at 1% false positives of a plain character
   n-gram TF-IDF + logistic regression on the English messages (benign + hard_benign vs attacks), with the
   benign rows it scores highest and the attacks it scores lowest. Needs scikit-learn.

Run from the repository root: ``python datasets/domain/en/quality_report.py``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

DOMAIN = Path(__file__).resolve().parent.parent
PUBLIC_DATA = Path("/work/shared/data")
GROUPS = {
    "en messages": ["en/benign.jsonl", "en/hard_benign.jsonl", "en/attacks.jsonl"],
    "en documents": ["en/documents.jsonl"],
    "xx messages": ["xx/benign.jsonl", "xx/attacks.jsonl"],
}
SIMILARITY_LIMIT = 0.7


def load(relative_paths: list[str]) -> list[dict[str, Any]]:
    """Rows of the given JSONL files (paths relative to ``datasets/domain``)."""
    rows: list[dict[str, Any]] = []
    for relative in relative_paths:
        with (DOMAIN / relative).open(encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle)
    return rows


def words(text: str) -> list[str]:
    """Lower-case word tokens."""
    return re.findall(r"\w+", text.casefold())


def near_duplicates(rows: list[dict[str, Any]]) -> list[tuple[float, str, str]]:
    """Pairs of rows whose word sets are at least ``SIMILARITY_LIMIT`` similar."""
    word_sets = [set(words(row["text"])) for row in rows]
    pairs: list[tuple[float, str, str]] = []
    for first in range(len(rows)):
        for second in range(first + 1, len(rows)):
            left, right = word_sets[first], word_sets[second]
            if len(left) < 4 or len(right) < 4:
                continue
            similarity = len(left & right) / len(left | right)
            if similarity >= SIMILARITY_LIMIT:
                pairs.append((similarity, rows[first]["id"], rows[second]["id"]))
    return sorted(pairs, reverse=True)


def shingles(text: str, size: int) -> set[str]:
    """Runs of ``size`` consecutive words."""
    tokens = words(text)
    return {" ".join(tokens[start : start + size]) for start in range(len(tokens) - size + 1)}


def public_shingles(size: int) -> dict[str, set[str]]:
    """Every word run of the public corpora, mapped to the corpora it occurs in."""
    index: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PUBLIC_DATA.glob("*/*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                text = json.loads(line).get("text", "")
                for shingle in shingles(text, size):
                    index[shingle].add(path.parent.name)
    return index


def difficulty_report() -> None:
    """Cross-validated lexical baseline on the English messages."""
    try:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
    except ImportError:
        print("difficulty: scikit-learn not installed, skipped")
        return
    rows = load(GROUPS["en messages"])
    texts = [row["text"] for row in rows]
    is_attack = np.array([row["label"] != "benign" for row in rows])
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    features = vectoriser.fit_transform(texts)
    model = LogisticRegression(C=10, max_iter=2000, class_weight="balanced")
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_predict(model, features, is_attack, cv=folds, method="predict_proba")[:, 1]
    threshold = float(np.quantile(scores[~is_attack], 0.99))
    recall = float((scores[is_attack] > threshold).mean())
    print(f"difficulty (char 2-5 TF-IDF + logistic regression, 5-fold CV, {len(rows)} English messages):")
    print(f"  ROC AUC {roc_auc_score(is_attack, scores):.4f}; recall at 1% FPR {recall:.3f}")
    order = np.argsort(-scores)
    print("  benign rows scored highest:")
    for index in [i for i in order if not is_attack[i]][:8]:
        print(f"    {scores[index]:.2f} {rows[index]['id']}: {rows[index]['text'][:80]!r}")
    print("  attacks scored lowest:")
    for index in [i for i in order[::-1] if is_attack[i]][:8]:
        print(f"    {scores[index]:.2f} {rows[index]['id']}: {rows[index]['text'][:80]!r}")


def main() -> int:
    """Print the report; return a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ngram", type=int, default=8, help="word run length for the originality check")
    arguments = parser.parse_args()

    for group, paths in GROUPS.items():
        pairs = near_duplicates(load(paths))
        print(f"near duplicates in {group} (Jaccard >= {SIMILARITY_LIMIT}): {len(pairs)}")
        for similarity, first, second in pairs[:10]:
            print(f"  {similarity:.2f} {first} ~ {second}")

    if PUBLIC_DATA.exists():
        index = public_shingles(arguments.ngram)
        all_rows = [row for paths in GROUPS.values() for row in load(paths)]
        shared = 0
        for row in all_rows:
            common = sorted(item for item in shingles(row["text"], arguments.ngram) if item in index)
            if common:
                shared += 1
                corpora = sorted({corpus for item in common for corpus in index[item]})
                print(f"  shares {len(common)} {arguments.ngram}-word run(s) with {corpora}: {row['id']}")
        run = f"{arguments.ngram}-word run"
        print(f"originality: {shared} of {len(all_rows)} rows share a {run} with public data")
    else:
        print("originality: public data folder not found, skipped")

    difficulty_report()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
