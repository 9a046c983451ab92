"""What every visitor gets alike, kept a moment per process: a ready webinar's page and its
recording's closed media playlists (their links signed).

Kept `seconds` (2 s): under load the same few pages and playlists are asked for hundreds of
times a second, and building one reads the catalog and S3. Whoever asks is still checked on
every request (the webinar's visibility, one indexed row), so a webinar made private stops
being served at once; what is kept can only be up to `seconds` behind a staff edit (and the
time of one making).

A value past its seconds is made again behind the visitors' backs: the request that finds it
old is answered with it at once and a thread makes the new one (in a copy of that request's
context), and until that is done every request gets the old one. Under load no visitor then
waits for a page to be rendered on the catalog, only the first visitor of a page not kept
yet (or of one not to be kept: a page under processing). A making that fails drops the old
value, so the next request makes it itself and meets the error.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

from flask import copy_current_request_context, current_app, has_request_context

T = TypeVar("T")

SECONDS = 2.0
SIZE = 500


class Recent:
    """A small LRU of values, each kept `seconds` from when it was made."""

    def __init__(self, seconds: float = SECONDS, size: int = SIZE, clock=time.monotonic,
                 later: Callable[[Callable[[], None]], None] | None = None):
        """`later(fn)` runs fn after the caller has its answer (web: `after_answer`); without
        it, an old value is made again by the request that finds it old."""
        self.seconds, self.size, self.clock, self.later = seconds, size, clock, later
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
        (`make` returns (value, keep)). While another thread makes it, the old value; an
        old value with `later`: the old value, and `make` runs later."""
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and (now - hit[0] < self.seconds or key in self._making):
                self._items.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
            self._making.add(key)
        if hit is not None and self.later is not None:
            try:
                self.later(lambda: self._make(key, make, dropping=True))
            except BaseException:
                with self._lock:
                    self._making.discard(key)
                raise
            return hit[1]  # type: ignore[return-value]
        return self._make(key, make)

    def _make(self, key: Hashable, make: Callable[[], tuple[T, bool]], dropping: bool = False) -> T:
        """`make` for `key`, its value kept or its old one dropped; `dropping`: the old one
        is dropped when `make` fails too (it was served meanwhile)."""
        try:
            value, keep = make()
        except BaseException:
            if dropping:
                with self._lock:
                    self._items.pop(key, None)
            raise
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


def after_answer(fn: Callable[[], None]) -> None:
    """Run `fn` in a thread of its own, in a copy of this request's context (outside a
    request: now). What it raises is logged."""
    if not has_request_context():
        fn()
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    @copy_current_request_context
    def run() -> None:
        try:
            fn()
        except Exception:
            app.logger.exception("making a kept page or playlist again failed")

    threading.Thread(target=run, name="recent-make", daemon=True).start()


def recent(name: str) -> Recent:
    """This app's Recent called `name` (one per kind of thing kept)."""
    ext = current_app.extensions
    if name not in ext:
        ext.setdefault(name, Recent(later=after_answer))
    return ext[name]
