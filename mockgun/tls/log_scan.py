"""Reading a handshake log back, line by line, for the report and its CI gate.

A gate must not pass by accident, so everything that makes a log untrustworthy is found and
said: a missing, empty or unreadable file (:class:`LogProblem`), lines that are not JSON
objects (listed with their numbers), and a last line without its newline (cut off by a crash,
or still being written). The file is streamed, never loaded whole: memory stays bounded
whatever its size (the report keeps totals, and at most :data:`MAX_KEPT` failed attempts).

Reruns append to one log; each line carries the ``run`` of the server start that wrote it.
:func:`scan_log` reads one run (by default the latest, found from the file's tail) and
lines since a moment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RUN = re.compile(rb'"run":"([^"\\]{1,64})"')
#: Bytes read from the end of the log to find the latest run.
_TAIL = 256 * 1024
#: Corrupt lines named in the report (the rest are counted).
MAX_CORRUPT_LISTED = 20
_CHUNK = 1 << 20


class LogProblem(Exception):
    """The log cannot be trusted at all: missing, unreadable or empty."""


@dataclass
class LogScan:
    """What reading the log found, besides the records themselves."""

    source: str
    #: The run read (``None``: every line, for a log whose lines carry no run).
    run: str | None = None
    lines: int = 0
    #: (line number, the line's start) of lines that are not JSON objects.
    corrupt: list[tuple[int, str]] = field(default_factory=list)
    corrupt_count: int = 0
    #: The file ends in a line without its newline.
    cut_off_tail: bool = False
    #: Lines left out because they belong to another run, or came before ``since``.
    other_runs: Counter[str] = field(default_factory=Counter)
    before_since: int = 0

    @property
    def trustworthy(self) -> bool:
        return not self.corrupt_count and not self.cut_off_tail

    def problems(self) -> list[str]:
        """Why the log cannot be trusted, in sentences (none when it can)."""
        out = []
        if self.corrupt_count:
            listed = ", ".join(str(n) for n, _ in self.corrupt)
            more = self.corrupt_count - len(self.corrupt)
            out.append(
                f"{self.corrupt_count} line(s) are not JSON objects (line {listed}"
                + (f" and {more} more" if more > 0 else "")
                + "): the log is corrupt, or another program writes to it"
            )
        if self.cut_off_tail:
            out.append(
                "the last line has no newline: the log was cut off (a crash, a full disk) "
                "or is still being written; stop mockgun before the gate reads it"
            )
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "lines": self.lines,
            "corrupt_lines": self.corrupt_count,
            "corrupt": [{"line": n, "start": start} for n, start in self.corrupt],
            "cut_off_tail": self.cut_off_tail,
            "other_runs": dict(self.other_runs),
            "before_since": self.before_since,
        }


def latest_run(path: Path) -> str | None:
    """The run of the last line that names one (read from the file's tail)."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(size - _TAIL, 0))
        tail = fh.read()
    found = _RUN.findall(tail)
    return found[-1].decode() if found else None


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``15m``, ``2h``, ``1d`` ago, or an ISO 8601 / RFC 3339 moment (UTC when unzoned)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    match = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
        return now - dt.timedelta(**{unit: int(match[1])})
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a duration (30s, 15m, 2h, 1d) or a time (2026-12-03T10:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def scan_log(
    path: Path, *, run: str | None = "latest", since: dt.datetime | None = None
) -> tuple[LogScan, Iterator[dict[str, Any]]]:
    """Open ``path`` and return its scan and an iterator over the selected records.

    ``run="latest"`` reads the latest run (or every line of a log without runs); ``None``
    every run; any other value that run. The scan's counts are complete once the iterator
    is exhausted. Raises :class:`LogProblem` for a missing, unreadable or empty log.
    """
    try:
        size = path.stat().st_size
        selected = latest_run(path) if run == "latest" else run
    except FileNotFoundError:
        raise LogProblem(
            f"{path} does not exist: no handshake was logged there (is this the path, or "
            "the volume, that mockgun writes to?)"
        ) from None
    except OSError as exc:
        raise LogProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise LogProblem(f"{path} is empty: no client connected, or mockgun wrote somewhere else")
    scan = LogScan(source=str(path), run=selected)
    since_text = since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") if since else ""
    return scan, _records(path, scan, since_text)


def _records(path: Path, scan: LogScan, since: str) -> Iterator[dict[str, Any]]:
    marker = f'"run":"{scan.run}"'.encode() if scan.run else None
    for number, raw, complete in _lines(path):
        scan.lines += 1
        if not complete:
            scan.cut_off_tail = True
            continue
        if not raw.strip():
            continue
        if marker is not None and marker not in raw:
            other = _RUN.search(raw)
            if other is not None:  # another run's line: not parsed at all (speed)
                scan.other_runs[other[1].decode()] += 1
                continue
        record = _parse(raw)
        if record is None:
            scan.corrupt_count += 1
            if len(scan.corrupt) < MAX_CORRUPT_LISTED:
                scan.corrupt.append((number, raw[:60].decode("utf-8", "replace")))
            continue
        if marker is not None and record.get("run") != scan.run:
            scan.other_runs[str(record.get("run"))] += 1
            continue
        if since and str(record.get("ts", ""))[:19] < since:
            scan.before_since += 1
            continue
        yield record


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(number, line without newline, whether it ended in one), reading 1 MiB at a time."""
    number = 0
    rest = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                number += 1
                yield number, line, True
            if len(rest) > 64 * _CHUNK:  # a "line" of 64 MiB is not a log line
                number += 1
                yield number, rest[:60], True
                rest = b""
    if rest.strip():
        yield number + 1, rest, False


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
