"""Where big payloads live: attachments and messages over a threshold go to files, not memory.

A 25 MB attachment held as bytes, then copied, base64-encoded and serialised into
a MIME message costs several times its size in RAM. Spooled, it is streamed from
the socket to a file, and from that file into the stored MIME file, in chunks.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Payloads larger than this are spooled to disk.
SPOOL_THRESHOLD = 1024 * 1024
CHUNK = 256 * 1024


class Spool:
    """A private folder of payload files, removed with :meth:`close`."""

    def __init__(self, parent: Path | None = None, *, threshold: int = SPOOL_THRESHOLD) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mockgun-spool-", dir=parent))
        self.directory.chmod(0o700)  # messages are private data
        self.threshold = threshold
        self._names = itertools.count(1)

    def new_path(self, suffix: str = "") -> Path:
        return self.directory / f"{next(self._names):08d}{suffix}"

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class Payload:
    """Bytes held in memory, or in a spool file when large."""

    data: bytes = field(default=b"", repr=False)
    path: Path | None = None

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path is not None else len(self.data)

    def read(self, limit: int = -1) -> bytes:
        if self.path is None:
            return self.data if limit < 0 else self.data[:limit]
        with self.path.open("rb") as fh:
            return fh.read(limit)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        if self.path is None:
            yield self.data
            return
        with self.path.open("rb") as fh:
            while chunk := fh.read(size):
                yield chunk

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
