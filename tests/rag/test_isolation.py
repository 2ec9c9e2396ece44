"""Tenant and ACL isolation of the real store, checked against ``Principal.may_read``.

Every search result must satisfy the reference rule, for any principal and any query (hostile FTS5
syntax, SQL, Unicode, very long text), and the filter must not cost recall: when ``k`` readable chunks
exist, vector and hybrid search return ``k``, and the vector results are exactly the ``k`` nearest
readable chunks, however many nearer chunks other tenants and debtors hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.rag.embeddings import MiniLMEmbedder
from bastion.rag.sqlite_store import SQLiteRetrievalStore
from bastion.rag.store import MAX_K
from bastion.rag.types import Acl, Audience, Chunk, Principal, PrincipalRole

from .helpers import INGESTED_AT
from .test_keywords import HOSTILE

TENANTS = ["t1", "t2", "t1' OR '1'='1", "%", "t_", "T1", "mandant-müller-gmbh-with-a-long-name"]
OWNERS = ["D-1", "D-2", "%", "_", "D-1' OR '1'='1", "D-1 ", "debtor-with-a-very-long-identifier-000001"]
TEXTS = [
    "You can pay your debt by bank transfer; quote your case number.",
    "Sie können Ihre Forderung per Überweisung an unsere Bank zahlen.",
    "Our office is open Monday to Friday from 9 am to 5 pm.",
    "Agents may offer a discount of up to 20 percent for full payment.",
    "Dear debtor, your outstanding balance is 512.40 EUR.",
    "The secret negotiation limit for this tenant is 35 percent.",
    "Ratenzahlung ist ab 50 Euro im Monat möglich.",
    "tenant_id t2 text secret NEAR a b",
]
QUERIES = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(TEXTS),
    st.text(max_size=200),
    st.text(alphabet="abc xyz'\"%_*-^:()", max_size=60),
    st.just("payment " * 400),
)
MODES = st.sampled_from(["hybrid", "vector", "keyword"])
PRINCIPALS = st.builds(
    Principal,
    tenant_id=st.one_of(st.sampled_from(TENANTS), st.text(min_size=1, max_size=20)),
    subject=st.one_of(st.sampled_from(OWNERS), st.text(min_size=1, max_size=20)),
    role=st.sampled_from(PrincipalRole),
)


def make_chunk(index: int, tenant_id: str, acl: Acl, text: str) -> Chunk:
    return Chunk(
        chunk_id=f"c{index}",
        doc_id=f"d{index}",
        tenant_id=tenant_id,
        acl=acl,
        text=text,
        position=0,
        source="tests",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        ingested_at=INGESTED_AT,
    )


def acls() -> list[Acl]:
    return [Acl(Audience.PUBLIC), Acl(Audience.STAFF), *(Acl(Audience.DEBTOR, owner) for owner in OWNERS)]


@pytest.fixture(scope="module")
def corpus() -> list[Chunk]:
    """Every tenant holds the same texts under every ACL: near-duplicates everywhere."""
    chunks: list[Chunk] = []
    for tenant_index, tenant in enumerate(TENANTS):
        for acl_index, acl in enumerate(acls()):
            text = TEXTS[(tenant_index + acl_index) % len(TEXTS)]
            chunks.append(make_chunk(len(chunks), tenant, acl, f"{text} ({acl.audience} {acl_index})"))
    return chunks


@pytest.fixture(scope="module")
def shared_store(embedder: MiniLMEmbedder, corpus: list[Chunk]) -> Iterator[SQLiteRetrievalStore]:
    with SQLiteRetrievalStore(":memory:", embedder) as store:
        store.add(corpus)
        yield store


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(principal=PRINCIPALS, query=QUERIES, mode=MODES, k=st.integers(1, MAX_K))
def test_every_hit_is_readable_and_nothing_readable_is_lost(
    shared_store: SQLiteRetrievalStore,
    corpus: list[Chunk],
    principal: Principal,
    query: str,
    mode: str,
    k: int,
) -> None:
    query = query.replace("\x00", "")
    hits = shared_store.search(query, principal, k=k, mode=mode)  # type: ignore[arg-type]
    assert all(principal.may_read(hit.chunk.tenant_id, hit.chunk.acl) for hit in hits)
    ids = [hit.chunk.chunk_id for hit in hits]
    assert len(ids) == len(set(ids)) <= k
    readable = sum(principal.may_read(chunk.tenant_id, chunk.acl) for chunk in corpus)
    if mode != "keyword" and query.strip():
        assert len(hits) == min(k, readable)


def test_quotes_and_wildcards_in_principal_fields_match_only_the_exact_tenant(
    shared_store: SQLiteRetrievalStore,
) -> None:
    for tenant in ("t1' OR '1'='1", "%", "t_", "T1", "t1 ", "' OR 1=1 --"):
        agent = Principal(tenant, "agent", PrincipalRole.AGENT)
        hits = shared_store.search("payment", agent, k=MAX_K)
        assert {hit.chunk.tenant_id for hit in hits} <= {tenant}
        assert len(hits) == (len(acls()) if tenant in TENANTS else 0)
    for owner in ("%", "_", "D-1' OR '1'='1", "D-1 "):
        debtor = Principal("t1", owner, PrincipalRole.DEBTOR)
        hits = shared_store.search("payment", debtor, k=MAX_K, mode="vector")
        assert {(h.chunk.acl.audience, h.chunk.acl.owner) for h in hits} == {
            (Audience.PUBLIC, ""),
            (Audience.DEBTOR, owner),
        }


def test_fts_syntax_in_a_query_never_reaches_another_tenant(embedder: MiniLMEmbedder) -> None:
    with SQLiteRetrievalStore(":memory:", embedder) as store:
        store.add(
            [
                make_chunk(1, "t1", Acl(Audience.PUBLIC), "Opening hours of the office."),
                make_chunk(2, "t2", Acl(Audience.PUBLIC), "tenant_id t2 text secret NEAR a b"),
                make_chunk(3, "t1", Acl(Audience.STAFF), "The secret discount limit."),
            ]
        )
        debtor = Principal("t1", "D-1", PrincipalRole.DEBTOR)
        for hostile in HOSTILE:
            assert all(h.chunk.chunk_id == "c1" for h in store.search(hostile, debtor, k=5, mode="keyword"))
            assert all(h.chunk.tenant_id == "t1" for h in store.search(hostile, debtor, k=5))
        assert store.search("tenant_id:t2 text: secret", debtor, k=5, mode="keyword") == []


def test_recall_is_kept_when_other_tenants_hold_nearer_duplicates(embedder: MiniLMEmbedder) -> None:
    question = "How can I pay my debt by bank transfer?"
    chunks = [make_chunk(i, "t2", Acl(Audience.PUBLIC), f"{question} ({i})") for i in range(40)]
    chunks += [make_chunk(100 + i, "t1", Acl(Audience.DEBTOR, "D-2"), f"{question} [{i}]") for i in range(40)]
    chunks += [make_chunk(200 + i, "t1", Acl(Audience.STAFF), f"{question} <{i}>") for i in range(40)]
    unrelated = ["Our office is closed on Sundays.", "The weather is fine.", "Cats sleep a lot."]
    chunks += [make_chunk(300 + i, "t1", Acl(Audience.PUBLIC), text) for i, text in enumerate(unrelated)]
    chunks += [make_chunk(400, "t1", Acl(Audience.DEBTOR, "D-1"), "Your letter about the rent.")]
    with SQLiteRetrievalStore(":memory:", embedder) as store:
        store.add(chunks)
        debtor = Principal("t1", "D-1", PrincipalRole.DEBTOR)
        for mode in ("vector", "hybrid"):
            hits = store.search(question, debtor, k=4, mode=mode)
            assert {hit.chunk.chunk_id for hit in hits} == {"c300", "c301", "c302", "c400"}
        agent = Principal("t1", "A", PrincipalRole.AGENT)
        assert all(h.chunk.tenant_id == "t1" for h in store.search(question, agent, k=MAX_K))
        assert len(store.search(question, agent, k=MAX_K)) == MAX_K


_CORPUS_ENTRY = st.tuples(
    st.sampled_from(["t1", "t2", "t'3"]),
    st.sampled_from(
        [Acl(Audience.PUBLIC), Acl(Audience.STAFF), Acl(Audience.DEBTOR, "D-1"), Acl(Audience.DEBTOR, "D-2")]
    ),
    st.sampled_from(TEXTS),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(_CORPUS_ENTRY, min_size=1, max_size=14),
    principal=st.builds(
        Principal,
        tenant_id=st.sampled_from(["t1", "t2", "t'3"]),
        subject=st.sampled_from(["D-1", "D-2", "A"]),
        role=st.sampled_from(PrincipalRole),
    ),
    query=st.sampled_from([*TEXTS, "bank", "Öffnungszeiten", "discount limit"]),
    k=st.integers(1, 10),
)
def test_vector_search_returns_exactly_the_nearest_readable_chunks(
    embedder: MiniLMEmbedder,
    entries: list[tuple[str, Acl, str]],
    principal: Principal,
    query: str,
    k: int,
) -> None:
    chunks = [make_chunk(i, tenant, acl, f"{text} #{i}") for i, (tenant, acl, text) in enumerate(entries)]
    with SQLiteRetrievalStore(":memory:", embedder) as store:
        store.add(chunks)
        hits = store.search(query, principal, k=k, mode="vector")
    readable = [chunk for chunk in chunks if principal.may_read(chunk.tenant_id, chunk.acl)]
    assert len(hits) == min(k, len(readable))
    if not readable:
        return
    vectors = embedder.embed([chunk.text for chunk in readable])
    distances = 1.0 - vectors @ embedder.embed([query])[0]
    returned = {hit.chunk.chunk_id for hit in hits}
    inside = [d for chunk, d in zip(readable, distances, strict=True) if chunk.chunk_id in returned]
    outside = [d for chunk, d in zip(readable, distances, strict=True) if chunk.chunk_id not in returned]
    assert not outside or max(inside) <= min(outside) + 1e-4
    assert np.allclose(sorted(1.0 - hit.score for hit in hits), sorted(inside), atol=1e-4)
