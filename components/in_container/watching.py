"""When the indexer looks at the store (static_index.py says what it does when it looks).

With the folder's inotify watch (folder_watch.py) it looks at the files the events name, as they
come, and at the files still being written until they are complete: an upload's close is listed at
once, at any size of store. It compares the whole folder with its record at start, when the watch
lost events (its queue overflowed), and hourly in case a change escaped the watch. Without a watch it
compares the whole folder whenever the folder's mtime changes and every 30 s. It reads the store's
disk after every change and every 30 s, and writes its metrics (index_metrics.py) after every change
and every few seconds. Standard library only: it runs inside the pypiserver image
with the indexer.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

# Beside this file (see static_index.py for the two ways it is run).
if __package__:
    from . import folder_watch, index_metrics
    from .stopping import stop_point
else:
    import folder_watch  # type: ignore[import-not-found, no-redef]
    import index_metrics  # type: ignore[import-not-found, no-redef]
    from stopping import stop_point  # type: ignore[import-not-found, no-redef]

if TYPE_CHECKING:
    from .static_index import Indexer

# A full comparison costs a stat per file (about 6 s of CPU at a million files, measured with
# bench/store_scale.py): hourly, that is 0.2 % of a core. It catches what the watch cannot see (a
# change made on another host of a network volume, a missed event).
FULL_RESCAN_SECONDS = 3600.0
POLL_RESCAN_SECONDS = 30.0  # without a watch, a file rewritten in place changes no folder mtime
DISK_SECONDS = 30.0  # the disk fills from outside the store too: read it this often in any case
IDLE_SECONDS = 1.0  # with the watch and nothing being written: a yank is seen, and SIGTERM obeyed, within this


def follow(
    indexer: Indexer, watch: folder_watch.Watch, timeout: float, metrics: index_metrics.IndexMetrics | None = None
) -> int:
    """The files the watch saw change within `timeout` seconds, and those still being written: each
    looked at once, their projects' pages written (and the lag measured, into `metrics`). The pages
    written, or -1 when events were lost."""
    events = watch.read(timeout)
    indexer.closed = folder_watch.closed_files(indexer.closed, events)
    if any(mask & folder_watch.Watch.OVERFLOW for mask, _ in events):
        return -1
    # An upload arrives as a stream of writes: a file already known to be in writing needs no look
    # for each of them; its close, rename or removal is what changes the pages.
    names = {name for mask, name in events if mask != folder_watch.Watch.MODIFY or name not in indexer.pending}
    touched = indexer.refresh(sorted(names | indexer.pending), follow=False) if names or indexer.pending else set()
    written = indexer.publish(touched | indexer.yank_changes())
    if touched and metrics is not None:
        metrics.changed(indexer.packages, names)
    return written


def run(indexer: Indexer, interval: float) -> None:
    watch = folder_watch.Watch.open(indexer.packages)
    metrics = index_metrics.IndexMetrics(indexer.disk.output)
    lost = False

    def follow_meanwhile() -> None:
        nonlocal lost
        lost |= watch is not None and follow(indexer, watch, 0.0, metrics) < 0

    indexer.between = follow_meanwhile
    began = time.monotonic()
    written = indexer.scan()
    print(
        f"indexer: in step with the store: {len(indexer.projects)} projects, {written} pages written "
        f"in {time.monotonic() - began:.1f} s",
        flush=True,
    )
    indexer.disk.check()
    metrics.write(indexer, force=True)
    last_full = last_disk = time.monotonic()
    last_mtime = os.stat(indexer.packages).st_mtime_ns
    while True:
        stop_point()
        if watch is not None:  # events wake it; with nothing being written, there is little to look at
            written = follow(indexer, watch, interval if indexer.pending else max(interval, IDLE_SECONDS), metrics)
        else:
            time.sleep(interval)
            mtime = os.stat(indexer.packages).st_mtime_ns
            if mtime != last_mtime:
                last_mtime, lost = mtime, True
            touched = indexer.refresh(sorted(indexer.pending), follow=False)
            written = indexer.publish(touched | indexer.yank_changes())
        now = time.monotonic()
        rescan = FULL_RESCAN_SECONDS if watch is not None else POLL_RESCAN_SECONDS
        if written < 0 or lost or now - last_full > rescan:
            lost, written, last_full = False, indexer.scan(), now
        if written:
            print(f"indexer: {len(indexer.projects)} projects, {written} pages written", flush=True)
        if written or now - last_disk > DISK_SECONDS:
            indexer.disk.check()
            last_disk = now
        metrics.write(indexer, force=bool(written))
