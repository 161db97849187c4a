"""The store's disk as the indexer reads it (components/in_container/disk_watch.py): the pause flag the
front server answers 507 for, and the reading the health gate shows, marked with its writer."""

from __future__ import annotations

import socket

from components.in_container.disk_watch import DISK_REPORT, PAUSED_FLAG, WRITER_MARK, DiskWatch


def test_the_pause_flag_is_raised_and_cleared(tmp_path):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    output.mkdir()
    full = DiskWatch(str(packages), str(output), upload_limit=1 << 60)  # more than any disk has
    assert full.check() and "uploads need" in (output / PAUSED_FLAG).read_text()
    assert (output / DISK_REPORT).read_text().startswith("uploads paused: ")
    # Whatever this machine's disk holds, the flag follows the verdict both ways.
    roomy_paused = DiskWatch(str(packages), str(output), upload_limit=0).check()
    assert (output / PAUSED_FLAG).exists() is roomy_paused
    assert (output / DISK_REPORT).read_text().startswith("uploads paused: ") is roomy_paused


def test_the_reading_names_its_writer(tmp_path):
    """The health gate waits for the mark of the indexer it deployed: the container's host name."""
    DiskWatch(str(tmp_path), str(tmp_path)).check()
    assert (tmp_path / WRITER_MARK).read_text() == socket.gethostname() + "\n"
    assert "free of" in (tmp_path / DISK_REPORT).read_text()
