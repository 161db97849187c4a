"""The releases in the store, as the upload guard (gunicorn_conf.py) asks about them: does the store
hold a file of this upload's release? Kept in step with the folder by its inotify events (a Watch of
folder_watch.py), so the question costs the same at a million files as at a thousand, where listing
the folder for every upload cost a second at a million files.

What is kept is 64 bits of each stored file's release (gunicorn_conf.release_key), in a sorted array:
8 bytes a file. An answer "no" is certain; "maybe" may be two releases that share 64 bits, and the
guard then lists the folder to find the other file, as it did for every upload before. The first
listing (`build`, about 9 s at a million files here) is made off the worker's loop when it starts;
until it is done every answer is "maybe". Without a watch (no inotify), every question lists the
folder.

Standard library only: it runs in pypiserver's process, loaded from beside gunicorn's configuration.
"""

from __future__ import annotations

import array
import bisect
import os
from collections.abc import Callable, Hashable
from typing import Any


class StoredReleases:
    def __init__(self, folder: str, release_of: Callable[[str], Hashable | None], watch: Any | None):
        """`watch`: a folder_watch.Watch of `folder` for names coming and going (None: none)."""
        self.folder = folder
        self.release_of = release_of
        self.watch = watch
        self.keys: array.array | None = None
        """None until `build` is done: every answer is then "maybe"."""

    def build(self) -> None:
        """The first listing, made after the watch was opened: a name that comes or goes meanwhile is
        both listed and in the events, which can only make a later answer "maybe", never "no"."""
        self.keys = self._listed()

    def _key(self, name: str) -> int | None:
        release = self.release_of(name)
        return None if release is None else hash(release)

    def _listed(self) -> array.array:
        with os.scandir(self.folder) as entries:
            keys = [key for entry in entries if (key := self._key(entry.name)) is not None]
        keys.sort()
        return array.array("q", keys)

    def may_hold(self, filename: str) -> bool:
        """Whether the store may hold a file of `filename`'s release (if not, it certainly does not)."""
        keys = self._catch_up()
        if keys is None:
            return True
        key = self._key(filename)
        at = bisect.bisect_left(keys, key) if key is not None else len(keys)
        return at < len(keys) and keys[at] == key

    def _catch_up(self) -> array.array | None:
        """The names that came and went since the last question. Never waits: the guard's check and
        its count of bytes being stored must not let another request in between (gunicorn_conf.guard)."""
        watch, keys = self.watch, self.keys
        if watch is not None and keys is None:
            return None  # the first listing is still being made; the events wait in the queue
        events = watch.drain() if watch is not None else []
        if watch is None or keys is None or any(mask & watch.OVERFLOW for mask, _ in events):
            self.keys = self._listed()
            return self.keys
        for mask, name in events:
            key = self._key(name)
            if key is None:
                continue
            if mask & (watch.CREATE | watch.MOVED_TO):
                bisect.insort(keys, key)
            elif mask & (watch.DELETE | watch.MOVED_FROM):
                at = bisect.bisect_left(keys, key)
                if at < len(keys) and keys[at] == key:
                    del keys[at]
        return keys
