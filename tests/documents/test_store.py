"""The document store on each backend: sealed at rest, scanned before storing, ranked
lexically or by meaning, and a scanner that fails quarantines (fail closed)."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.datasources.sources import DataSources
from bastion.documents.embed import Embedder, EmbeddingsUnavailable, load_embedder
from bastion.documents.store import Documents
from bastion.policy import Policy
from bastion.scanners import (
    Pipeline,
    ScanContext,
    ScanResult,
    Stage,
    build_pipeline,
    default_registry,
)
from bastion.store.schema import DocumentChunkRow, Tenant, User

KEK = bytes(range(7, 39))
REVENUE = "Quarterly revenue rose to 4 million, ahead of the plan."
COFFEE = "We make fresh coffee in the kitchen every morning."
DOG = "The office dog is called Biscuit and likes the sofa."


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class World:
    tenant: str
    owner: str
    source: str
    keyring: Keyring
    app_engine: Engine
    pipeline: Pipeline

    def documents(self, embedder: Embedder | None, pipeline: Pipeline | None = None) -> Documents:
        chosen = pipeline or self.pipeline
        return Documents(self.app_engine, self.keyring, now, lambda _policy: chosen, embedder)

    def upload(self, docs: Documents, name: str, text: str) -> str:
        info = asyncio.run(
            docs.upload(self.tenant, self.source, self.owner, "member", name, text, policy="p")
        )
        return info.id


@pytest.fixture
def world(engine: Engine, app_engine: Engine) -> World:
    tenant, owner = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(insert(Tenant).values(id=tenant, name="acme", created_at=now()))
        conn.execute(
            insert(User).values(
                id=owner, tenant_id=tenant, email="o@example.com", role="member", created_at=now()
            )
        )
    keyring = Keyring(app_engine, LocalKeyProvider(KEK), now)
    source = DataSources(app_engine, keyring, now).connect(
        tenant, owner, "notes", "documents", "", {}
    )
    pipeline = build_pipeline(Policy(), default_registry())
    return World(tenant, owner, source.id, keyring, app_engine, pipeline)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    try:
        found = load_embedder("minilm")
    except EmbeddingsUnavailable:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("the embeddings extra is not installed")
    assert found is not None
    return found


def test_chunks_are_sealed_at_rest(world: World, engine: Engine) -> None:
    """The chunk column holds ciphertext: no word of the document, no embedder."""
    docs = world.documents(None)
    world.upload(docs, "r.txt", REVENUE)
    with engine.connect() as conn:
        rows = conn.execute(select(DocumentChunkRow.sealed, DocumentChunkRow.embedder)).all()
    assert len(rows) == 1 and rows[0].embedder == ""
    assert b"revenue" not in rows[0].sealed.lower() and b"Quarterly" not in rows[0].sealed


def test_hybrid_ranking_finds_a_paraphrase_lexical_ranking_misses(
    world: World, embedder: Embedder
) -> None:
    """ "How much money did we make" shares no word with the revenue chunk: BM25 finds
    only the coffee chunk ("we", "make"); with MiniLM the revenue chunk is found too."""
    hybrid = world.documents(embedder)
    for name, text in (("revenue", REVENUE), ("coffee", COFFEE), ("dog", DOG)):
        world.upload(hybrid, name, text)
    query = "how much money did we make"
    lexical = world.documents(None).search(world.tenant, world.owner, "member", query, k=5)
    assert [h.document_name for h in lexical] == ["coffee"]
    found = hybrid.search(world.tenant, world.owner, "member", query, k=5)
    assert "revenue" in [h.document_name for h in found]
    assert "dog" not in [h.document_name for h in found]


def test_chunks_from_another_embedder_rank_by_words_only(world: World, embedder: Embedder) -> None:
    """A chunk stored without a vector is still found by its words, never by meaning."""
    world.upload(world.documents(None), "revenue", REVENUE)
    hybrid = world.documents(embedder)
    assert hybrid.search(world.tenant, world.owner, "member", "how much money", k=5) == []
    hits = hybrid.search(world.tenant, world.owner, "member", "quarterly revenue", k=5)
    assert [h.document_name for h in hits] == ["revenue"]


class _Broken:
    """A scanner plug-in that always fails."""

    name = "broken"

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        raise RuntimeError(text)


def test_a_failing_scanner_quarantines_the_document(world: World) -> None:
    """Fail closed: the scanner raised, so the document is stored but never retrieved."""
    broken = Pipeline({Stage.INPUT: (_Broken(),)}, timeout_s=1.0)
    docs = world.documents(None, broken)
    info = asyncio.run(
        docs.upload(world.tenant, world.source, world.owner, "member", "r", REVENUE, policy="p")
    )
    assert info.status == "quarantined" and info.reasons == ("broken:scanner_error",)
    assert docs.search(world.tenant, world.owner, "member", "quarterly revenue") == []
    listed = docs.list(world.tenant, world.source, world.owner, "member")
    assert [(d.id, d.status) for d in listed] == [(info.id, "quarantined")]
    assert "Quarterly" not in repr(info) and "Quarterly" not in repr(listed)
