"""Small builders shared by the retrieval tests."""

from __future__ import annotations

from bastion.rag.chunking import chunk_document
from bastion.rag.types import Acl, Audience, Chunk, Document

INGESTED_AT = "2026-01-02T03:04:05Z"


def make_document(
    doc_id: str,
    text: str,
    tenant_id: str = "t1",
    acl: Acl | None = None,
    title: str = "",
    language: str = "en",
) -> Document:
    return Document(
        doc_id=doc_id,
        tenant_id=tenant_id,
        title=title or doc_id,
        text=text,
        acl=acl or Acl(Audience.PUBLIC),
        language=language,
        source=f"tests/{doc_id}.md",
    )


def chunks_of(document: Document) -> list[Chunk]:
    return chunk_document(document, INGESTED_AT)
