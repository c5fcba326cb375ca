"""The handshake log: one JSON object per line for every TLS handshake on the listening port.

Lines are written whole and flushed at once, so ``tail -f`` shows each one as
it happens and a crash never leaves a finished handshake unwritten. All writes
happen on the event loop's thread, so concurrent connections cannot interleave
partial lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 with milliseconds, e.g. ``2026-11-28T22:45:01.123Z``."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class HandshakeLog:
    """Appends handshake records to a file (or standard output for ``"-"``)."""

    def __init__(self, stream: TextIO, *, name: str, owns_stream: bool) -> None:
        self._stream = stream
        self._owns_stream = owns_stream
        self.name = name
        #: Lines that could not be written (disk full, file gone read-only, ...).
        self.lost = 0
        self.written = 0

    @classmethod
    def open(cls, target: str) -> HandshakeLog:
        if target == "-":
            return cls(sys.stdout, name="-", owns_stream=False)
        path = Path(target)
        if path.parent != Path():
            path.parent.mkdir(parents=True, exist_ok=True)
        # buffering=1: line-buffered, so every newline reaches the file immediately.
        stream = path.open("a", encoding="utf-8", buffering=1)
        return cls(stream, name=str(path.resolve()), owns_stream=True)

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            self._stream.write(line)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.lost += 1
            if self.lost == 1:
                print(
                    f"mockgun: cannot write the handshake log {self.name}: {exc}", file=sys.stderr
                )
        else:
            self.written += 1

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()
        if self._owns_stream:
            self._stream.close()
