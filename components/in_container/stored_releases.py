"""The releases in the store, as the upload guard (gunicorn_conf.py) asks about them: does the store
hold a file of this upload's release? Kept in step with the folder by its inotify events (a Watch of
folder_watch.py), so the question costs the same at a million files as at a thousand, where listing
the folder for every upload cost a second at a million files.

What is kept is 64 bits of each stored file's release (gunicorn_conf.release_key), in a sorted array:
8 bytes a file. An answer "no" is certain; "maybe" may be two releases that share 64 bits, and the
guard then lists the folder to find the other file, as it did for every upload before. Without a
watch (no inotify), every question lists the folder.

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
        self.keys = self._listed()  # after the watch was opened: nothing is missed in between

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
        self._catch_up()
        key = self._key(filename)
        at = bisect.bisect_left(self.keys, key) if key is not None else len(self.keys)
        return at < len(self.keys) and self.keys[at] == key

    def _catch_up(self) -> None:
        """The names that came and went since the last question. Never waits: the guard's check and
        its count of bytes being stored must not let another request in between (gunicorn_conf.guard)."""
        watch = self.watch
        events = watch.drain() if watch is not None else []
        if watch is None or any(mask & watch.OVERFLOW for mask, _ in events):
            self.keys = self._listed()
            return
        for mask, name in events:
            key = self._key(name)
            if key is None:
                continue
            if mask & (watch.CREATE | watch.MOVED_TO):
                bisect.insort(self.keys, key)
            elif mask & (watch.DELETE | watch.MOVED_FROM):
                at = bisect.bisect_left(self.keys, key)
                if at < len(self.keys) and self.keys[at] == key:
                    del self.keys[at]
