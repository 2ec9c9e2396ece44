r"""The secrets detector: credentials, API keys, tokens and private keys in any text.

How a text is scanned:

1. **Prefilter.** The text is lower-cased once and each rule's keywords are looked up with ``in``; only
   rules with a keyword present run (a few rules without keywords always run). Most texts run a
   handful of regular expressions.
2. **Match.** Each rule's pattern gives candidates; the span is the rule's ``secret`` group, never the
   variable name. Patterns bound every quantifier and put a token's literal prefix first with the
   boundary check right after it (``sk-(?<![\w-]sk-)``): the engine jumps to the prefix and rejects a
   start inside a run of token characters at once, so a scan stays linear in the text.
3. **Check.** Look-alikes are dropped (documentation keys, placeholders, sequential strings, low
   entropy), then the rule's validator confirms or rejects (see :mod:`bastion.detect.secrets.checks`).
4. **Resolve.** Overlapping candidates keep the one of the highest rule priority (a GitHub token beats
   the generic ``token = ...`` rule on the same value).

Scores are the rule's confidence (0.99 when a checksum or structure confirmed the format, 0.55 for weak
candidates). The policy sets the flagging threshold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from bastion.core.types import Detection, Policy, Span
from bastion.detect.base import DEFAULT_MAX_CHARS, BaseDetector, ScanContext
from bastion.detect.secrets.checks import Candidate, Check, LookAlikes, is_sequential, shannon_entropy
from bastion.detect.secrets.pem import PemMarkers
from bastion.detect.secrets.rules import SecretRule, load_look_alikes, load_rules
from bastion.detect.spans import keep_non_overlapping

__all__ = ["FLAG_THRESHOLDS", "Finding", "SecretsDetector"]

#: a detection is flagged when its score reaches the policy's threshold
FLAG_THRESHOLDS = MappingProxyType({Policy.STRICT: 0.5, Policy.BALANCED: 0.65, Policy.PERMISSIVE: 0.85})

CONFIRMED_SCORE = 0.99
WEAK_SCORE = 0.55


@dataclass(frozen=True, slots=True)
class Finding:
    """A checked candidate: which rule found it, where, and how sure the checks are."""

    rule: SecretRule
    start: int
    end: int
    score: float
    confirmed: bool


class SecretsDetector(BaseDetector):
    """Finds secrets (cloud, LLM-provider, source-hosting, messaging and payment keys, JWTs, private keys,
    passwords in URLs and connection strings, secret-looking assignments) in English and German text.

    >>> detector = SecretsDetector()
    >>> [d.type for d in detector.detect("GITHUB_TOKEN=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")]
    ['GITHUB_TOKEN']
    """

    id = "secrets"
    description = "Secrets and credentials: API keys, tokens, private keys, passwords in URLs and config."
    types = (
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "GCP_API_KEY",
        "GCP_SERVICE_ACCOUNT_KEY",
        "GCP_OAUTH_CLIENT_SECRET",
        "GCP_OAUTH_TOKEN",
        "AZURE_STORAGE_KEY",
        "AZURE_SHARED_ACCESS_KEY",
        "AZURE_SAS_TOKEN",
        "AZURE_CLIENT_SECRET",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "HUGGINGFACE_TOKEN",
        "COHERE_API_KEY",
        "MISTRAL_API_KEY",
        "GROQ_API_KEY",
        "REPLICATE_API_TOKEN",
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "NPM_TOKEN",
        "PYPI_TOKEN",
        "SLACK_TOKEN",
        "SLACK_WEBHOOK",
        "DISCORD_BOT_TOKEN",
        "DISCORD_WEBHOOK",
        "TELEGRAM_BOT_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_AUTH_TOKEN",
        "SENDGRID_API_KEY",
        "MAILGUN_API_KEY",
        "STRIPE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "PAYPAL_BRAINTREE_TOKEN",
        "PAYPAL_CLIENT_SECRET",
        "JWT",
        "PRIVATE_KEY",
        "PASSWORD_IN_URL",
        "CONNECTION_STRING",
        "BEARER_TOKEN",
        "BASIC_AUTH",
        "GENERIC_SECRET",
    )
    owasp = ("LLM02",)
    atlas = ("AML.T0055", "AML.T0057")

    def __init__(self, policy: Policy = Policy.BALANCED, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        super().__init__(policy=policy, max_chars=max_chars)
        self.rules: tuple[SecretRule, ...] = load_rules()
        self.look_alikes: LookAlikes = load_look_alikes()
        self.threshold = FLAG_THRESHOLDS[self.policy]
        self._always = tuple(index for index, rule in enumerate(self.rules) if not rule.keywords)
        by_keyword: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                by_keyword.setdefault(keyword, []).append(index)
        self._keyword_rules = tuple((keyword, tuple(indices)) for keyword, indices in by_keyword.items())

    def _detect(self, text: str, context: ScanContext) -> Sequence[Detection]:
        return [self._to_detection(finding) for finding in self.findings(text)]

    def findings(self, text: str) -> list[Finding]:
        """Checked, non-overlapping findings in ``text``, in position order."""
        return _resolve_overlaps(self.candidates(text))

    def candidates(self, text: str, rule_ids: frozenset[str] | None = None) -> list[Finding]:
        """Every checked candidate before overlaps are resolved (for tests and rule debugging).

        ``rule_ids`` limits the scan to those rules.
        """
        if not text:
            return []
        found: list[Finding] = []
        pem_markers = PemMarkers(text)
        for index in self._active_rules(text):
            rule = self.rules[index]
            if rule_ids is not None and rule.id not in rule_ids:
                continue
            for match in rule.pattern.finditer(text):
                finding = self._check(rule, _candidate(rule, text, match), pem_markers)
                if finding is not None:
                    found.append(finding)
        return found

    def _active_rules(self, text: str) -> list[int]:
        lowered = text.lower()
        active = set(self._always)
        for keyword, indices in self._keyword_rules:
            if keyword in lowered:
                active.update(indices)
        return sorted(active)

    def _check(self, rule: SecretRule, candidate: Candidate, pem_markers: PemMarkers) -> Finding | None:
        start, end = candidate.start, candidate.end
        if rule.span == "pem_block":
            block_end = pem_markers.block_end(end)
            if block_end is None:
                return None
            candidate = Candidate(candidate.text, start, block_end, candidate.match, candidate.quoted)
        else:
            if rule.trim and not candidate.quoted:
                while end > start and candidate.text[end - 1] in rule.trim:
                    end -= 1
                candidate = Candidate(candidate.text, start, end, candidate.match, candidate.quoted)
            value = candidate.value
            if not value or not value.isprintable() or self.look_alikes.is_documentation_example(value):
                return None  # zero-width or control characters: obfuscated text, not a literal secret
            if self.look_alikes.is_placeholder(value) or is_sequential(value):
                return None
            if rule.entropy_min and shannon_entropy(value) < rule.entropy_min:
                return None
        check = rule.validator(candidate, self.look_alikes) if rule.validator else Check.ACCEPT
        if check is Check.REJECT:
            return None
        if check is Check.CONFIRMED:
            score = max(rule.confidence, CONFIRMED_SCORE)
        elif check is Check.WEAK:
            score = min(rule.confidence, WEAK_SCORE)
        else:
            score = rule.confidence
        return Finding(rule, candidate.start, candidate.end, score, check is Check.CONFIRMED)

    def _to_detection(self, finding: Finding) -> Detection:
        rule = finding.rule
        return Detection(
            detector=self.id,
            type=rule.type,
            score=finding.score,
            flagged=finding.score >= self.threshold,
            span=Span(finding.start, finding.end),
            explanation=f"{rule.description} (rule {rule.id})",
            metadata=MappingProxyType({"rule": rule.id, "confirmed": finding.confirmed}),
        )


def _candidate(rule: SecretRule, text: str, match: re.Match[str]) -> Candidate:
    """The candidate a match stands for: its first participating ``secret*`` group, else the whole match."""
    for name in rule.secret_groups:
        start = match.start(name)
        if start >= 0:
            return Candidate(text, start, match.end(name), match, quoted=name.endswith("quoted"))
    return Candidate(text, match.start(), match.end(), match)


def _resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep the highest-priority finding among overlapping ones; the result is in position order."""
    return keep_non_overlapping(
        sorted(findings, key=lambda f: (-f.rule.priority, -f.score, f.start, f.start - f.end))
    )
