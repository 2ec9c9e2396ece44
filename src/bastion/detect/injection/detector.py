"""The ``injection`` detector: a trained linear model over normalised views, plus signature rules.

For each text it scores several views and keeps the highest score:

1. the canonical normalised text (:func:`bastion.detect.normalize.normalize`), window by window when long;
2. leetspeak undone and letter-by-letter spacing joined, when present;
3. every embedded base64/hex/URL-encoded payload, decoded (:mod:`bastion.detect.decode`);
4. the rot13 view, when the text does not read as natural language;
5. the signature rules (:file:`bastion/data/injection/rules.yaml`) on each of these views.

It returns one whole-text :class:`Detection` with the score, whether it passes the policy's threshold,
and the span of the original text that drove the score. The score is a risk score: the model probability
mapped so that the policy thresholds are fixed at 0.4 (strict), 0.5 (balanced) and 0.6 (permissive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bastion.core.types import Detection, Policy, Span
from bastion.detect.base import DEFAULT_MAX_CHARS, BaseDetector, ScanContext
from bastion.detect.decode import decoded_payloads
from bastion.detect.injection.model import POLICY_SCORES, LinearModel, load_model
from bastion.detect.normalize import NormalizedText, deleet, despace, normalize, rot13
from bastion.detect.rules import SignatureRule, load_rules, match_rules

__all__ = ["InjectionDetector"]

_COMMON_WORDS = frozenset(
    {
        "the",
        "and",
        "you",
        "to",
        "is",
        "of",
        "a",
        "in",
        "that",
        "it",
        "for",
        "i",
        "on",
        "with",
        "this",
        "be",
        "are",
        "not",
        "your",
        "my",
        "have",
        "me",
        "was",
        "what",
        "please",
        "der",
        "die",
        "das",
        "und",
        "ich",
        "sie",
        "nicht",
        "ist",
        "zu",
        "ein",
        "mit",
        "den",
        "mein",
        "bitte",
        "es",
        "auf",
        "fuer",
        "habe",
        "ihr",
        "wie",
        "von",
    }
)


@dataclass(frozen=True, slots=True)
class _Evidence:
    score: float
    span: Span
    source: str  # "model", "rule:<id>"
    view: str  # "text", "leet", "spacing", "base64", ...


class InjectionDetector(BaseDetector):
    """Direct prompt injection and jailbreaks in user messages."""

    id = "injection"
    description = "Prompt injection and jailbreak attempts in user messages (EN, DE; FR/ES/IT/PT by rules)."
    types = ("prompt_injection", "jailbreak")
    owasp = ("LLM01", "LLM07")
    atlas = ("AML.T0051", "AML.T0054", "AML.T0056")

    def __init__(
        self,
        policy: Policy = Policy.BALANCED,
        max_chars: int = DEFAULT_MAX_CHARS,
        threshold: float | None = None,
        model: LinearModel | None = None,
    ) -> None:
        super().__init__(policy=policy, max_chars=max_chars)
        self.model = model or load_model()
        self.rules = load_rules("bastion.data.injection", "rules.yaml")
        self.threshold = POLICY_SCORES[self.policy] if threshold is None else threshold

    def score(self, text: str) -> float:
        """The injection probability of ``text`` (the score of :meth:`detect`)."""
        return self._best(text).score

    def _detect(self, text: str, context: ScanContext) -> Sequence[Detection]:
        best = self._best(text)
        flagged = best.score >= self.threshold
        kind = "jailbreak" if best.source.startswith("rule:persona") else "prompt_injection"
        how = "signature " + best.source[5:] if best.source.startswith("rule:") else "model"
        where = "" if best.view == "text" else f" after decoding {best.view}"
        return [
            Detection(
                detector=self.id,
                type=kind,
                score=best.score,
                flagged=flagged,
                span=best.span if flagged and len(best.span) else None,
                explanation=f"{how} score {best.score:.2f}{where} "
                f"(threshold {self.threshold:.2f}, {self.policy})",
                metadata={"source": best.source, "view": best.view},
            )
        ]

    def _best(self, text: str) -> _Evidence:
        canonical = normalize(text)
        evidence = self._score_view(canonical, "text")
        for name, view in (("leetspeak", deleet(canonical)), ("spacing", despace(canonical))):
            if view is not None:
                evidence = max(evidence, self._score_view(view, name), key=_by_score)
        if _reads_as_noise(canonical.text):
            evidence = max(evidence, self._score_view(rot13(canonical), "rot13"), key=_by_score)
        for payload in decoded_payloads(text):
            inner = self._score_view(normalize(payload.text), "+".join(payload.encodings))
            evidence = max(
                evidence, _Evidence(inner.score, payload.span, inner.source, inner.view), key=_by_score
            )
        return evidence

    def _score_view(self, view: NormalizedText, name: str) -> _Evidence:
        scored = self.model.score(view.text)
        risk = self.model.calibrated(scored.probability)
        model = _Evidence(risk, view.to_original(scored.driver), "model", name)
        matches = match_rules(self.rules, view.text)
        if not matches:
            return model
        # a signature pins the attack down more precisely than the model's driving span
        strongest = max(matches, key=lambda match: match.rule.score)
        span = view.to_original(strongest.span)
        if model.score > strongest.rule.score:
            return _Evidence(model.score, span, "model", name)
        return _Evidence(strongest.rule.score, span, f"rule:{strongest.rule.id}", name)


def _by_score(evidence: _Evidence) -> float:
    return evidence.score


def _reads_as_noise(text: str) -> bool:
    """True for texts of several words where almost none is a common English or German word."""
    words = text.split()
    if len(words) < 4:
        return False
    common = sum(1 for word in words[:200] if word.strip(".,!?:;") in _COMMON_WORDS)
    return common / min(len(words), 200) < 0.05


def rules() -> tuple[SignatureRule, ...]:
    """The injection signature rules (for tests and documentation)."""
    return load_rules("bastion.data.injection", "rules.yaml")
