"""The handshake log: one JSON object per line for every TLS handshake attempt.

Lines are written whole and flushed at once, so ``tail -f`` shows each one as
it happens and a crash never loses a finished line. All writes happen on the
event loop's thread, so concurrent connections cannot interleave partial lines.
The most recent records are also kept in memory for ``GET /mockgun/handshakes``.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

#: Records kept in memory for the inspection API; older ones are counted as evicted.
DEFAULT_MEMORY = 100_000
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


_second_cache: list[Any] = [-1, ""]


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 with milliseconds, e.g. ``2026-11-28T22:45:01.123Z``."""
    now = time.time()
    second = int(now)
    if second != _second_cache[0]:  # strftime is slow; format each second once
        _second_cache[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))]
    return f"{_second_cache[1]}{int((now - second) * 1000):03d}Z"


def format_ts(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> dt.datetime:
    """Parse an RFC 3339 time (``Z`` or an offset; naive means UTC)."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class HandshakeLog:
    """Appends handshake records to a stream (a file, or standard output for ``"-"``)."""

    def __init__(
        self,
        stream: TextIO | None,
        *,
        name: str,
        owns_stream: bool,
        memory: int = DEFAULT_MEMORY,
        fd: int | None = None,
    ) -> None:
        self._stream = stream
        self._owns_stream = owns_stream
        #: For files: an O_APPEND descriptor, so that each line is one write(2), whole.
        self._fd = fd
        self.name = name
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=memory)
        #: Records that fell out of memory (they are still in the file).
        self.evicted = 0
        #: Lines that could not be written (disk full, file gone read-only, ...).
        self.lost = 0
        self.written = 0

    @classmethod
    def open(cls, target: str, *, memory: int = DEFAULT_MEMORY) -> HandshakeLog:
        if target == "-":
            return cls(sys.stdout, name="-", owns_stream=False, memory=memory)
        path = Path(target)
        if path.parent != Path():
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return cls(None, name=str(path.resolve()), owns_stream=True, memory=memory, fd=fd)

    @classmethod
    def in_memory(cls, memory: int = DEFAULT_MEMORY) -> HandshakeLog:
        return cls(None, name="(memory)", owns_stream=False, memory=memory)

    def write(self, record: dict[str, Any]) -> None:
        """Keep ``record`` (the caller must not change it afterwards) and append its line."""
        if len(self.records) == self.records.maxlen:
            self.evicted += 1
        self.records.append(record)
        if self._stream is None and self._fd is None:
            return
        line = _encode(record) + "\n"
        try:
            if self._fd is not None:
                data = line.encode()
                # Unbuffered: the line is in the file when this returns, so a crash loses none.
                while data:
                    data = data[os.write(self._fd, data) :]
            else:
                assert self._stream is not None
                self._stream.write(line)
                self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.lost += 1
            if self.lost == 1:
                print(f"mockgun: cannot write handshake log {self.name}: {exc}", file=sys.stderr)
        else:
            self.written += 1

    def select(
        self,
        *,
        outcomes: Iterable[str] = (),
        since: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Records in order, filtered by outcome and by ``since`` (a time, or a conn_id)."""
        wanted = set(outcomes)
        after_id: int | None = None
        after_ts: str | None = None
        if since is not None:
            if since.strip().isdigit():
                after_id = int(since)
            else:
                after_ts = format_ts(parse_ts(since))
        out = []
        for record in self.records:
            if wanted and record.get("outcome") not in wanted:
                continue
            if after_id is not None and record.get("conn_id", 0) <= after_id:
                continue
            if after_ts is not None and record.get("ts", "") < after_ts:
                continue
            out.append(record)
        return out[:limit] if limit is not None else out

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._stream is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()
        if self._owns_stream:
            self._stream.close()
