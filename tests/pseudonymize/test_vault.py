"""The vault against the real SQLite database: sealing, wrong keys, tampering, erasure, threads."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bastion.core.errors import ConfigError, UsageError, VaultError
from bastion.core.types import Detection, Span
from bastion.pseudonymize import Pseudonymizer, SQLiteVaultStore, Vault, VaultStore

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ERIKA = "PERSON_0123456789abcdef"
MAX = "PERSON_fedcba9876543210"
VALUE = "Erika Mustermann"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "vault.sqlite"


@pytest.fixture
def vault(path: Path) -> Iterator[Vault]:
    with Vault(KEY, path) as opened:
        yield opened


def sealed_record(path: Path, tenant: str, token: str) -> bytes:
    with sqlite3.connect(path) as connection:
        row = connection.execute(
            "SELECT sealed FROM vault_records WHERE tenant = ? AND token = ?", (tenant, token)
        ).fetchone()
    connection.close()
    assert isinstance(row[0], bytes)
    return row[0]


def run_sql(path: Path, statement: str, parameters: tuple[object, ...] = ()) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(statement, parameters)
    connection.close()


def test_put_get_and_first_value_wins(vault: Vault) -> None:
    assert vault.put("acme", ERIKA, VALUE) is True
    assert vault.put("acme", ERIKA, "someone else") is False
    assert vault.get("acme", ERIKA) == VALUE
    assert vault.get_many("acme", [ERIKA, MAX]) == {ERIKA: VALUE}
    assert vault.count("acme") == 1
    assert vault.count() == 1


@pytest.mark.parametrize("value", ["", "Jürgen Groß 🙂", "a\ud800b", "x" * 100_000, "\x00\n\t"])
def test_any_string_round_trips(vault: Vault, value: str) -> None:
    vault.put("acme", ERIKA, value)
    assert vault.get("acme", ERIKA) == value


def test_values_are_not_stored_in_clear(vault: Vault, path: Path) -> None:
    vault.put("acme", ERIKA, VALUE)
    vault.close()
    assert VALUE.encode() not in path.read_bytes()
    assert len(sealed_record(path, "acme", ERIKA)) == 1 + 12 + len(VALUE) + 16


def test_same_value_sealed_twice_gives_different_ciphertexts(path: Path) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
        vault.put("acme", MAX, VALUE)
    assert sealed_record(path, "acme", ERIKA)[1:13] != sealed_record(path, "acme", MAX)[1:13]


def test_missing_record_is_a_vault_error(vault: Vault) -> None:
    with pytest.raises(VaultError, match="no record"):
        vault.get("acme", ERIKA)


def test_database_file_is_private(vault: Vault, path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reopening_with_the_same_key_reads_old_records(path: Path) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
    with Vault(KEY, str(path)) as vault:
        assert vault.get("acme", ERIKA) == VALUE


def test_wrong_key_is_refused_when_opening(path: Path) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
    with pytest.raises(VaultError, match="another key"):
        Vault(OTHER_KEY, path)


def test_record_sealed_with_another_key_fails_authentication(path: Path, tmp_path: Path) -> None:
    other_path = tmp_path / "other.sqlite"
    with Vault(OTHER_KEY, other_path) as other:
        other.put("acme", ERIKA, VALUE)
    foreign = sealed_record(other_path, "acme", ERIKA)
    with Vault(KEY, path) as vault:
        vault.put("acme", MAX, "placeholder")
    run_sql(path, "INSERT INTO vault_records VALUES ('acme', ?, ?)", (ERIKA, foreign))
    with Vault(KEY, path) as vault, pytest.raises(VaultError, match="authentication") as error:
        vault.get("acme", ERIKA)
    assert VALUE not in str(error.value)


@pytest.mark.parametrize(
    "offset", [0, 1, 12, 13, 20, -1], ids=["format", "nonce", "nonce-end", "body", "body2", "tag"]
)
def test_flipped_byte_in_the_database_file_is_detected(path: Path, offset: int) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
    sealed = sealed_record(path, "acme", ERIKA)
    content = bytearray(path.read_bytes())
    assert content.count(sealed) == 1
    position = content.index(sealed) + (offset % len(sealed))
    content[position] ^= 0x01
    path.write_bytes(bytes(content))
    with Vault(KEY, path) as vault, pytest.raises(VaultError) as error:
        vault.get("acme", ERIKA)
    assert VALUE not in str(error.value)
    with Vault(KEY, path) as vault, pytest.raises(VaultError):
        vault.restore("acme", f"Hallo {ERIKA}")


def test_truncated_record_is_detected(path: Path) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
    run_sql(path, "UPDATE vault_records SET sealed = substr(sealed, 1, 20)")
    with Vault(KEY, path) as vault, pytest.raises(VaultError, match="damaged"):
        vault.get("acme", ERIKA)
    run_sql(path, "UPDATE vault_records SET sealed = 'text, not bytes'")
    with Vault(KEY, path) as vault, pytest.raises(VaultError, match="damaged"):
        vault.get("acme", ERIKA)


def test_swapped_records_are_detected(path: Path) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
        vault.put("acme", MAX, "Max Mustermann")
    erika, max_ = sealed_record(path, "acme", ERIKA), sealed_record(path, "acme", MAX)
    run_sql(path, "UPDATE vault_records SET sealed = ? WHERE token = ?", (max_, ERIKA))
    run_sql(path, "UPDATE vault_records SET sealed = ? WHERE token = ?", (erika, MAX))
    with Vault(KEY, path) as vault:
        for token in (ERIKA, MAX):
            with pytest.raises(VaultError, match="authentication"):
                vault.get("acme", token)


def test_record_moved_to_another_tenant_is_detected(path: Path) -> None:
    with Vault(KEY, path) as vault:
        vault.put("acme", ERIKA, VALUE)
    run_sql(path, "UPDATE vault_records SET tenant = 'other'")
    with Vault(KEY, path) as vault, pytest.raises(VaultError, match="authentication"):
        vault.get("other", ERIKA)


def test_a_file_that_is_not_a_database_is_a_vault_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(VaultError, match="vault"):
        Vault(KEY, broken)


def test_tenants_are_separate(vault: Vault) -> None:
    vault.put("acme", ERIKA, VALUE)
    vault.put("other", ERIKA, "Other Person")
    assert vault.get("acme", ERIKA) == VALUE
    assert vault.get("other", ERIKA) == "Other Person"
    assert vault.restore("third", ERIKA) == ERIKA


def test_forget_one_token(vault: Vault) -> None:
    vault.put("acme", ERIKA, VALUE)
    vault.put("acme", MAX, "Max")
    assert vault.forget("acme", ERIKA) is True
    assert vault.forget("acme", ERIKA) is False
    with pytest.raises(VaultError):
        vault.get("acme", ERIKA)
    assert vault.restore("acme", f"{ERIKA} {MAX}") == f"{ERIKA} Max"


def test_erase_tenant_removes_its_records_and_their_bytes(vault: Vault, path: Path) -> None:
    vault.put_many("acme", [(ERIKA, VALUE), (MAX, "Max")])
    vault.put("other", ERIKA, VALUE)
    erased_sealed = sealed_record(path, "acme", ERIKA)
    assert vault.erase_tenant("acme") == 2
    assert vault.erase_tenant("acme") == 0
    assert vault.count("acme") == 0
    assert vault.get("other", ERIKA) == VALUE
    on_disk = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert erased_sealed not in on_disk


def test_put_checks_its_arguments(vault: Vault) -> None:
    with pytest.raises(UsageError, match="token"):
        vault.put("acme", "Erika Mustermann", VALUE)
    with pytest.raises(UsageError, match="token"):
        vault.put("acme", "PERSON\\_0123456789abcdef", VALUE)
    with pytest.raises(UsageError, match="string"):
        vault.put("acme", ERIKA, 42)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        vault.put("", ERIKA, VALUE)
    with pytest.raises(UsageError):
        vault.restore("acme", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        Vault(b"short")


def test_closed_vault_refuses_work(path: Path) -> None:
    vault = Vault(KEY, path)
    vault.close()
    vault.close()
    with pytest.raises(VaultError, match="closed"):
        vault.get("acme", ERIKA)


def test_repr_hides_the_key(vault: Vault) -> None:
    assert KEY.hex() not in repr(vault)
    assert repr(KEY) not in repr(vault)


def test_store_protocol_and_in_memory_default() -> None:
    assert isinstance(SQLiteVaultStore(), VaultStore)
    with Vault(KEY) as vault:
        vault.put("acme", ERIKA, VALUE)
        assert vault.restore("acme", f"[{ERIKA}]") == f"[{VALUE}]"


def test_concurrent_pseudonymize_and_restore_from_threads(path: Path) -> None:
    vault = Vault(KEY, path)
    tenants = ["acme", "globex", "initech", "umbrella"]

    def work(worker: int) -> int:
        tenant = tenants[worker % len(tenants)]
        pseudonymizer = Pseudonymizer(KEY, tenant, vault=vault)
        checked = 0
        for index in range(150):
            name = f"Kunde{index % 40} Nummer{worker % 3}"
            text = f"Hallo {name}, Ihr Fall {index}."
            detection = Detection("pii", "PERSON", 0.9, True, Span(6, 6 + len(name)))
            result = pseudonymizer.pseudonymize(text, [detection])
            assert name not in result.text
            assert pseudonymizer.restore(result.text, only=result.tokens) == text
            checked += 1
        return checked

    barrier = threading.Barrier(8)

    def start(worker: int) -> int:
        barrier.wait()
        return work(worker)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(start, range(8))) == 8 * 150
    # 4 tenants x 40 names x the worker groups that share a tenant and a name suffix
    assert vault.count() == sum(len({w % 3 for w in range(8) if w % 4 == t}) * 40 for t in range(4))
    vault.close()


def test_two_vault_objects_on_one_file(path: Path) -> None:
    first, second = Vault(KEY, path), Vault(KEY, path)
    first.put("acme", ERIKA, VALUE)
    assert second.get("acme", ERIKA) == VALUE
    second.erase_tenant("acme")
    with pytest.raises(VaultError):
        first.get("acme", ERIKA)
    first.close()
    second.close()
