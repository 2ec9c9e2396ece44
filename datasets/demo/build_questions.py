"""Build ``retrieval_questions.jsonl`` from the hand-written ``questions.yaml`` next to this script.

For each question the builder picks a tenant (the one named, or the next in rotation), an asking principal
of that tenant (a debtor whose preferred language is the question's, or an agent) and resolves the
relevance keys to document ids of ``demo_documents(generate(seed=7))``. Subjects rotate so that the
questions spread over many debtors; a letter question only goes to a debtor who has that letter. Every
relevant document is checked to exist and to be readable by the asking principal.

Run ``.venv/bin/python datasets/demo/build_questions.py`` to rewrite the JSONL file, or add ``--check`` to
fail (exit 1) when the file is not what the sources produce.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bastion.demo.data import DemoData, demo_documents, generate
from bastion.rag.types import Document, Principal, PrincipalRole

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "questions.yaml"
OUTPUT = HERE / "retrieval_questions.jsonl"
SEED = 7
DEBTORS_PER_TENANT = 25
PUBLIC_SLUGS = {"faq": "faq", "payment": "payment-instructions", "procedure": "hardship-dispute"}


class BuildError(Exception):
    """The sources are inconsistent with the demo documents."""


class _Resolver:
    """Resolves relevance keys against one generated world and rotates subjects deterministically."""

    def __init__(self, data: DemoData, documents: Sequence[Document]) -> None:
        self.data = data
        self.documents = {document.doc_id: document for document in documents}
        self.rotation: Counter[str] = Counter()

    def _owned(self, debtor_id: str, kind: str, tenant_id: str) -> list[str]:
        """Ids of the debtor's letters of ``kind`` ("any" = all) or statements (``kind == "statement"``)."""
        found = []
        for case in self.data.cases_of_debtor(debtor_id):
            if kind == "statement":
                candidates = [f"{tenant_id}/statement/{case.case_id}"]
            else:
                kinds = ("reminder", "final-demand", "installment-confirmation") if kind == "any" else (kind,)
                candidates = [f"{tenant_id}/letter/{case.case_id}/{letter}" for letter in kinds]
            found += [doc_id for doc_id in candidates if doc_id in self.documents]
        return found

    def _key_ids(self, key: str, tenant_id: str, language: str, debtor_id: str | None) -> list[str]:
        if key in PUBLIC_SLUGS:
            return [f"{tenant_id}/{PUBLIC_SLUGS[key]}-{language}"]
        if key == "guideline":
            return [f"{tenant_id}/negotiation-guideline"]
        owned = key.removeprefix("debtor:")
        if debtor_id is None:
            raise BuildError(f"key {key} needs a debtor")
        if owned == "statement":
            return self._owned(debtor_id, "statement", tenant_id)
        if owned.startswith("letter:"):
            return self._owned(debtor_id, owned.removeprefix("letter:"), tenant_id)
        raise BuildError(f"unknown relevance key {key}")

    def _pick(self, bucket: str, candidates: list[str]) -> str | None:
        if not candidates:
            return None
        choice = candidates[self.rotation[bucket] % len(candidates)]
        self.rotation[bucket] += 1
        return choice

    def _debtor_for(self, tenant_id: str, language: str, keys: list[str]) -> str | None:
        """The next debtor of the tenant speaking ``language`` for whom every debtor-owned key resolves."""
        candidates = [
            debtor.debtor_id
            for debtor in self.data.debtors
            if debtor.tenant_id == tenant_id
            and debtor.language == language
            and all(self._key_ids(key, tenant_id, language, debtor.debtor_id) for key in keys)
        ]
        return self._pick(f"debtor:{tenant_id}:{language}", candidates)

    def assign(self, question: dict[str, Any], tenants: list[str]) -> tuple[Principal, str, list[str]]:
        """(principal, question text, relevant ids) for the first tenant in ``tenants`` that fits."""
        role = PrincipalRole(question["role"])
        language: str = question["lang"]
        keys: list[str] = question["relevant"]
        owned = [key for key in keys if key not in PUBLIC_SLUGS and key != "guideline"]
        for tenant_id in tenants:
            text: str = question["text"]
            named: str | None = None
            if role is PrincipalRole.DEBTOR:
                subject = self._debtor_for(tenant_id, language, owned)
                named = subject
            else:
                agents = [agent.agent_id for agent in self.data.agents if agent.tenant_id == tenant_id]
                subject = self._pick(f"agent:{tenant_id}", agents)
                if owned:
                    named = self._debtor_for(tenant_id, language, owned)
                    if named is None:
                        continue
                    text = text.replace("{debtor_name}", self.data.debtor(named).full_name)
            if subject is None:
                continue
            principal = Principal(tenant_id, subject, role)
            relevant: list[str] = []
            for key in keys:
                found = self._key_ids(key, tenant_id, language, named)
                relevant += [doc_id for doc_id in found if doc_id not in relevant]
            return principal, text, relevant
        raise BuildError(f"no tenant has a principal for question {question['text']!r}")


def _tenant_order(question: dict[str, Any], data: DemoData, turn: int) -> list[str]:
    if question["tenant"] != "any":
        return [question["tenant"]]
    tenants = [tenant.tenant_id for tenant in data.tenants]
    if question["role"] == "agent" and "guideline" in question["relevant"]:
        speaking = [tenant.tenant_id for tenant in data.tenants if tenant.language == question["lang"]]
        tenants = speaking or tenants
    start = turn % len(tenants)
    return tenants[start:] + tenants[:start]


def build() -> list[dict[str, Any]]:
    """The question rows, in source order, validated against the demo documents."""
    data = generate(seed=SEED, debtors_per_tenant=DEBTORS_PER_TENANT)
    documents = demo_documents(data)
    resolver = _Resolver(data, documents)
    source = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    turns: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    rows = []
    for question in source["questions"]:
        bucket = f"{question['role']}:{question['lang']}"
        principal, text, relevant = resolver.assign(question, _tenant_order(question, data, turns[bucket]))
        turns[bucket] += 1
        for doc_id in relevant:
            document = resolver.documents.get(doc_id)
            if document is None or not principal.may_read(document.tenant_id, document.acl):
                raise BuildError(f"{doc_id} is missing or not readable by {principal.subject}")
        if not relevant:
            raise BuildError(f"question {text!r} has no relevant documents")
        numbers[question["lang"]] += 1
        rows.append(
            {
                "id": f"demo-{question['lang']}-{numbers[question['lang']]:03d}",
                "tenant_id": principal.tenant_id,
                "role": principal.role.value,
                "subject": principal.subject,
                "language": question["lang"],
                "question": text,
                "relevant_doc_ids": relevant,
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The JSONL text of ``rows`` (UTF-8, one object per line)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only check that the JSONL file is up to date")
    arguments = parser.parse_args(argv)
    rows = build()
    text = render(rows)
    counts = Counter((row["language"], row["role"]) for row in rows)
    summary = ", ".join(f"{language}/{role} {count}" for (language, role), count in sorted(counts.items()))
    if arguments.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            print(f"{OUTPUT.name} is stale: run build_questions.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name} is up to date: {len(rows)} questions ({summary})")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(rows)} questions to {OUTPUT.name} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
