"""Consistent copies of the event log, and putting one back in its place.

``cp`` of a live log misses whatever still sits in its ``-wal`` file, and a copy
put back beside a leftover ``-wal`` gets that file's newer pages mixed into it
when SQLite opens it. A backup here is SQLite's online backup of a read-only
connection (one step: one snapshot; in WAL mode the writer is never blocked),
written private, self-contained (``journal_mode=DELETE``: nothing travels beside
it), fsync'ed under a temporary name and renamed into place, then checked.

A restore checks the backup the same way, refuses a log that is in use, keeps
the log it replaces beside it, clears the target's side files and renames the
copy into place. Only the event log is handled: the code index and the result
caches beside it are rebuildable caches.
"""

from __future__ import annotations

import errno
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import structlog

from analyzers.common.private_files import fsync_dir, touch_private
from daemon.app.liveness import process_alive
from daemon.log.anchor import chain_start
from daemon.log.database import Database, DatabaseError, Durability
from daemon.log.hashchain import ChainBreak, first_break
from daemon.log.schema import APPLICATION_ID, SCHEMA_VERSION
from daemon.log.store import chain_rows
from daemon.log.write_errors import describe_write_error, is_contention
from daemon.projections.projector import catch_up
from daemon.read.queries import projection_reach, running_sessions

log = structlog.get_logger("realworld.backup")

#: What SQLite keeps beside a database file and reads as part of it when present.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
#: How long a restore waits for the log's lock before calling it in use.
LOCK_TIMEOUT_S = 2.0

class BackupRefused(ValueError):
    """Bad usage or input for a backup or a restore; one line, nothing was written."""


class BackupWriteFailed(Exception):
    """Writing failed (disk full, read-only, permissions); nothing partial was left."""


@dataclass(frozen=True)
class LogSummary:
    """What a log file holds, and whether its hash chain holds."""

    events: int
    first_seq: int | None
    last_seq: int | None
    chain_break: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.chain_break is None


@dataclass(frozen=True)
class BackupReport:
    path: Path
    summary: LogSummary

    @property
    def ok(self) -> bool:
        return self.summary.ok


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    target: Path
    restored: LogSummary
    kept: Path | None  # where the replaced log went; None when there was none
    kept_summary: LogSummary | None
    moved_aside: tuple[Path, ...]  # leftover side files of a missing log, kept, not mixed in
    caught_up: int  # events the projections applied after the restore


def side_files(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in SIDE_SUFFIXES)


def before_restore_path(target: Path, stamp: str) -> Path:
    """``<stem>.before-restore-<stamp>.db``, named like the caches beside the log."""
    return target.with_name(f"{target.stem}.before-restore-{stamp}.db")


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def summarize(conn: sqlite3.Connection) -> LogSummary:
    """Count the events and walk the chain; a cut-off tail shows in the checkpoints."""
    count, first, last = conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM events").fetchone()
    broken = first_break(chain_rows(conn), chain_start(conn)) or _truncation(conn, int(last or 0))
    return LogSummary(int(count), first, last, broken)


def _truncation(conn: sqlite3.Connection, last: int) -> ChainBreak | None:
    # A chain cut at its end still links; projections that read further show the cut.
    reached = projection_reach(conn)
    if reached > last:
        return ChainBreak(last + 1, f"the log ends at seq {last} but projections reached "
                                    f"{reached}: events were removed")
    return None


def _extent(conn: sqlite3.Connection) -> LogSummary:
    count, first, last = conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM events").fetchone()
    return LogSummary(int(count), first, last)


# --- files ------------------------------------------------------------------------------


def _temporary_beside(dest: Path) -> Path:
    # In the destination's directory, so the final rename never crosses a file system.
    return dest.with_name(f".{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _fsync_file(path: Path) -> None:
    # Only ever on a file no SQLite connection of ours holds: closing a descriptor drops
    # every POSIX lock this process has on the file, SQLite's included.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(path: Path) -> None:
    """Remove a temporary copy and whatever SQLite left beside it; never raises."""
    for leftover in (path, *side_files(path)):
        if not os.path.lexists(leftover):
            continue  # asking anyway gets EROFS, not ENOENT, on a read-only file system
        try:
            leftover.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("backup_cleanup_failed", path=str(leftover), error=str(exc))


def _remove_side_files(path: Path) -> None:
    for leftover in side_files(path):
        leftover.unlink(missing_ok=True)


def _publish(staged: Path, dest: Path, *, overwrite: bool) -> None:
    """Rename ``staged`` to ``dest`` and make the rename durable; never clobber unless asked."""
    if overwrite:
        os.replace(staged, dest)
    else:
        _link_into_place(staged, dest)
    fsync_dir(dest.parent)


def _link_into_place(staged: Path, dest: Path) -> None:
    # A hard link fails on an existing name, where a rename would silently replace it.
    try:
        os.link(staged, dest)
    except FileExistsError:
        raise BackupRefused(f"{dest} appeared meanwhile; not replacing it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if dest.exists() or dest.is_symlink():
            raise BackupRefused(f"{dest} appeared meanwhile; not replacing it") from None
        os.replace(staged, dest)  # no hard links here: checked just above, then renamed
        return
    staged.unlink()


# --- copies -----------------------------------------------------------------------------


def _seal(path: Path) -> None:
    """Rollback-journal mode: the file holds everything, no ``-wal`` beside it."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    if str(mode).lower() != "delete":
        raise sqlite3.OperationalError(f"cannot leave {mode} mode")


def _copy_database(source: sqlite3.Connection, dest: Path) -> None:
    """All pages in one step: one read transaction, so one consistent snapshot."""
    touch_private(dest)
    with closing(sqlite3.connect(dest, isolation_level=None)) as target:
        source.backup(target, pages=-1)
        # The copied header carries the source's WAL mode; a backup must stand alone.
        target.execute("PRAGMA journal_mode = DELETE")


def check_copy(path: Path) -> LogSummary:
    """Opens as a realworld log (older layouts brought forward) and its chain is walked."""
    Database.open(path)
    _seal(path)  # bringing a layout forward switches the file to WAL
    db = Database(path)
    with closing(db.connect_readonly()) as conn:
        summary = summarize(conn)
    _fsync_file(path)
    return summary


def _stage(source: sqlite3.Connection, dest: Path) -> Path:
    staged = _temporary_beside(dest)
    try:
        _copy_database(source, staged)
    except BaseException:
        _discard(staged)
        raise
    return staged


# --- backup -----------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _is_the_log(dest: Path, log_path: Path) -> bool:
    if _same_file(dest, log_path):
        return True
    resolved = dest.resolve()
    return any(resolved == side.resolve() for side in side_files(log_path))


def check_backup_destination(db: Database, dest: Path, *, force: bool) -> None:
    """Refuse, in one line, what would not leave a backup alone at ``dest``."""
    if dest.is_dir():
        raise BackupRefused(f"{dest} is a directory; name the backup file")
    if not dest.parent.is_dir():
        raise BackupRefused(f"cannot write {dest}: the directory {dest.parent} does not exist")
    if _is_the_log(dest, db.path):
        raise BackupRefused(f"{dest} is the event log itself; name another file")
    if force:
        return
    if dest.exists() or dest.is_symlink():
        raise BackupRefused(f"{dest} exists; pass --force to replace it")
    for leftover in side_files(dest):
        if leftover.exists():
            raise BackupRefused(f"{leftover} is left beside {dest} and SQLite would mix it "
                                "into the backup; remove it or pass --force")


def backup(db: Database, dest: Path, *, force: bool = False) -> BackupReport:
    """Copy the log to ``dest`` while sessions keep writing; check the copy."""
    dest = Path(os.path.abspath(dest.expanduser()))
    check_backup_destination(db, dest, force=force)
    try:
        with closing(db.connect_readonly()) as source:
            staged = _stage(source, dest)
    except (OSError, sqlite3.Error) as exc:
        raise BackupWriteFailed(f"cannot write the backup {dest}: "
                                f"{describe_write_error(exc)}") from exc
    try:
        summary = check_copy(staged)
        if force:
            _remove_side_files(dest)
        _publish(staged, dest, overwrite=force)
    except (OSError, sqlite3.Error) as exc:
        _discard(staged)
        raise BackupWriteFailed(f"cannot write the backup {dest}: "
                                f"{describe_write_error(exc)}") from exc
    except BaseException:
        _discard(staged)
        raise
    log.info("backup_written", log=str(db.path), backup=str(dest), events=summary.events,
             chain_ok=summary.ok)
    return BackupReport(dest, summary)


# --- restore ----------------------------------------------------------------------------


def open_backup(source: Path) -> sqlite3.Connection:
    """A read-only connection to a realworld log, or :class:`BackupRefused` saying why not.

    Checked before anything is opened for writing: ``Database.open`` would make an empty
    SQLite file into a new, empty log.
    """
    if not source.exists():
        raise BackupRefused(f"no backup at {source}")
    if source.is_dir():
        raise BackupRefused(f"{source} is a directory, not a backup file")
    try:
        conn = Database(source).connect_readonly()
    except DatabaseError as exc:
        raise BackupRefused(str(exc)) from None
    try:
        app_id, version = _identity(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackupRefused(f"{source} is not a realworld event log "
                            f"(not a SQLite database: {exc})") from None
    if app_id != APPLICATION_ID or version > SCHEMA_VERSION:
        conn.close()
        why = "not a realworld event log" if app_id != APPLICATION_ID else (
            f"from a newer realworld (schema {version}, this one knows {SCHEMA_VERSION})")
        raise BackupRefused(f"{source} is {why}; not restoring it")
    return conn


def _identity(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # reads a page: not SQLite?
    return int(app_id), int(version)


def refuse_if_running(db: Database) -> None:
    """A session recorded as running whose process is alive means the log is in use."""
    if db.is_writable():
        catch_up(db)  # a session that just started may not be projected yet
    for session in running_sessions(db):
        if process_alive(session["pid"], session["host"], session["pid_since"]) is True:
            raise BackupRefused(
                f"{db.path} is in use: session {session['session_id']} is running in process "
                f"{session['pid']} on {session['host']}; stop it first")


@contextmanager
def exclusive(target: Path) -> Iterator[sqlite3.Connection]:
    """Checkpoint the log and hold it exclusively: nobody else reads or writes it meanwhile.

    Leaving WAL mode fails while any other connection has the file open (each holds a
    shared lock for as long as it is open), which is the test for "in use"; EXCLUSIVE
    locking mode then keeps the lock outside of any transaction, so this connection can
    still be the source of the copy that is kept.
    """
    in_use = BackupRefused(f"{target} is in use by another process (it cannot be locked "
                           "exclusively); stop it first")
    conn = sqlite3.connect(target, isolation_level=None, timeout=LOCK_TIMEOUT_S)
    try:
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy:
                raise in_use
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
            # Someone may have opened it (back into WAL) between the two pragmas.
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "delete":
                raise in_use
        except sqlite3.OperationalError as exc:
            if is_contention(exc):
                raise in_use from None
            raise
        yield conn
    finally:
        conn.close()


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _keep_previous(lock: sqlite3.Connection, target: Path, stamp: str) -> Path:
    kept = _unique(before_restore_path(target, stamp))
    staged = _stage(lock, kept)
    try:
        _fsync_file(staged)
        _publish(staged, kept, overwrite=False)
    except BaseException:
        _discard(staged)
        raise
    return kept


def _move_orphans_aside(target: Path, stamp: str) -> tuple[Path, ...]:
    """Side files with no log: an index is rebuilt, but pages of a lost log are kept."""
    moved: list[Path] = []
    for leftover in side_files(target):
        if not leftover.exists():
            continue
        if leftover.name.endswith("-shm") or leftover.stat().st_size == 0:
            leftover.unlink()
            continue
        aside = _unique(leftover.with_name(f"{leftover.name}.before-restore-{stamp}"))
        os.replace(leftover, aside)
        moved.append(aside)
    return tuple(moved)


def _replace_existing(target: Path, staged: Path, durability: Durability,
                      stamp: str) -> tuple[Path, LogSummary]:
    try:
        current = Database.open(target, durability=durability)
    except DatabaseError as exc:
        raise BackupRefused(f"{exc}; not replacing it: move it away, then restore") from None
    refuse_if_running(current)
    with exclusive(target) as lock:
        previous = _extent(lock)
        kept = _keep_previous(lock, target, stamp)
        _remove_side_files(target)  # stale pages of the old log must not reach the new one
        _publish(staged, target, overwrite=True)
    return kept, previous


def check_restore_paths(source: Path, target: Path) -> None:
    if target.is_dir():
        raise BackupRefused(f"{target} is a directory, not an event log")
    if not target.parent.is_dir():
        raise BackupRefused(f"cannot restore to {target}: the directory {target.parent} "
                            "does not exist")
    if source.exists() and _is_the_log(source, target):
        raise BackupRefused(f"{source} is the event log itself; name a backup")


def restore(source: Path, target: Path, *, durability: Durability = "normal",
            now: datetime | None = None) -> RestoreReport:
    """Put the backup at ``source`` in place as the log at ``target``; lose nothing."""
    source = Path(os.path.abspath(source.expanduser()))
    target = Path(os.path.abspath(target.expanduser()))
    check_restore_paths(source, target)
    stamp = utc_stamp(now)
    with closing(open_backup(source)) as conn:
        try:
            staged = _stage(conn, target)
        except (OSError, sqlite3.Error) as exc:
            raise BackupWriteFailed(f"cannot restore {target}: "
                                    f"{describe_write_error(exc)}") from exc
    try:
        restored = _checked_backup(source, staged)
        kept: Path | None = None
        previous: LogSummary | None = None
        moved: tuple[Path, ...] = ()
        if target.exists():
            kept, previous = _replace_existing(target, staged, durability, stamp)
        else:
            moved = _move_orphans_aside(target, stamp)
            _publish(staged, target, overwrite=False)
    except (OSError, sqlite3.Error) as exc:
        _discard(staged)
        raise BackupWriteFailed(f"cannot restore {target}: {describe_write_error(exc)}") from exc
    except BaseException:
        _discard(staged)
        raise
    applied = catch_up(Database.open(target, durability=durability)).applied
    log.info("log_restored", source=str(source), target=str(target), events=restored.events,
             kept=str(kept) if kept else None)
    return RestoreReport(source, target, restored, kept, previous, moved, applied)


def _checked_backup(source: Path, staged: Path) -> LogSummary:
    try:
        summary = check_copy(staged)
    except DatabaseError as exc:
        raise BackupRefused(f"{source} cannot be used as a log ({exc})") from None
    if summary.chain_break is not None:
        raise BackupRefused(f"{source}: hash chain broken at seq {summary.chain_break.seq} "
                            f"({summary.chain_break.reason}); not restoring it")
    return summary
