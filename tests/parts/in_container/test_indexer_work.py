"""The indexer's work is proportional to the change (issue 26): an upload reads one file and writes its
project's pages, a restart reads nothing unchanged and writes no unchanged page, a crash between the
record and the pages is made good at the next start; and the pages are the store after every kind of
change at 100,000 files, with the indexer following the folder's watch as it runs."""

from __future__ import annotations

import json
import os

import pytest

from components.in_container import fs, page_tree, static_index, watching
from components.in_container.folder_watch import Watch
from components.in_container.static_index import Indexer
from tests.support.index_client import make_wheel

from .test_static_index import _tree


@pytest.fixture(autouse=True)
def settled_at_once(monkeypatch):
    """The stores here are written just before they are indexed; only the half-written file waits."""
    monkeypatch.setattr(static_index, "SETTLE_SECONDS", 0.0)


@pytest.fixture
def counted(monkeypatch):
    """Files hashed and files written by the indexer, by name."""
    seen: dict[str, list[str]] = {"hashed": [], "written": []}
    sha256, write_bytes = fs.sha256, fs.write_bytes

    def counting_sha256(path):
        seen["hashed"].append(os.path.basename(path))
        return sha256(path)

    def counting_write(path, data):
        seen["written"].append(os.path.relpath(path, os.path.dirname(os.path.dirname(path))))
        write_bytes(path, data)

    monkeypatch.setattr(fs, "sha256", counting_sha256)
    monkeypatch.setattr(fs, "write_bytes", counting_write)
    return seen


def sdists(packages, projects: int, per_project: int = 10) -> None:
    packages.mkdir(exist_ok=True)
    for i in range(projects):
        for k in range(per_project):
            (packages / f"proj_{i:05d}-1.{k}.tar.gz").write_bytes(f"{i} {k}".encode())


def follow_until_quiet(indexer: Indexer, watch: Watch, writing: frozenset[str] = frozenset()) -> None:
    """What `run` does with the watch's events, until there are none and nothing but `writing` is
    being written."""
    while watching.follow(indexer, watch, 0.05) or indexer.pending - writing:
        pass


def watched_store(tmp_path, projects: int) -> tuple:
    """A store of `projects` x 10 sdists, indexed once, and the watch `run` would follow."""
    packages, output = tmp_path / "packages", tmp_path / "index"
    sdists(packages, projects)
    indexer = Indexer(str(packages), str(output))
    watch = Watch.open(str(packages))
    assert watch is not None, "inotify is available on Linux"
    indexer.scan()
    return packages, output, indexer, watch


def upload(packages, wheel) -> None:
    """As pypiserver stores an upload: written in place, then closed."""
    data = wheel.read_bytes()
    wheel.unlink()
    with open(packages / wheel.name, "wb") as stored:
        stored.write(data)


def test_an_upload_reads_one_file_and_writes_its_projects_pages_and_the_root_only_for_a_new_project(tmp_path, counted):
    packages, _, indexer, watch = watched_store(tmp_path, 300)
    staging = tmp_path / "staging"
    counted["hashed"].clear(), counted["written"].clear()

    upload(packages, make_wheel(staging, "proj-00007", "2.0"))
    follow_until_quiet(indexer, watch)
    assert counted["hashed"] == ["proj_00007-2.0-py3-none-any.whl"]
    assert sorted(counted["written"]) == [
        "index/.reading",  # the wheel being read, in case reading it kills the indexer
        "metadata/proj_00007-2.0-py3-none-any.whl.metadata", "proj-00007/index.html", "proj-00007/index.json",
    ]  # fmt: skip
    counted["hashed"].clear(), counted["written"].clear()

    upload(packages, make_wheel(staging, "brand-new", "1.0"))
    follow_until_quiet(indexer, watch)
    assert sorted(counted["written"]) == [
        "brand-new/index.html", "brand-new/index.json", "index/.reading",
        "metadata/brand_new-1.0-py3-none-any.whl.metadata", "simple/index.html", "simple/index.json",
    ]  # fmt: skip
    counted["written"].clear()

    (packages / "proj_00007-1.3.tar.gz").unlink()
    follow_until_quiet(indexer, watch)
    assert sorted(counted["written"]) == ["proj-00007/index.html", "proj-00007/index.json"]


def test_a_restart_reads_no_unchanged_file_and_writes_no_unchanged_page(tmp_path, counted):
    packages, output = tmp_path / "packages", tmp_path / "index"
    sdists(packages, 300)
    Indexer(str(packages), str(output)).scan()
    counted["hashed"].clear(), counted["written"].clear()
    assert Indexer(str(packages), str(output)).scan() == 0
    assert counted == {"hashed": [], "written": []}
    (packages / "proj_00001-1.0.tar.gz").write_bytes(b"replaced while it was down")
    old = (packages / "proj_00001-1.0.tar.gz").stat().st_mtime - 5
    os.utime(packages / "proj_00001-1.0.tar.gz", (old, old))
    assert Indexer(str(packages), str(output)).scan() == 1
    assert counted == {
        "hashed": ["proj_00001-1.0.tar.gz"],
        "written": ["proj-00001/index.json", "proj-00001/index.html"],
    }


def test_a_crash_after_the_record_changed_and_before_the_pages_did_is_made_good_at_the_start(tmp_path, monkeypatch):
    packages, output = tmp_path / "packages", tmp_path / "index"
    sdists(packages, 3)
    Indexer(str(packages), str(output)).scan()
    make_wheel(packages, "proj-00001", "2.0")
    (packages / "proj_00002-1.0.tar.gz").unlink()
    crashing = Indexer(str(packages), str(output))

    def killed(self, project, files, status=None):
        raise SystemExit("killed while writing the pages")

    with monkeypatch.context() as patched:
        patched.setattr(page_tree.PageTree, "write_project", killed)
        with pytest.raises(SystemExit):
            crashing.scan()
    assert crashing.records.unfinished(), "the journal says which pages may be behind the record"
    crashing.records.close()
    Indexer(str(packages), str(output)).scan()
    fresh = tmp_path / "fresh"
    Indexer(str(packages), str(fresh)).scan()
    assert _tree(output) == _tree(fresh)
    assert "proj_00001-2.0-py3-none-any.whl" in (output / "simple" / "proj-00001" / "index.html").read_text()


def test_while_every_page_is_written_the_watch_is_followed(tmp_path):
    """A first index, or the first start after new renderers, writes every page: uploads meanwhile
    are looked at between pages, not after all of them."""
    packages, output = tmp_path / "packages", tmp_path / "index"
    sdists(packages, 3000, per_project=1)
    indexer = Indexer(str(packages), str(output))
    pages_then: list[int] = []
    indexer.between = lambda: pages_then.append(len(indexer.projects))
    indexer.scan()
    assert any(0 < pages < 3000 for pages in pages_then), pages_then


def test_an_unreadable_record_is_made_again_from_the_store(tmp_path, capsys):
    packages, output = tmp_path / "packages", tmp_path / "index"
    sdists(packages, 3)
    first = Indexer(str(packages), str(output))
    first.scan()
    first.records.close()
    (output / static_index.RECORD_FILE).write_bytes(b"not what sqlite wrote" * 100)
    (packages / "proj_00001-1.0.tar.gz").unlink()
    Indexer(str(packages), str(output)).scan()
    assert "is unreadable" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    Indexer(str(packages), str(fresh)).scan()
    assert _tree(output) == _tree(fresh)


def test_new_renderers_rewrite_every_page_once_and_an_earlier_record_is_taken_over_without_reading(
    tmp_path, monkeypatch, counted
):
    packages, output = tmp_path / "packages", tmp_path / "index"
    sdists(packages, 3)
    indexer = Indexer(str(packages), str(output))
    indexer.scan()
    # An earlier indexer's record, as it left it: one JSON document.
    earlier = {name: indexer.files[name] for name in indexer.files}
    indexer.records.close()
    for record in output.glob(static_index.RECORD_FILE + "*"):
        record.unlink()
    (output / static_index.EARLIER_RECORD_FILE).write_text(json.dumps(earlier))
    counted["hashed"].clear(), counted["written"].clear()
    assert Indexer(str(packages), str(output)).scan() == 4, "every page, by the new renderers"
    assert counted["hashed"] == [] and not (output / static_index.EARLIER_RECORD_FILE).exists()
    assert Indexer(str(packages), str(output)).scan() == 0
    monkeypatch.setattr(page_tree, "makers_key", lambda statuses="": "other renderers")
    assert Indexer(str(packages), str(output)).scan() == 4


def test_at_100000_files_the_pages_are_the_store_after_every_kind_of_change(tmp_path, monkeypatch):
    """Upload, a half-written file, removal by hand and through pypiserver's API (which removes the
    files of a release), a project's last file, a yank, then changes while stopped and a restart."""
    packages, output, indexer, watch = watched_store(tmp_path, 10_000)
    staging = tmp_path / "staging"
    assert len(indexer.files) == 100_000
    monkeypatch.setattr(static_index, "SETTLE_SECONDS", 60.0)  # from now on only a close lists a file at once

    upload(packages, make_wheel(staging, "proj-00010", "2.0", requires_python=">=3.9"))
    half = open(packages / "proj_00011-2.0.tar.gz", "wb")  # noqa: SIM115 (held open across the checks)
    half.write(b"the first half")
    half.flush()
    follow_until_quiet(indexer, watch, writing=frozenset({"proj_00011-2.0.tar.gz"}))
    page = (output / "simple" / "proj-00011" / "index.json").read_text()
    assert "proj_00011-2.0.tar.gz" not in page, "a half-written file is not listed"
    half.write(b" and the rest")
    half.close()
    for name in ("proj_00012-1.0.tar.gz", "proj_00012-1.1.tar.gz"):  # by hand
        (packages / name).unlink()
    for name in packages.glob("proj_00013-1.2.*"):  # pypiserver's removal of release 1.2
        name.unlink()
    for name in packages.glob("proj_00014-*"):  # a project's last files
        name.unlink()
    yanks = json.dumps({"proj-00015": {"1.3": "broken"}})
    (output / static_index.YANKED_FILE).write_text(yanks)
    follow_until_quiet(indexer, watch)
    monkeypatch.setattr(static_index, "SETTLE_SECONDS", 0.0)  # every file is complete: a fresh index lists all
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / static_index.YANKED_FILE).write_text(yanks)  # the program writes it into every pages volume
    Indexer(str(packages), str(fresh)).scan()
    assert _tree(output) == _tree(fresh), "after the changes the indexer followed"
    assert "proj_00011-2.0.tar.gz" in (output / "simple" / "proj-00011" / "index.json").read_text()
    assert not (output / "simple" / "proj-00014").exists()

    # Stopped; meanwhile the store changes every way it can; started again.
    indexer.records.close()
    make_wheel(packages, "proj-00020", "3.0")
    (packages / "proj_00021-1.0.tar.gz").write_bytes(b"replaced")
    (packages / "proj_00022-1.0.tar.gz").unlink()
    for name in packages.glob("proj_00023-*"):
        name.unlink()
    make_wheel(packages, "new-while-down", "0.1")
    Indexer(str(packages), str(output)).scan()
    fresh_again = tmp_path / "fresh-again"
    fresh_again.mkdir()
    (fresh_again / static_index.YANKED_FILE).write_text(yanks)
    Indexer(str(packages), str(fresh_again)).scan()
    assert _tree(output) == _tree(fresh_again), "after the changes made while it was stopped"
    assert (output / "simple" / "new-while-down" / "index.html").exists()
