"""API keys: lifecycle, tenant isolation and hash-only storage, on real SQLite files and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.core.errors import ConfigError, UsageError
from bastion.core.events import Attribute, Event, EventKind
from bastion.guard.audit import SQLiteAuditLog
from bastion.guard.keys import ApiKey, KeyStore, Scope, parse_scopes

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PEPPER = b"pepper-for-tests-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _no_key_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BASTION_KEY_PEPPER", "BASTION_GATEWAY_DB", "BASTION_AUDIT_KEY", "BASTION_AUDIT_DB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[KeyStore]:
    with KeyStore(tmp_path / "gateway.sqlite", clock=clock) as keys:
        yield keys


def test_issue_returns_the_plaintext_once_and_authenticate_finds_the_key(store: KeyStore) -> None:
    issued = store.issue(
        "acme", ["chat", "models"], label="web app", requests_per_minute=60, tokens_per_day=1000
    )
    assert re.fullmatch(r"bst_[a-z2-7]{12}_[A-Za-z0-9_-]{43}", issued.plaintext)
    assert issued.plaintext not in repr(issued)
    key = store.authenticate(issued.plaintext)
    assert key == issued.key
    assert key is not None and key.tenant == "acme" and key.label == "web app"
    assert key.allows(Scope.CHAT) and key.allows("models") and not key.allows("admin")
    assert (key.requests_per_minute, key.tokens_per_day) == (60, 1000)
    assert store.list("acme") == [key] and store.list("other") == []
    assert store.get(key.key_id) == key


def test_wrong_and_malformed_keys_are_refused_quickly(store: KeyStore) -> None:
    issued = store.issue("acme", ["chat"])
    key_id, secret = issued.plaintext[4:16], issued.plaintext[17:]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    candidates = [
        f"bst_{key_id}_{flipped}",
        f"bst_{'a' * 12}_{secret}",
        issued.plaintext + "x",
        issued.plaintext.upper(),
        "",
        "bst_",
        "x" * 100_000,
        "bst_\x00\xff\ufffd" * 10,
        "Bearer " + issued.plaintext,
        "ключ-ключ-ключ-ключ-ключ",
    ]
    started = time.perf_counter()
    for candidate in candidates:
        assert store.authenticate(candidate) is None, candidate[:30]
    assert store.authenticate(None) is None  # type: ignore[arg-type]
    assert time.perf_counter() - started < 1.0


def test_authenticate_never_raises_and_refuses_any_other_text(tmp_path: Path) -> None:
    with KeyStore(tmp_path / "gateway.sqlite") as keys:
        keys.issue("acme", ["chat"])
        keys.ensure_key("demo", "external-demo-key-1234567890", ["chat"])

        @settings(max_examples=300, deadline=None)
        @given(
            st.text(max_size=600)
            | st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
            | st.from_regex(r"bst_[a-z2-7]{12}_[A-Za-z0-9_-]{43}", fullmatch=True)
        )
        def check(text: str) -> None:
            assert keys.authenticate(text) is None

        check()


def test_only_hashes_are_stored(tmp_path: Path, clock: Clock) -> None:
    with KeyStore(tmp_path / "gateway.sqlite", clock=clock) as keys:
        issued = keys.issue("acme", ["chat"])
        external = "demo-key-from-the-environment-42"
        keys.ensure_key("demo", external, ["chat"])
    secret = issued.plaintext.split("_", 2)[2]
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    for plaintext in (issued.plaintext, secret, external):
        assert plaintext.encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored


def test_a_pepper_keys_the_hash_and_is_needed_to_authenticate(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "gateway.sqlite"
    with KeyStore(path, pepper=PEPPER, clock=clock) as keys:
        issued = keys.issue("acme", ["chat"])
        assert keys.authenticate(issued.plaintext) is not None
    secret = issued.plaintext.split("_", 2)[2]
    assert hashlib.sha256(secret.encode()).hexdigest().encode() not in path.read_bytes()
    with KeyStore(path, clock=clock) as keys:  # pepper lost: the key no longer works, nothing breaks
        assert keys.authenticate(issued.plaintext) is None
    with pytest.raises(ConfigError):
        KeyStore(path, pepper=b"short")


def test_the_pepper_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    monkeypatch.setenv("BASTION_KEY_PEPPER", PEPPER.decode())
    with KeyStore(tmp_path / "g.sqlite", clock=clock) as keys:
        issued = keys.issue("acme", ["chat"])
    with KeyStore(tmp_path / "g.sqlite", pepper=PEPPER, clock=clock) as keys:
        assert keys.authenticate(issued.plaintext) is not None


def test_a_key_works_for_its_own_tenant_only(store: KeyStore) -> None:
    acme = store.issue("acme", ["chat"])
    globex = store.issue("globex", ["chat", "admin"])
    assert store.authenticate(acme.plaintext).tenant == "acme"  # type: ignore[union-attr]
    assert store.authenticate(globex.plaintext).tenant == "globex"  # type: ignore[union-attr]
    # acme's secret under globex's id (and the reverse) is nobody's key
    acme_secret, globex_secret = acme.plaintext[17:], globex.plaintext[17:]
    assert store.authenticate(f"bst_{globex.key.key_id}_{acme_secret}") is None
    assert store.authenticate(f"bst_{acme.key.key_id}_{globex_secret}") is None
    # tenant-scoped administration cannot touch another tenant's key
    assert not store.revoke(globex.key.key_id, tenant="acme")
    with pytest.raises(UsageError):
        store.rotate(globex.key.key_id, tenant="acme")
    assert store.authenticate(globex.plaintext) is not None
    assert [k.tenant for k in store.list("acme")] == ["acme"]
    with pytest.raises(UsageError, match="already registered"):
        store.ensure_key("acme", globex.plaintext, ["chat"])


def test_revoked_and_expired_keys_are_refused(store: KeyStore, clock: Clock) -> None:
    issued = store.issue("acme", ["chat"], expires_at=clock.now + timedelta(days=1))
    other = store.issue("acme", ["chat"])
    assert store.authenticate(issued.plaintext) is not None
    clock.now += timedelta(days=1)
    assert store.authenticate(issued.plaintext) is None
    assert store.revoke(other.key.key_id)
    assert store.authenticate(other.plaintext) is None
    assert not store.revoke(other.key.key_id)
    assert not store.revoke("nosuchkeyid1")
    assert store.get(other.key.key_id).revoked_at == clock.now  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="past"):
        store.issue("acme", ["chat"], expires_at=clock.now - timedelta(seconds=1))
    with pytest.raises(UsageError, match="timezone"):
        store.issue("acme", ["chat"], expires_at=datetime(2030, 1, 1))


def test_rotation_keeps_the_old_key_valid_until_the_grace_period_ends(store: KeyStore, clock: Clock) -> None:
    old = store.issue("acme", ["chat", "embeddings"], label="batch", tokens_per_day=500)
    new = store.rotate(old.key.key_id, timedelta(hours=2))
    assert new.plaintext != old.plaintext and new.key.key_id != old.key.key_id
    assert (new.key.tenant, new.key.scopes, new.key.tokens_per_day, new.key.label) == (
        "acme",
        old.key.scopes,
        500,
        "batch",
    )
    clock.now += timedelta(hours=1)
    assert store.authenticate(old.plaintext) is not None
    assert store.authenticate(new.plaintext) is not None
    stored_old = store.get(old.key.key_id)
    assert stored_old is not None and stored_old.rotated_to == new.key.key_id
    clock.now += timedelta(hours=1)
    assert store.authenticate(old.plaintext) is None
    assert store.authenticate(new.plaintext) is not None
    with pytest.raises(UsageError):
        store.rotate(old.key.key_id)  # already rotated
    store.revoke(new.key.key_id)
    with pytest.raises(UsageError):
        store.rotate(new.key.key_id)  # revoked
    with pytest.raises(UsageError):
        store.rotate("nosuchkeyid1")
    with pytest.raises(UsageError):
        store.rotate(new.key.key_id, timedelta(seconds=-1))


def test_ensure_key_registers_an_external_key_once(store: KeyStore) -> None:
    demo = store.ensure_key("demo", "my-demo-key-please-change-me", ["chat", "models"])
    assert store.ensure_key("demo", "my-demo-key-please-change-me", ["chat"]) == demo
    assert store.authenticate("my-demo-key-please-change-me") == demo
    assert store.authenticate("my-demo-key-please-change-mE") is None
    assert len(store.list("demo")) == 1
    with pytest.raises(UsageError, match="already registered"):
        store.ensure_key("other", "my-demo-key-please-change-me", ["chat"])
    with pytest.raises(UsageError, match="16-256"):
        store.ensure_key("demo", "short", ["chat"])
    with pytest.raises(UsageError, match="16-256"):
        store.ensure_key("demo", "has spaces in the middle of it", ["chat"])
    formatted = store.issue("demo", ["chat"]).plaintext
    store.revoke(formatted[4:16])
    with pytest.raises(UsageError, match="revoked"):
        store.ensure_key("demo", formatted, ["chat"])
    # a well-formed key from elsewhere keeps its id
    foreign = "bst_abcdefghijkl_" + "A" * 43
    assert store.ensure_key("demo", foreign, ["chat"]).key_id == "abcdefghijkl"
    assert store.authenticate(foreign) is not None


def test_arguments_are_validated(store: KeyStore) -> None:
    with pytest.raises(UsageError, match="unknown scope"):
        store.issue("acme", ["chat", "root"])
    with pytest.raises(UsageError, match="at least one scope"):
        store.issue("acme", [])
    with pytest.raises(UsageError, match="tenant"):
        store.issue("", ["chat"])
    with pytest.raises(UsageError, match="tenant"):
        store.issue("a/../b", ["chat"])
    with pytest.raises(UsageError, match="positive"):
        store.issue("acme", ["chat"], requests_per_minute=0)
    with pytest.raises(UsageError, match="label"):
        store.issue("acme", ["chat"], label="x\n" * 10)
    assert parse_scopes([" Chat ", Scope.MODELS]) == {Scope.CHAT, Scope.MODELS}


def test_admin_events_carry_the_key_id_never_the_key(tmp_path: Path, clock: Clock) -> None:
    seen: list[Event] = []
    with SQLiteAuditLog(tmp_path / "audit.sqlite") as log:

        def record(event: Event) -> None:
            seen.append(event)
            log.append(event)

        with KeyStore(tmp_path / "gateway.sqlite", on_event=record, clock=clock) as keys:
            issued = keys.issue("acme", ["chat"])
            rotated = keys.rotate(issued.key.key_id, timedelta(minutes=5))
            keys.revoke(rotated.key.key_id)
            keys.ensure_key("demo", "external-demo-key-1234567890", ["chat"])
        assert log.verify().ok
    assert [e.get(Attribute.ADMIN_ACTION) for e in seen] == [
        "key.issued",
        "key.rotated",
        "key.revoked",
        "key.registered",
    ]
    assert all(e.kind is EventKind.ADMIN for e in seen)
    assert seen[0].get(Attribute.API_KEY_ID) == issued.key.key_id
    assert seen[1].get("bastion.api_key.rotated_from") == issued.key.key_id
    audit_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("audit.sqlite*"))
    for plaintext in (issued.plaintext, rotated.plaintext, "external-demo-key-1234567890"):
        secret = plaintext.split("_", 2)[-1]
        assert secret.encode() not in audit_bytes
        assert all(secret not in e.to_json() for e in seen)
    assert issued.key.key_id.encode() in audit_bytes


def test_default_location_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with KeyStore() as keys:
        keys.issue("acme", ["chat"])
    assert (tmp_path / ".bastion" / "gateway.sqlite").is_file()
    monkeypatch.setenv("BASTION_GATEWAY_DB", str(tmp_path / "env.sqlite"))
    with KeyStore() as keys:
        assert keys.list() == []


def test_the_key_store_works_on_postgres(clock: Clock) -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {type(error).__name__}")
    schema = f"keys_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        with KeyStore(url, clock=clock) as keys:
            issued = keys.issue("acme", ["chat"])
            assert isinstance(keys.authenticate(issued.plaintext), ApiKey)
            clock.now += timedelta(seconds=1)
            rotated = keys.rotate(issued.key.key_id, timedelta(0))
            assert keys.authenticate(issued.plaintext) is None
            assert keys.revoke(rotated.key.key_id)
            assert keys.authenticate(rotated.plaintext) is None
            assert [k.key_id for k in keys.list("acme")] == [issued.key.key_id, rotated.key.key_id]
        rows = admin.execute(f"SELECT secret_hash FROM {schema}.api_keys").fetchall()
        assert all(issued.plaintext[17:] not in row[0] for row in rows)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
