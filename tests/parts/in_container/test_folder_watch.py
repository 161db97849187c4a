"""Which files are complete, from the folder's inotify events (folder_watch.closed_files)."""

from __future__ import annotations

import pytest

from components.in_container import folder_watch


@pytest.mark.parametrize(
    ("events", "closed"),
    [
        ([(0x100, "a"), (0x2, "a"), (0x8, "a")], {"a"}),  # created, written, closed
        ([(0x8, "a"), (0x2, "a")], set()),  # reopened and written again: not complete
        ([(0x80, "b")], {"b"}),  # renamed into the folder: complete
        ([(0x8, "a"), (0x200, "a")], set()),  # removed
        ([(0x8, "a"), (0x4000, "")], set()),  # the queue overflowed: nothing is known complete
    ],
)
def test_closed_files_follow_the_events_in_order(events, closed):
    assert folder_watch.closed_files(set(), events) == closed
