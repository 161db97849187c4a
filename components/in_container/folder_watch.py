"""Which files of the package folder are complete: inotify on the folder (through ctypes: the indexer
has the standard library only), and the pure rule that reads its events.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct


class Watch:
    """inotify on one folder, through ctypes (the indexer has the standard library only).

    It says which files a writer has closed since it last changed them: those are complete, and
    are listed without waiting for them to settle. Linux only; `open` returns None elsewhere.
    """

    # <sys/inotify.h>
    MODIFY, ATTRIB, CLOSE_WRITE, MOVED_FROM, MOVED_TO, CREATE, DELETE = 0x2, 0x4, 0x8, 0x40, 0x80, 0x100, 0x200
    OVERFLOW = 0x4000
    EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
    # What the indexer follows: writes, closes, names coming and going, and times set (a restore or
    # `cp -p` sets a file's mtime after writing it).
    CHANGES = MODIFY | ATTRIB | CLOSE_WRITE | MOVED_FROM | MOVED_TO | CREATE | DELETE

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def open(cls, folder: str, mask: int = CHANGES) -> Watch | None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # glibc and musl (the Alpine image) alike
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0 or libc.inotify_add_watch(fd, folder.encode(), mask) < 0:
                raise OSError(ctypes.get_errno(), "inotify")
        except (OSError, AttributeError) as error:
            print(f"no inotify on {folder} ({error}): its changes are seen by listing it", flush=True)
            return None
        return cls(fd)

    def read(self, timeout: float) -> list[tuple[int, str]]:
        """The events that arrive within `timeout` seconds (none: an empty list)."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return []
        return self.drain()

    def drain(self) -> list[tuple[int, str]]:
        """The events already queued, without waiting (and so without yielding to anything else)."""
        data, events = b"", []
        with contextlib.suppress(BlockingIOError):
            while True:
                data += os.read(self.fd, 65536)
        offset = 0
        while offset + self.EVENT.size <= len(data):
            _, mask, _, length = self.EVENT.unpack_from(data, offset)
            start = offset + self.EVENT.size
            events.append((mask, data[start : start + length].rstrip(b"\0").decode("utf-8", "surrogateescape")))
            offset = start + length
        return events


def closed_files(closed: set[str], events: list[tuple[int, str]]) -> set[str]:
    """The files known complete after `events`: closed by their writer or renamed in, and not
    written to since. Pure, so the rule is tested without a kernel."""
    closed = set(closed)
    for mask, name in events:
        if mask & Watch.OVERFLOW:
            closed.clear()  # events were lost: fall back to settling for everything in flight
        elif mask & (Watch.CLOSE_WRITE | Watch.MOVED_TO):
            closed.add(name)
        elif mask & (Watch.MODIFY | Watch.CREATE | Watch.DELETE | Watch.MOVED_FROM):
            closed.discard(name)
    return closed
