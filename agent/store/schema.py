"""The store's schema as an ordered registry of migrations.

The pattern is sqlite-utils' own `migrations.py`: an ordered list of functions, each
applied once, inside a transaction together with its record in `_migrations`. A store
whose `_migrations` names a migration this code does not know was written by a newer
version: it is refused rather than misread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlite_utils import Database

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "_migrations"

Migration = Callable[[Database], None]

#: name -> function, in the order they apply. Append only: never rename or reorder.
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(func: Migration) -> Migration:
    """Register `func` as the next migration (its name is the function's name)."""
    if any(name == func.__name__ for name, _ in MIGRATIONS):
        raise ValueError(f"migration {func.__name__!r} is registered twice")
    MIGRATIONS.append((func.__name__, func))
    return func


@migration
def m001_initial(db: Database) -> None:
    """Events, reasons, part pictures, outbox, loss, shift results, stats and meta.

    Long because it is the first schema, statement by statement, and must never change:
    stores made with it are in the field (later changes are later migrations).
    """
    for sql in (
        # One append-only table for state and part events, so insertion order breaks
        # ties between events stamped with the same time. `ts` is ISO UTC text (exact),
        # `epoch` the same instant as float seconds for indexing, `mono` the monotonic
        # stamp durations come from.
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL CHECK (type IN ('state', 'part')),
            ts TEXT NOT NULL,
            epoch REAL NOT NULL,
            mono REAL,
            state TEXT CHECK (state IN ('running', 'stopped', 'no_data')),
            reason TEXT,
            good INTEGER CHECK (good IN (0, 1)),
            defect TEXT,
            score REAL,
            CHECK ((type = 'state') = (state IS NOT NULL)),
            CHECK ((type = 'part') = (good IS NOT NULL))
        )""",
        "CREATE INDEX events_epoch ON events (epoch)",
        "CREATE INDEX events_type_epoch ON events (type, epoch)",
        "CREATE INDEX events_rejected_epoch ON events (epoch) WHERE type = 'part' AND good = 0",
        # Reason assignments: append-only, the latest per stop wins.
        """CREATE TABLE stop_reasons (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            stop_id TEXT NOT NULL REFERENCES events (id),
            reason TEXT,
            source TEXT NOT NULL,
            ts TEXT NOT NULL,
            epoch REAL NOT NULL
        )""",
        "CREATE INDEX stop_reasons_stop ON stop_reasons (stop_id, seq)",
        # Pictures of rejected parts (inspection writes the file): latest wins.
        """CREATE TABLE part_images (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            part_id TEXT NOT NULL REFERENCES events (id),
            path TEXT NOT NULL,
            epoch REAL NOT NULL
        )""",
        "CREATE INDEX part_images_part ON part_images (part_id, seq)",
        # The MQTT outbox: AUTOINCREMENT so a seq is never reused after acks empty it.
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
            retain INTEGER NOT NULL CHECK (retain IN (0, 1)),
            created REAL NOT NULL
        )""",
        # Messages dropped by the outbox bound: the counted loss.
        """CREATE TABLE outbox_loss (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            epoch REAL NOT NULL,
            dropped INTEGER NOT NULL CHECK (dropped > 0),
            first_seq INTEGER NOT NULL,
            last_seq INTEGER NOT NULL
        )""",
        """CREATE TABLE shift_results (
            shift TEXT NOT NULL,
            date TEXT NOT NULL,
            result TEXT NOT NULL,
            saved REAL NOT NULL,
            PRIMARY KEY (shift, date)
        )""",
        """CREATE TABLE stats (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            epoch REAL NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ):
        db.execute(sql)


@migration
def m002_part_uncertain(db: Database) -> None:
    """`uncertain`: 1 on a part counted from touching parts not told apart (NULL on states)."""
    db.execute("ALTER TABLE events ADD COLUMN uncertain INTEGER CHECK (uncertain IN (0, 1))")


@migration
def m003_hourly_rollups(db: Database) -> None:
    """Hourly OEE tallies per shift, kept for years after the raw events are pruned."""
    db.table("hourly_rollups").create(
        {
            "hour": float,  # epoch s of the clock hour's start
            "shift": str,
            "date": str,  # the shift's local date, ISO
            "shift_start": float,
            "shift_end": float,
            "run_s": float,
            "small_stop_s": float,
            "breakdown_s": float,
            "setup_s": float,
            "unassigned_s": float,
            "planned_stop_s": float,
            "no_data_s": float,
            "total": int,
            "good": int,
            "ideal_cycle_s": float,
        },
        pk=("hour", "shift", "date"),
        not_null={"shift_start", "shift_end", "total", "good", "ideal_cycle_s"},
    )


@migration
def m006_stop_causes(db: Database) -> None:
    """Each stop's scene, suggested cause and picture (`agent.causes`); latest wins."""
    db.execute(
        """CREATE TABLE stop_causes (
            stop_id TEXT PRIMARY KEY REFERENCES events (id),
            suggested_reason TEXT NOT NULL,
            confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            source TEXT NOT NULL CHECK (source IN ('builtin', 'learned')),
            builtin TEXT NOT NULL,
            scene TEXT NOT NULL,
            embedding BLOB,
            picture TEXT,
            epoch REAL NOT NULL
        )"""
    )


@migration
def m007_stop_end_scene(db: Database) -> None:
    """The scene once more when a described stop ended (`agent.causes`), JSON."""
    db.execute("ALTER TABLE stop_causes ADD COLUMN end_scene TEXT")


@migration
def m008_part_inspected(db: Database) -> None:
    """`inspected`: 0 on a part counted but not judged (the model was behind, say).

    1 on other parts, NULL on states and on parts stored before this migration.
    """
    db.execute("ALTER TABLE events ADD COLUMN inspected INTEGER CHECK (inspected IN (0, 1))")


def ensure_migrations_table(db: Database) -> None:
    """Create `_migrations` when it is missing."""
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
        "id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
    )


def applied(db: Database) -> list[str]:
    """Names of the migrations applied to `db`, in order (empty for a new file)."""
    if not db[MIGRATIONS_TABLE].exists():
        return []
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY id")]


def unknown(names: list[str]) -> list[str]:
    """Applied names this code does not know: the file comes from a newer version."""
    known = {name for name, _ in MIGRATIONS}
    return [name for name in names if name not in known]


def pending(names: list[str]) -> list[tuple[str, Migration]]:
    """Registered migrations not yet applied, in order."""
    done = set(names)
    return [(name, func) for name, func in MIGRATIONS if name not in done]


def apply_pending(db: Database) -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names.

    The caller holds the write lock (BEGIN IMMEDIATE is taken per migration, so two
    writers opening the same new file cannot both apply one).
    """
    ran: list[str] = []
    if not pending(applied(db)):
        return ran  # the usual case: no write lock needed
    ensure_migrations_table(db)
    for name, func in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                db.execute("COMMIT")
                continue
            func(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                [name, datetime.now(UTC).isoformat()],
            )
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        logger.info("store: applied migration %s", name)
        ran.append(name)
    return ran
