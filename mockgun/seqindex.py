"""An index entry list for things that arrive in order and leave oldest first.

Messages, events and handshake records all get an increasing sequence number and are only
ever evicted from the old end (or cleared). So each index (by domain, by recipient, by tag,
by message, ...) is a list of ``(seq, item)`` in increasing ``seq``: appending is O(1),
evicting the oldest is O(1) (a start offset, compacted now and then), and finding where
"after seq N" or "before seq N" begins is a binary search. A page then costs O(log n + what
it reads), whatever is stored.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Evicted entries tolerated at the front before the lists are compacted.
_COMPACT_AT = 1024


class SeqList(Generic[T]):
    __slots__ = ("_items", "_keys", "_start")

    def __init__(self) -> None:
        self._keys: list[int] = []
        #: Evicted entries are set to None (freed at once) until the list is compacted.
        self._items: list[Any] = []
        self._start = 0

    def __len__(self) -> int:
        return len(self._keys) - self._start

    def append(self, seq: int, item: T) -> None:
        self._keys.append(seq)
        self._items.append(item)

    def drop_through(self, seq: int) -> None:
        """Forget the entries with ``seq`` or older (the store evicted them)."""
        keys, start = self._keys, self._start
        while start < len(keys) and keys[start] <= seq:
            self._items[start] = None
            start += 1
        self._start = start
        if start >= _COMPACT_AT and start * 2 >= len(keys):
            del self._keys[:start]
            del self._items[:start]
            self._start = 0

    def first_after(self, seq: int) -> int:
        """Position of the first entry newer than ``seq``."""
        return bisect.bisect_right(self._keys, seq, lo=self._start)

    def first_at_or_after(self, seq: int) -> int:
        return bisect.bisect_left(self._keys, seq, lo=self._start)

    def first_where_at_least(self, value: float, key: Callable[[T], float]) -> int:
        """Position of the first entry whose ``key`` is at least ``value`` (keys that grow
        with ``seq``, such as arrival times)."""
        return bisect.bisect_left(self._items, value, lo=self._start, key=key)

    @property
    def start(self) -> int:
        return self._start

    @property
    def end(self) -> int:
        return len(self._keys)

    def forward(self, position: int | None = None) -> Iterator[T]:
        """Oldest first, from ``position`` (default: the oldest)."""
        items = self._items
        for index in range(max(self._start, position or 0), len(items)):
            yield items[index]

    def backward(self, *, bottom: int | None = None, top: int | None = None) -> Iterator[T]:
        """Newest first, from just below position ``top`` (default: the newest) down to
        ``bottom`` (default: the oldest)."""
        items = self._items
        high = len(items) if top is None else min(top, len(items))
        for index in range(high - 1, max(self._start, bottom or 0) - 1, -1):
            yield items[index]

    def newest(self) -> T | None:
        return self._items[-1] if len(self._keys) > self._start else None
