"""Where big payloads live: attachments and messages over a threshold go to files, not memory.

A 25 MB attachment held as bytes, then copied, base64-encoded and serialised into
a MIME message costs several times its size in RAM. Spooled, it is streamed from
the socket to a file, and from that file into the stored MIME file, in chunks.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Payloads larger than this are spooled to disk.
SPOOL_THRESHOLD = 1024 * 1024
CHUNK = 256 * 1024


_PREFIX = "mockgun-spool-"
_OWNED = re.compile(rf"^{_PREFIX}(\d+)-")


class Spool:
    """A private folder of payload files, removed with :meth:`close`.

    Its name carries the process id (``mockgun-spool-<pid>-...``): a process killed with
    SIGKILL cannot remove its folder, so each new spool removes those of dead processes.
    """

    def __init__(self, parent: Path | None = None, *, threshold: int = SPOOL_THRESHOLD) -> None:
        remove_stale(Path(parent or tempfile.gettempdir()))
        prefix = f"{_PREFIX}{os.getpid()}-"
        self.directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self.directory.chmod(0o700)  # messages are private data
        self.threshold = threshold
        self._names = itertools.count(1)

    def new_path(self, suffix: str = "") -> Path:
        # The pid: a worker process (mockgun.api.offload) writes into the same folder.
        return self.directory / f"{next(self._names):08d}-{os.getpid()}{suffix}"

    def __reduce__(self) -> tuple[Any, ...]:
        # A worker gets the same folder (never a new one, never a clean-up of its own).
        return (_attach, (self.directory, self.threshold))

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _attach(directory: Path, threshold: int) -> Spool:
    spool = Spool.__new__(Spool)
    spool.directory, spool.threshold, spool._names = directory, threshold, itertools.count(1)
    return spool


def remove_stale(parent: Path) -> int:
    """Remove the spool folders in ``parent`` whose process is gone; returns how many."""
    removed = 0
    try:
        entries = list(parent.iterdir())
    except OSError:
        return 0
    for entry in entries:
        match = _OWNED.match(entry.name)
        if match and not _alive(int(match.group(1))) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed += not entry.exists()
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


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
