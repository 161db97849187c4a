"""The indexer's series, in Prometheus's text format, written into the pages volume where the front
server serves them to the metrics credential (components/front/metrics_routes.py):
- the store: its files and their bytes (from the record), the free and total bytes of its filesystem
  and whether uploads are paused (from the disk reading);
- the indexer's lag: seconds from the last change in the store (the file's last write) to its page;
- its heartbeat: when it last went round its loop. A stopped or stuck indexer writes no more, and the
  file it leaves behind says so by its age (the PypiIndexIndexerStalled alert).
Written at most every WRITE_SECONDS (the loop wakes every second when idle). Standard library only:
it runs inside the pypiserver image with the indexer (static_index.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

# Beside this file (see static_index.py for the two ways it is run).
if __package__:
    from . import exposition, fs
else:
    import exposition  # type: ignore[import-not-found, no-redef]
    import fs  # type: ignore[import-not-found, no-redef]

if TYPE_CHECKING:
    from .static_index import Indexer

METRICS_DIR = ".metrics"  # <output>/.metrics/indexer.prom
METRICS_FILE = "indexer.prom"
# Often enough that a scrape every 15-30 s sees a fresh heartbeat; the record's totals cost one
# indexed count and sum (milliseconds at a million files).
WRITE_SECONDS = 5.0


def render(files: int, size: int, free: int, total: int, paused: bool, lag: float | None, heartbeat: float) -> str:
    """The indexer's series (pure, so every line is tested without a store)."""
    text = [
        exposition.gauge("pypi_index_store_files", "Package files in the store (those the pages list).", files),
        exposition.gauge("pypi_index_store_bytes", "Bytes of the package files in the store.", size),
        exposition.gauge("pypi_index_store_free_bytes", "Bytes free to the store on its filesystem.", free),
        exposition.gauge("pypi_index_store_size_bytes", "Size of the store's filesystem in bytes.", total),
        exposition.gauge("pypi_index_uploads_paused", "1 while uploads are paused: the disk is nearly full.", paused),
        exposition.gauge(
            "pypi_index_indexer_heartbeat_timestamp_seconds", "When the indexer last went round its loop.", heartbeat
        ),
    ]
    if lag is not None:
        text.append(
            exposition.gauge(
                "pypi_index_indexer_lag_seconds",
                "Seconds from the last change in the store (its file's last write) to its page.",
                lag,
            )
        )
    return "".join(text)


class IndexMetrics:
    def __init__(self, output: str):
        self.path = os.path.join(output, METRICS_DIR, METRICS_FILE)
        self.lag: float | None = None
        self.written = 0.0

    def changed(self, folder: str, names: Iterable[str]) -> None:
        """Pages were just written for `names`: the lag is from the newest of their last writes."""
        newest = 0.0
        for name in names:
            try:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
            except FileNotFoundError:
                continue  # removed: a removal's page has no write time to measure from
        if newest:
            self.lag = max(0.0, time.time() - newest)

    def write(self, indexer: Indexer, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.written < WRITE_SECONDS:
            return
        self.written = now
        files, size = indexer.records.totals()
        disk = indexer.disk
        text = render(files, size, disk.free, disk.total, bool(disk.paused), self.lag, time.time())
        fs.write_text(self.path, text)
