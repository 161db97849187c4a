"""The upload guard's view of the releases in the store (components/in_container/stored_releases.py): kept
in step by the folder's inotify events, so a check lists the folder only when the release may be there."""

from __future__ import annotations

import os

import pytest

from components.in_container import gunicorn_conf, index_rules, stored_releases
from components.in_container.folder_watch import Watch
from components.in_container.stored_releases import StoredReleases

NAMES = Watch.CREATE | Watch.DELETE | Watch.MOVED_FROM | Watch.MOVED_TO


def releases_of(folder, watch=True) -> StoredReleases:
    """As the guard makes it when the worker starts (the first listing in the background there)."""
    watching = Watch.open(str(folder), NAMES) if watch else None
    releases = StoredReleases(str(folder), lambda name: gunicorn_conf.release_key(index_rules, name), watching)
    releases.build()
    return releases


@pytest.fixture
def listings(monkeypatch):
    """How often the folder is listed."""
    count = [0]
    scandir = os.scandir

    def counting(path):
        count[0] += 1
        return scandir(path)

    monkeypatch.setattr(stored_releases.os, "scandir", counting)
    return count


def test_a_release_is_known_as_soon_as_its_file_appears_and_forgotten_when_it_goes(tmp_path, listings):
    (tmp_path / "team_tool-1.0.tar.gz").write_bytes(b"sdist")
    releases = releases_of(tmp_path)
    assert releases.may_hold("Team.Tool-1.0.tar.gz"), "another spelling of a stored release"
    assert not releases.may_hold("team_tool-1.1.tar.gz") and not releases.may_hold("team_tool-1.0-py3-none-any.whl")
    (tmp_path / "team_tool-1.1.tar.gz").write_bytes(b"written by pypiserver, or by hand")
    assert releases.may_hold("TEAM_TOOL-1.1.tar.gz")
    (tmp_path / "team_tool-1.0.tar.gz").rename(tmp_path / "notes.txt")
    assert not releases.may_hold("team_tool-1.0.tar.gz")
    (tmp_path / "team_tool-1.1.tar.gz").unlink()
    assert not releases.may_hold("team_tool-1.1.tar.gz")
    (tmp_path / "notes.txt").rename(tmp_path / "team_tool-1.0.0.tar.gz")
    assert releases.may_hold("team_tool-1.0.tar.gz"), "renamed in: 1.0.0 is the release 1.0"
    assert listings[0] == 1, "listed once, when it was made; every change since came from the watch"


def test_two_files_of_one_release_are_two_until_both_are_gone(tmp_path):
    (tmp_path / "team_tool-1.0.tar.gz").write_bytes(b"a")
    (tmp_path / "Team.Tool-1.0.tar.gz").write_bytes(b"b")  # copied in by hand: the guard never let it through
    releases = releases_of(tmp_path)
    (tmp_path / "team_tool-1.0.tar.gz").unlink()
    assert releases.may_hold("team-tool-1.0.tar.gz")
    (tmp_path / "Team.Tool-1.0.tar.gz").unlink()
    assert not releases.may_hold("team-tool-1.0.tar.gz")


def test_until_the_first_listing_is_done_every_answer_is_maybe_and_no_change_is_missed(tmp_path):
    releases = StoredReleases(
        str(tmp_path), lambda name: gunicorn_conf.release_key(index_rules, name), Watch.open(str(tmp_path), NAMES)
    )
    assert releases.may_hold("team_tool-1.0.tar.gz"), "not listed yet: the guard lists the folder itself"
    (tmp_path / "team_tool-1.0.tar.gz").write_bytes(b"stored while the first listing was being made")
    releases.build()  # listed, and in the events as well
    assert releases.may_hold("Team.Tool-1.0.tar.gz") and not releases.may_hold("other-1.0.tar.gz")
    (tmp_path / "team_tool-1.0.tar.gz").unlink()
    assert releases.may_hold("team_tool-1.0.tar.gz"), "counted twice, removed once: a 'maybe' the listing settles"


class LostEvents:
    """A watch whose queue overflowed."""

    OVERFLOW, CREATE, DELETE, MOVED_FROM, MOVED_TO = (
        Watch.OVERFLOW,
        Watch.CREATE,
        Watch.DELETE,
        Watch.MOVED_FROM,
        Watch.MOVED_TO,
    )

    def drain(self):
        return [(Watch.OVERFLOW, "")]


@pytest.mark.parametrize("watch", [None, LostEvents()], ids=["without a watch", "events lost"])
def test_without_a_watch_or_with_events_lost_it_lists_the_folder_again(tmp_path, listings, watch):
    releases = StoredReleases(str(tmp_path), lambda name: gunicorn_conf.release_key(index_rules, name), watch)
    releases.build()
    (tmp_path / "team_tool-1.0.tar.gz").write_bytes(b"sdist")
    assert releases.may_hold("team_tool-1.0.tar.gz")
    assert listings[0] == 2
