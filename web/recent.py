"""What every visitor gets alike, kept a moment per process: a ready webinar's page and its
recording's closed media playlists (their links signed).

Kept `seconds` (2 s): under load the same few pages and playlists are asked for hundreds of
times a second, and building one reads the catalog and S3. Whoever asks is still checked on
every request (the webinar's visibility, one indexed row), so a webinar made private stops
being served at once; what is kept can only be up to `seconds` behind a staff edit (and the
time of one making: while one thread makes a value again, the others are given the old one
rather than all making it at once).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

from flask import current_app

T = TypeVar("T")

SECONDS = 2.0
SIZE = 500


class Recent:
    """A small LRU of values, each kept `seconds` from when it was made."""

    def __init__(self, seconds: float = SECONDS, size: int = SIZE, clock=time.monotonic):
        self.seconds, self.size, self.clock = seconds, size, clock
        self._items: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._making: set[Hashable] = set()
        self._lock = threading.Lock()

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = (self.clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def made(self, key: Hashable, make: Callable[[], tuple[T, bool]]) -> T:
        """The kept value while fresh; else one `make` makes now, kept when it says so
        (`make` returns (value, keep)). While another thread makes it, the old value."""
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and (now - hit[0] < self.seconds or key in self._making):
                self._items.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
            self._making.add(key)
        try:
            value, keep = make()
        finally:
            with self._lock:
                self._making.discard(key)
        if keep:
            self.put(key, value)
        else:  # not to be kept (a page under processing): nobody gets the old one again
            with self._lock:
                self._items.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def recent(name: str) -> Recent:
    """This app's Recent called `name` (one per kind of thing kept)."""
    ext = current_app.extensions
    if name not in ext:
        ext.setdefault(name, Recent())
    return ext[name]
