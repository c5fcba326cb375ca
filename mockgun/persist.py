"""State that survives a restart: ``--data-dir DIR`` keeps it in an SQLite database there.

What is kept: every stored message (its send as accepted, id, storage key, arrival time,
transport, fault), every event, and the books the API changes (templates, suppressions,
mailing lists, routes, domains and SMTP credentials, API keys, tag stats, fault rules, domain
webhooks and webhook deliveries). Without ``--data-dir`` nothing here runs.

Durability: one writer thread owns the database (WAL mode, ``synchronous=NORMAL``, so a commit
is one write and no fsync of the database per transaction: it survives the process being
killed, which is the crash this is for; a power cut may lose the last transactions). A send's
``200 Queued`` waits for the commit that holds it (:meth:`Persister.durable`), and everything
queued meanwhile commits with it (group commit), so the event loop never blocks on the disk
and a message that was answered is there after a SIGKILL. Messages and events are written as
they arrive; a book is written whole after each request that changes it (books are small).

Messages are stored as pickles of mockgun's own objects: the database is the server's private
state, read back only by the same mockgun version (an unreadable one is set aside, not
trusted). Large parts spooled to files are copied beside the database (``parts/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import pickle
import queue
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._version import __version__
from .log import logger
from .spool import Payload
from .store import MessageStore, StoredMessage, TransportInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, id TEXT, body BLOB);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS books (name TEXT PRIMARY KEY, body BLOB);
"""

Op = tuple[Any, ...]


def _copy_part(path: Path | None, parts: Path, name: str) -> Path | None:
    """A spooled file copied beside the database (the spool is removed at stop)."""
    if path is None or not path.exists():
        return path
    target = parts / name
    if not target.exists():
        shutil.copyfile(path, target)
        target.chmod(0o600)
    return target


def _message_row(message: StoredMessage, parts: Path) -> tuple[int, str, bytes]:
    """The row of one message: large parts copied to ``parts``, then everything pickled."""
    request = message.request
    files = tuple(
        dataclasses.replace(f, path=_copy_part(f.path, parts, f"{message.seq}-{n}"))
        if f.path is not None
        else f
        for n, f in enumerate(request.files)
    )
    mime = request.mime
    if mime is not None and mime.path is not None:
        mime = Payload(path=_copy_part(mime.path, parts, f"{message.seq}-mime"))
    request = dataclasses.replace(request, files=files, mime=mime)
    state = (
        message.id,
        message.key,
        message.received_at,
        request,
        message.transport,
        message.fault,
    )
    return message.seq, message.bare_id, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


class Persister:
    """The writer thread and what feeds it."""

    def __init__(self, directory: Path, *, max_messages: int | None, max_events: int | None):
        self.directory = directory
        self.path = directory / "mockgun.sqlite3"
        self.parts = directory / "parts"
        self.max_messages = max_messages
        self.max_events = max_events
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.written = 0

    # --- start-up ---------------------------------------------------------------------------

    def open(self) -> sqlite3.Connection:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.parts.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            self.directory.chmod(0o700)  # messages are private data
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        version = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        if version is not None and version[0] != __version__:
            logger.warning(
                "%s was written by mockgun %s; this is %s: reading what it can",
                self.path,
                version[0],
                __version__,
            )
        db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (__version__,))
        return db

    def restore(
        self, db: sqlite3.Connection, store: MessageStore, books: dict[str, Any]
    ) -> dict[str, int]:
        """Put back what the database holds (before the server serves; no listener hears of
        it: webhooks are not sent again). Returns counts."""
        counts = {"messages": 0, "events": 0, "books": 0, "unreadable": 0}
        for name, body in db.execute("SELECT name, body FROM books"):
            target = books.get(name)
            try:
                state = pickle.loads(body)  # noqa: S301 - the server's own private state
            except Exception:
                counts["unreadable"] += 1
                continue
            if target is not None:
                _apply(target, state)
                counts["books"] += 1
        for seq, body in db.execute("SELECT seq, body FROM messages ORDER BY seq"):
            try:
                message_id, key, received_at, request, transport, fault = pickle.loads(body)  # noqa: S301
            except Exception:
                counts["unreadable"] += 1
                continue
            if not isinstance(transport, TransportInfo):
                transport = TransportInfo()
            store.restore(message_id, key, received_at, request, transport, fault, seq)
            counts["messages"] += 1
        for domain, body in db.execute("SELECT domain, body FROM events ORDER BY seq"):
            try:
                store.events.restore(domain, json.loads(body))
            except ValueError:
                counts["unreadable"] += 1
                continue
            counts["events"] += 1
        return counts

    def start(self, db: sqlite3.Connection) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(db,), name="mockgun-persist", daemon=True
        )
        self._thread.start()

    # --- what the server feeds it -----------------------------------------------------------

    def message(self, message: StoredMessage | None) -> None:
        """A store listener: each message as it is stored (None: the store was cleared)."""
        self._queue.put(("clear",) if message is None else ("message", message))

    def events(self, domain: str, events: list[dict[str, Any]]) -> None:
        """An event-log listener: the events, as JSON now (their dicts change later)."""
        self._queue.put(("events", domain.lower(), [json.dumps(e) for e in events]))

    def book(self, name: str, state: Any) -> None:
        try:
            body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            logger.warning("cannot keep %s in %s: %s", name, self.path, exc)
            return
        self._queue.put(("book", name, body))

    async def durable(self) -> None:
        """Return once everything queued so far is committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        self._queue.put(("flush", lambda: loop.call_soon_threadsafe(settle)))
        await done

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    # --- the writer thread ------------------------------------------------------------------

    def _run(self, db: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            callbacks: list[Callable[[], None]] = []
            try:
                db.execute("BEGIN")
                for op in batch:
                    if op is None:
                        stopping = True
                    elif op[0] == "flush":
                        callbacks.append(op[1])
                    else:
                        self._apply(db, op)
                db.execute("COMMIT")
                self.error = None
            except (sqlite3.Error, OSError, pickle.PicklingError, TypeError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                logger.error("cannot write %s: %s", self.path, self.error)
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            for callback in callbacks:  # answered either way: a send is not held forever
                callback()
        db.close()

    def _apply(self, db: sqlite3.Connection, op: Op) -> None:
        kind = op[0]
        if kind == "message":
            seq, bare_id, body = _message_row(op[1], self.parts)
            db.execute("INSERT OR REPLACE INTO messages VALUES (?, ?, ?)", (seq, bare_id, body))
            self.written += 1
            if self.max_messages:
                self._evict(db, seq - self.max_messages)
        elif kind == "events":
            db.executemany(
                "INSERT INTO events (domain, body) VALUES (?, ?)", [(op[1], b) for b in op[2]]
            )
            if self.max_events:
                db.execute(
                    "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?",
                    (self.max_events,),
                )
        elif kind == "book":
            db.execute("INSERT OR REPLACE INTO books VALUES (?, ?)", (op[1], op[2]))
        elif kind == "clear":
            db.execute("DELETE FROM messages")
            db.execute("DELETE FROM events")
            shutil.rmtree(self.parts, ignore_errors=True)
            self.parts.mkdir(exist_ok=True)

    def _evict(self, db: sqlite3.Connection, through: int) -> None:
        if through <= 0:
            return
        gone = db.execute("SELECT seq FROM messages WHERE seq <= ?", (through,)).fetchall()
        if not gone:
            return
        db.execute("DELETE FROM messages WHERE seq <= ?", (through,))
        for (seq,) in gone:
            for part in self.parts.glob(f"{seq}-*"):
                part.unlink(missing_ok=True)


def _apply(target: Any, state: Any) -> None:
    """Put a book's saved state into the live object (others hold references to it)."""
    if isinstance(state, dict) and not hasattr(target, "__dict__"):
        return
    values = state if isinstance(state, dict) else vars(state)
    target.__dict__.update(values)
