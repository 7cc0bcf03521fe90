"""Opening a store: migrations once, WAL, synchronous, and clear errors for wrong files."""

import sqlite3
from pathlib import Path

import pytest

from agent.store import Store, StoreError, open_readonly, schema


def test_migrations_run_once_and_are_recorded(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with Store.open(db_path) as store:
        names = store.migrations()
    assert names == [name for name, _ in schema.MIGRATIONS]
    raw = sqlite3.connect(db_path)
    first = raw.execute("SELECT id, name, applied_at FROM _migrations").fetchall()
    raw.close()
    assert [row[1] for row in first] == names
    with Store.open(db_path) as again:  # reopening applies nothing
        assert again.migrations() == names
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT id, name, applied_at FROM _migrations").fetchall() == first
    raw.close()


def test_wal_synchronous_full_and_busy_timeout(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # 2 = FULL: every commit is fsynced (see docs/store.md, durability)
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_a_new_migration_applies_on_reopen_only_once(db_path: Path, monkeypatch) -> None:
    Store.open(db_path).close()
    calls = []

    def m999_test_column(db):
        calls.append(1)
        db.execute("ALTER TABLE meta ADD COLUMN note TEXT")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ("m999", m999_test_column)])
    Store.open(db_path).close()
    Store.open(db_path).close()
    assert calls == [1]
    raw = sqlite3.connect(db_path)
    assert "note" in [row[1] for row in raw.execute("PRAGMA table_info(meta)")]
    raw.close()


def test_a_failing_migration_leaves_no_trace(db_path: Path, monkeypatch) -> None:
    Store.open(db_path).close()

    def m999_broken(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("bug in migration")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ("m999", m999_broken)])
    with pytest.raises(RuntimeError):
        Store.open(db_path)
    raw = sqlite3.connect(db_path)
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    applied = [row[0] for row in raw.execute("SELECT name FROM _migrations")]
    raw.close()
    assert "half" not in tables
    assert "m999" not in applied


def test_not_a_sqlite_file_is_a_one_line_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.db: not a usable SQLite database"):
        Store.open(bogus)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        open_readonly(bogus)
    assert bogus.read_text().startswith("this is not")  # never touched


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE customers (name TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not an oee-agent store"):
        Store.open(other)
    with pytest.raises(StoreError, match="not an oee-agent store"):
        open_readonly(other)


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    Store.open(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m900_future', 'later')")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer oee-agent.*m900_future"):
        Store.open(db_path)
    with pytest.raises(StoreError, match="newer oee-agent"):
        open_readonly(db_path)


def test_missing_file_for_reader(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store file"):
        open_readonly(tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(StoreError, match="is a folder, not a store file"):
        open_readonly(tmp_path)


def test_uncreatable_folder_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create its folder"):
        Store.open(blocker / "sub" / "line.db")


def test_parts_stored_before_uncertain_existed_read_as_certain(db_path: Path, monkeypatch) -> None:
    from datetime import UTC, datetime

    from agent.events import PartEvent

    first = [(name, func) for name, func in schema.MIGRATIONS if name == "m001_initial"]
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", first)
        Store.open(db_path).close()  # a store written before m002_part_uncertain
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO events (id, type, ts, epoch, good) VALUES (?, 'part', ?, ?, 1)",
        ["old", "2026-03-02T06:00:00+00:00", datetime(2026, 3, 2, 6, tzinfo=UTC).timestamp()],
    )
    raw.commit()
    raw.close()
    with Store.open(db_path) as store:
        assert "m002_part_uncertain" in store.migrations()
        store.append(PartEvent(datetime(2026, 3, 2, 6, 1, tzinfo=UTC), id="new", uncertain=True))
        assert [(p.id, p.uncertain) for p in store.parts()] == [("old", False), ("new", True)]
        assert [p.inspected for p in store.parts()] == [True, True]  # NULL before m008: judged


def test_a_writer_that_must_not_migrate_never_upgrades_nor_creates(
    db_path: Path, tmp_path: Path, monkeypatch
) -> None:
    """The TUI's reason writer against an older agent's store: refused, store untouched."""
    Store.open(db_path).close()  # the agent's store, at today's schema
    with Store.open(db_path, migrate=False) as store:  # same schema: it writes
        assert store.migrations() == [name for name, _ in schema.MIGRATIONS]

    def m999_test_column(db):
        db.execute("ALTER TABLE meta ADD COLUMN note TEXT")

    # a newer TUI (one more migration) against that older store
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ("m999", m999_test_column)])
    with pytest.raises(StoreError, match="older oee-agent.*m999 pending"):
        Store.open(db_path, migrate=False)
    raw = sqlite3.connect(db_path)
    assert "note" not in [row[1] for row in raw.execute("PRAGMA table_info(meta)")]
    assert "m999" not in [row[0] for row in raw.execute("SELECT name FROM _migrations")]
    raw.close()
    with pytest.raises(StoreError, match="no such store file"):
        Store.open(tmp_path / "none.db", migrate=False)
    assert not (tmp_path / "none.db").exists()
