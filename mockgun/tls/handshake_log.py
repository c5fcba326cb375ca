"""The handshake log: one JSON object per line for every TLS handshake attempt.

Lines are written whole and flushed at once, so ``tail -f`` shows each one as
it happens and a crash never loses a finished line. All writes happen on the
event loop's thread, so concurrent connections cannot interleave partial lines.
The most recent records are also kept in memory for ``GET /mockgun/handshakes``,
bounded by count and by bytes.

A log file that is deleted or moved away (logrotate) is noticed before the next line and
opened anew at its path, so no line goes to a file nobody can see. Standard output
(``--handshake-log -``) is written by a thread of its own: a reader that stops reading
must not freeze the server.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from ..clock import normalise_rfc3339
from ..log import logger
from ..seqindex import SeqList
from .records import HandshakeRecord, new_run_id


class Kept(NamedTuple):
    """A record as kept in memory: its log line, and what ``select`` filters on. A line is a
    third of the memory of the same record as a dict, and its size is known exactly."""

    conn_id: int
    ts: str
    outcome: str
    healthcheck: bool
    line: bytes
    #: Write order (what the per-outcome index is sorted by).
    seq: int = 0

    def record(self) -> HandshakeRecord:
        parsed: HandshakeRecord = json.loads(self.line)
        return parsed


#: Records kept in memory for the inspection API; older ones are counted as evicted.
DEFAULT_MEMORY = 100_000
#: ... and at most this many bytes of them (as their log lines): whichever limit comes first.
DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
# ASCII only: a client's raw U+2028 or NEL in an ALPN value must not split a line for
# readers that treat those as line breaks (JavaScript, str.splitlines).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


#: What a kept record costs besides its line: the tuple, its ``ts`` string, the bytes header.
_KEPT_OVERHEAD = 200

#: Lines kept while the log cannot be written; past this the oldest are dropped and counted.
MAX_PENDING = 100_000


class HandshakeLog:
    """Appends handshake records to a file (or standard output for ``"-"``).

    When the file cannot be written (read-only, disk full, gone), lines wait in memory
    and go out, in order, as soon as it can be written again; mockgun says so on stderr
    and ``/mockgun/health`` reports it. Only past :data:`MAX_PENDING` waiting lines are
    any lost, and those are counted.
    """

    def __init__(
        self,
        stream: TextIO | None,
        *,
        name: str,
        owns_stream: bool,
        memory: int = DEFAULT_MEMORY,
        path: Path | None = None,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._owns_stream = owns_stream
        self._path = path
        #: For files: an O_APPEND descriptor, so that each line is one write(2), whole.
        self._fd: int | None = None
        #: The (device, inode) that descriptor has open, to notice a file deleted or moved.
        self._opened: tuple[int, int] | None = None
        self._stream = _StreamWriter(stream, owns_stream) if stream is not None else None
        self.name = name
        #: Written into every line: which server start it came from.
        self.run = new_run_id()
        self.records: collections.deque[Kept] = collections.deque()
        #: The same records by outcome, so that ``outcome=refused`` reads only refusals.
        self._by_outcome: dict[str, SeqList[Kept]] = {}
        self._seq = itertools.count(1)
        self._held = 0
        self._max_records = memory
        self._max_bytes = memory_bytes
        #: Records that fell out of memory (they are still in the file).
        self.evicted = 0
        #: Times the file was found deleted or moved away, and opened anew.
        self.reopened = 0
        self.pending: collections.deque[bytes] = collections.deque()
        #: Lines dropped because too many were waiting for an unwritable log.
        self.lost = 0
        self.written = 0
        self.error: str | None = None
        #: Called with each record as it is written (the live view listens here).
        self.listeners: list[Callable[[HandshakeRecord], None]] = []

    @classmethod
    def open(cls, target: str, *, memory: int = DEFAULT_MEMORY) -> HandshakeLog:
        if target == "-":
            return cls(sys.stdout, name="-", owns_stream=False, memory=memory)
        path = Path(target)
        log = cls(None, name=str(path.absolute()), owns_stream=True, memory=memory, path=path)
        log._reopen()
        return log

    @property
    def path(self) -> Path | None:
        """The log file (None for standard output or memory only)."""
        return self._path

    @classmethod
    def in_memory(cls, memory: int = DEFAULT_MEMORY) -> HandshakeLog:
        return cls(None, name="(memory)", owns_stream=False, memory=memory)

    def status(self) -> dict[str, Any]:
        """What ``/mockgun/health`` says about the log."""
        return {
            "path": self.name,
            "ok": self.error is None,
            "error": self.error,
            "written": self.written,
            "pending": len(self.pending) + (self._stream.waiting if self._stream else 0),
            "lost": self.lost + (self._stream.lost if self._stream else 0),
            "reopened": self.reopened,
            "in_memory": len(self.records),
            "in_memory_bytes": self._held,
        }

    def write(self, record: HandshakeRecord) -> None:
        """Keep ``record`` (the caller must not change it afterwards) and append its line."""
        record["run"] = self.run
        line = (_encode(record) + "\n").encode()
        self._keep(record, line)
        for listener in self.listeners:
            listener(record)
        if self._stream is not None:
            self._stream.put(line)
            self.written += 1
            return
        if self._path is None:
            return
        self.pending.append(line)
        if len(self.pending) > MAX_PENDING:
            self.pending.popleft()
            self.lost += 1
        self._flush()

    def _keep(self, record: HandshakeRecord, line: bytes) -> None:
        kept = Kept(
            record["conn_id"],
            record["ts"],
            record["outcome"],
            bool(record.get("healthcheck")),
            line,
            next(self._seq),
        )
        self.records.append(kept)
        self._by_outcome.setdefault(kept.outcome, SeqList()).append(kept.seq, kept)
        self._held += len(line) + _KEPT_OVERHEAD
        while len(self.records) > self._max_records or self._held > self._max_bytes:
            old = self.records.popleft()
            self._held -= len(old.line) + _KEPT_OVERHEAD
            self.evicted += 1
            entries = self._by_outcome[old.outcome]
            entries.drop_through(old.seq)
            if not entries:
                del self._by_outcome[old.outcome]

    def _reopen(self) -> bool:
        assert self._path is not None
        try:
            if self._path.parent != Path():
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(
                self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
            opened = os.fstat(self._fd)
            self._opened = (opened.st_dev, opened.st_ino)
        except OSError as exc:
            self._failed(exc)
            return False
        return True

    def _still_there(self) -> bool:
        """Whether the path still names the file this log has open (logrotate moves it away,
        a user may delete it); when not, the descriptor is closed, to be opened anew."""
        assert self._path is not None
        try:
            now = os.stat(self._path)
            if (now.st_dev, now.st_ino) == self._opened:
                return True
        except OSError:
            pass
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self.reopened += 1
        logger.warning("the handshake log %s was moved or deleted; writing a new one", self.name)
        return False

    def _flush(self) -> None:
        assert self._path is not None
        if self._fd is not None:
            self._still_there()  # when not, the descriptor is closed, and opened anew below
        if self._fd is None and not self._reopen():
            return
        while self.pending:
            data = self.pending[0]
            try:
                assert self._fd is not None
                # Unbuffered: the line is in the file when this returns; a crash loses none.
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError as exc:
                self.pending[0] = data  # what is left of a partly written line
                self._failed(exc)
                if self._fd is not None:  # try a fresh descriptor next time
                    with contextlib.suppress(OSError):
                        os.close(self._fd)
                    self._fd = None
                return
            self.pending.popleft()
            self.written += 1
        if self.error is not None:
            logger.warning("the handshake log %s is writable again", self.name)
            self.error = None

    def _failed(self, exc: BaseException) -> None:
        message = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
        if self.error is None:
            logger.error(
                "CANNOT WRITE THE HANDSHAKE LOG %s: %s. Handshakes are kept in memory "
                "(GET /mockgun/handshakes) and written once it is writable again.",
                self.name,
                message,
            )
        self.error = message

    def select(
        self,
        *,
        outcomes: Iterable[str] = (),
        since: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        healthchecks: bool = True,
    ) -> list[HandshakeRecord]:
        """Records filtered by outcome and by ``since`` (a time, or a conn_id), oldest first
        unless ``newest_first``; ``limit`` counts from the first one returned."""
        wanted = set(outcomes)
        after_id: int | None = None
        after_ts: str | None = None
        if since is not None:
            if since.strip().isdigit():
                after_id = int(since)
            else:
                after_ts = normalise_rfc3339(since)
        out: list[HandshakeRecord] = []
        walk: Iterable[Kept] = reversed(self.records) if newest_first else self.records
        if wanted:  # only those outcomes' records, merged back into write order
            lists = [self._by_outcome[o] for o in wanted if o in self._by_outcome]
            walks = [e.backward() if newest_first else e.forward() for e in lists]
            walk = heapq.merge(*walks, key=lambda k: k.seq, reverse=newest_first)
        for kept in walk:
            if limit is not None and len(out) >= limit:
                break
            if wanted and kept.outcome not in wanted:
                continue
            if not healthchecks and kept.healthcheck:
                continue
            if after_id is not None and kept.conn_id <= after_id:
                continue
            if after_ts is not None and kept.ts < after_ts:
                continue
            out.append(kept.record())
        return out

    def close(self) -> None:
        if self.pending and self._path is not None:
            self._flush()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._stream is not None:
            self._stream.close()


class _StreamWriter:
    """Writes lines to a stream (standard output) from a thread of its own.

    A pipe nobody reads fills up, and a write to it blocks: on the event loop that would
    freeze every connection. The loop only queues; past :data:`MAX_PENDING` waiting lines
    the newest are dropped, and counted.
    """

    #: How long a stop waits for queued lines to go out to a reader that may never read.
    CLOSE_WAIT = 2.0

    def __init__(self, stream: TextIO, owns_stream: bool) -> None:
        self._stream = stream
        self._owns = owns_stream
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        # Each counter has one writer (the loop's thread or this one): no lock needed.
        self._queued = 0
        self._done = 0
        self._dropped = 0
        self._failed = 0
        self._thread = threading.Thread(target=self._run, name="mockgun-log", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        return self._queued - self._done

    @property
    def lost(self) -> int:
        return self._dropped + self._failed

    def put(self, line: bytes) -> None:
        if self.waiting >= MAX_PENDING:
            self._dropped += 1
            return
        self._queued += 1
        self._queue.put(line)

    def _run(self) -> None:
        out = getattr(self._stream, "buffer", None)
        while (line := self._queue.get()) is not None:
            try:
                if out is not None:
                    out.write(line)
                    out.flush()
                else:
                    self._stream.write(line.decode())
                    self._stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more to do
                self._failed += 1
            finally:
                self._done += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(self.CLOSE_WAIT)
        if self._owns:
            with contextlib.suppress(OSError, ValueError):
                self._stream.close()
