"""The SQLite store against real SQLite, sqlite-vec, FTS5 and the MiniLM model."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bastion.core.errors import ConfigError, InputError, UsageError
from bastion.rag import RetrievalStore
from bastion.rag.embeddings import MiniLMEmbedder
from bastion.rag.sqlite_store import SQLiteRetrievalStore
from bastion.rag.store import MAX_K, MAX_QUERY_CHARS, QuarantineReason, QuarantineRecord
from bastion.rag.types import Acl, Audience, Principal, PrincipalRole

from .helpers import INGESTED_AT, chunks_of, make_document

AGENT = Principal("t1", "agent-1", PrincipalRole.AGENT)
DEBTOR = Principal("t1", "D-1", PrincipalRole.DEBTOR)

PAYMENT = "You can pay your debt by bank transfer. Please quote your case number with every payment."
HOURS = "Our office is open Monday to Friday from 9 am to 5 pm. We are closed on public holidays."
LIMITS = "Agents may offer a discount of up to 20 percent for a payment in full within 14 days."


class RenamedEmbedder:
    """The real MiniLM model under another name, or cut to fewer dimensions (re-normalised)."""

    def __init__(self, inner: MiniLMEmbedder, name: str, dimension: int) -> None:
        self.inner, self.name, self.dimension = inner, name, dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = self.inner.embed(texts)[:, : self.dimension]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        return result


def fill(store: SQLiteRetrievalStore) -> None:
    documents = [
        make_document("payment", PAYMENT),
        make_document("hours", HOURS),
        make_document("limits", LIMITS, acl=Acl(Audience.STAFF)),
        make_document("letter-1", "Dear debtor, your balance is 500 EUR.", acl=Acl(Audience.DEBTOR, "D-1")),
        make_document("letter-2", "Dear debtor, your balance is 900 EUR.", acl=Acl(Audience.DEBTOR, "D-2")),
        make_document("payment", PAYMENT + " Tenant two.", tenant_id="t2"),
    ]
    for document in documents:
        store.replace_document(document.tenant_id, document.doc_id, chunks_of(document))


def test_the_store_satisfies_the_protocol(store: SQLiteRetrievalStore) -> None:
    assert isinstance(store, RetrievalStore)


def test_round_trip_keeps_every_provenance_field(store: SQLiteRetrievalStore) -> None:
    document = make_document(
        "letter-1", PAYMENT, acl=Acl(Audience.DEBTOR, "D-1"), title="Letter", language="de"
    )
    [chunk] = chunks_of(document)
    assert store.add([chunk]) == 1
    [hit] = store.search("how can I pay by bank transfer", DEBTOR, k=1)
    assert hit.chunk == chunk
    assert hit.chunk.ingested_at == INGESTED_AT
    assert set(hit.ranks) == {"vector", "keyword"}


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_each_mode_finds_the_relevant_chunk_first(store: SQLiteRetrievalStore, mode: str) -> None:
    fill(store)
    hits = store.search("When is the office open on Friday?", AGENT, k=3, mode=mode)  # type: ignore[arg-type]
    assert hits[0].chunk.doc_id == "hours"
    assert all(mode == "hybrid" or set(hit.ranks) == {mode} for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_hybrid_records_the_rank_of_each_retriever(store: SQLiteRetrievalStore) -> None:
    fill(store)
    hybrid = store.search("bank transfer payment", AGENT, k=5)
    vector = [hit.chunk.chunk_id for hit in store.search("bank transfer payment", AGENT, k=5, mode="vector")]
    keyword = [
        hit.chunk.chunk_id for hit in store.search("bank transfer payment", AGENT, k=5, mode="keyword")
    ]
    for hit in hybrid:
        if "vector" in hit.ranks:
            assert vector[hit.ranks["vector"] - 1] == hit.chunk.chunk_id
        if "keyword" in hit.ranks:
            assert keyword[hit.ranks["keyword"] - 1] == hit.chunk.chunk_id


def test_agents_read_their_tenant_and_debtors_only_public_and_own(store: SQLiteRetrievalStore) -> None:
    fill(store)
    assert {h.chunk.doc_id for h in store.search("balance debt payment", AGENT, k=10)} == {
        "payment",
        "hours",
        "limits",
        "letter-1",
        "letter-2",
    }
    assert {h.chunk.doc_id for h in store.search("balance debt payment", DEBTOR, k=10)} == {
        "payment",
        "hours",
        "letter-1",
    }
    assert {
        h.chunk.tenant_id for h in store.search("payment", Principal("t2", "x", PrincipalRole.AGENT))
    } == {"t2"}


def test_count_delete_and_replace(store: SQLiteRetrievalStore) -> None:
    fill(store)
    assert (store.count("t1"), store.count("t2"), store.count("t3")) == (5, 1, 0)
    assert store.delete_document("t1", "payment") == 1
    assert store.delete_document("t1", "payment") == 0
    assert store.count("t1") == 4 and store.count("t2") == 1
    assert all(h.chunk.doc_id != "payment" for h in store.search("pay by bank transfer", AGENT, k=10))
    new = make_document("hours", "We are now open on Saturdays too.")
    assert store.replace_document("t1", "hours", chunks_of(new)) == 1
    [hit] = [h for h in store.search("open on Saturday", AGENT, k=10) if h.chunk.doc_id == "hours"]
    assert hit.chunk.text == "We are now open on Saturdays too."
    assert store.document_ids("t1") == ["hours", "letter-1", "letter-2", "limits"]


def test_adding_a_stored_chunk_again_replaces_it(store: SQLiteRetrievalStore) -> None:
    [chunk] = chunks_of(make_document("hours", HOURS))
    store.add([chunk])
    store.add([replace(chunk, text="Closed for good.", sha256="0" * 64)])
    assert store.count("t1") == 1
    assert store.search("closed", AGENT, k=5, mode="keyword")[0].chunk.text == "Closed for good."
    assert store.search("Monday to Friday", AGENT, k=5, mode="keyword") == []


def test_replace_document_refuses_chunks_of_another_document(store: SQLiteRetrievalStore) -> None:
    chunks = chunks_of(make_document("hours", HOURS))
    with pytest.raises(InputError):
        store.replace_document("t1", "other", chunks)
    with pytest.raises(InputError):
        store.add(chunks + chunks)
    assert store.count("t1") == 0


def test_quarantine_records_round_trip_and_remove_stored_chunks(store: SQLiteRetrievalStore) -> None:
    fill(store)
    record = QuarantineRecord(
        doc_id="payment",
        tenant_id="t1",
        source="upload:x.html",
        sha256="ab" * 32,
        reasons=(QuarantineReason("indirect", "hidden_content", 0.99, "instructions in html comment"),),
        quarantined_at=INGESTED_AT,
    )
    store.quarantine(record)
    assert store.quarantined("t1") == [record]
    assert store.quarantined("t2") == []
    assert store.count("t1") == 4 and store.count("t2") == 1


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, True, 2.5])
def test_k_out_of_bounds_is_refused(store: SQLiteRetrievalStore, k: int) -> None:
    with pytest.raises(InputError):
        store.search("payment", AGENT, k=k)


def test_query_bounds(store: SQLiteRetrievalStore) -> None:
    fill(store)
    assert store.search("", AGENT) == []
    assert store.search(" \n\t ", AGENT) == []
    assert len(store.search("x" * MAX_QUERY_CHARS, AGENT, k=2)) == 2
    for bad in ("x" * (MAX_QUERY_CHARS + 1), "pay\ud800", "pay\x00"):
        with pytest.raises(InputError):
            store.search(bad, AGENT)
    with pytest.raises(InputError):
        store.search("payment", AGENT, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        store.search("payment", "t1")  # type: ignore[arg-type]


def test_the_file_is_in_wal_mode_and_survives_reopening(embedder: MiniLMEmbedder, store_path: Path) -> None:
    with SQLiteRetrievalStore(store_path, embedder) as store:
        fill(store)
    with sqlite3.connect(store_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SQLiteRetrievalStore(store_path, embedder) as store:
        assert store.count("t1") == 5
        assert store.search("office hours", AGENT, k=1)[0].chunk.doc_id == "hours"


@pytest.mark.parametrize(
    ("name", "dimension"), [("another-model", 384), ("sentence-transformers/all-MiniLM-L6-v2", 128)]
)
def test_a_store_refuses_another_embedder(
    embedder: MiniLMEmbedder, store_path: Path, name: str, dimension: int
) -> None:
    with SQLiteRetrievalStore(store_path, embedder) as store:
        fill(store)
    with pytest.raises(ConfigError, match="refusing to mix"):
        SQLiteRetrievalStore(store_path, RenamedEmbedder(embedder, name, dimension))
    with SQLiteRetrievalStore(store_path, embedder) as store:
        assert store.count("t1") == 5


def test_a_file_that_is_not_a_database_is_refused(embedder: MiniLMEmbedder, store_path: Path) -> None:
    store_path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(ConfigError):
        SQLiteRetrievalStore(store_path, embedder)


def test_a_closed_store_refuses_work(embedder: MiniLMEmbedder) -> None:
    store = SQLiteRetrievalStore(":memory:", embedder)
    store.close()
    store.close()
    with pytest.raises(UsageError):
        store.search("payment", AGENT)


def test_bad_chunks_are_refused_before_anything_is_written(store: SQLiteRetrievalStore) -> None:
    [good] = chunks_of(make_document("hours", HOURS))
    for bad in (replace(good, text="  "), replace(good, tenant_id=""), replace(good, text="x" * 20_001)):
        with pytest.raises(InputError):
            store.add([good, bad])
    assert store.count("t1") == 0


def test_the_naive_search_ignores_tenants_and_acls(store: SQLiteRetrievalStore) -> None:
    fill(store)
    found = store.search_unrestricted("payment balance discount", k=10)
    assert {hit.chunk.tenant_id for hit in found} == {"t1", "t2"}
    assert {hit.chunk.acl.audience for hit in found} == set(Audience)


def test_threads_can_share_one_store(embedder: MiniLMEmbedder, store_path: Path) -> None:
    with SQLiteRetrievalStore(store_path, embedder) as store:
        fill(store)
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work(index: int) -> None:
            try:
                if index % 4 == 0:
                    document = make_document(f"extra-{index}", f"Extra note number {index} about payments.")
                    store.replace_document("t1", document.doc_id, chunks_of(document))
                hits = store.search("payment", DEBTOR, k=5)
                assert all(DEBTOR.may_read(h.chunk.tenant_id, h.chunk.acl) for h in hits)
            except BaseException as error:  # collected and re-raised in the main thread
                with lock:
                    errors.append(error)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(work, range(24)))
        assert errors == []
        assert store.count("t1") == 5 + 6
